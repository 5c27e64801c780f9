//! Scaffolding: replaced by the real implementation.
