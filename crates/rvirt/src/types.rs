//! Plain data exchanged through the driver interface: object identities, info structs, state
//! numbers, flags and events. Numbers are libvirt's, so they cross the wire unchanged.

pub use rvirt_proto::remote::{
    NonnullDomain as DomainRef, NonnullNetwork as NetworkRef, NonnullStoragePool as PoolRef,
    NonnullStorageVol as VolRef, Uuid,
};

/// Formats a UUID the way libvirt prints it (`6695eb01-f6a4-8304-79aa-97f2502e193f`).
pub fn uuid_to_string(u: &Uuid) -> String {
    let b = &u.0;
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
        b[14], b[15]
    )
}

/// Parses a UUID as libvirt's `virUUIDParse` does: 32 hex digits, dashes anywhere between pairs,
/// surrounding blanks allowed.
pub fn uuid_parse(s: &str) -> Option<Uuid> {
    let s = s.trim();
    let mut out = [0u8; 16];
    let mut n = 0;
    let mut chars = s.chars().peekable();
    while n < 16 {
        while chars.peek() == Some(&'-') {
            chars.next();
        }
        let hi = chars.next()?.to_digit(16)?;
        let lo = chars.next()?.to_digit(16)?;
        out[n] = (hi * 16 + lo) as u8;
        n += 1;
    }
    if chars.next().is_some() {
        return None;
    }
    Some(rvirt_proto::xdr::FixedOpaque(out))
}

/// A random (version 4) UUID, as libvirt generates for objects defined without one.
pub fn uuid_generate() -> Uuid {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    rvirt_proto::xdr::FixedOpaque(b)
}

/// `virNodeInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeInfo {
    /// CPU model (at most 31 bytes).
    pub model: String,
    /// Memory in KiB.
    pub memory: u64,
    /// Active CPUs.
    pub cpus: u32,
    /// CPU frequency in MHz.
    pub mhz: u32,
    /// NUMA cells.
    pub nodes: u32,
    /// Sockets per node.
    pub sockets: u32,
    /// Cores per socket.
    pub cores: u32,
    /// Threads per core.
    pub threads: u32,
}

/// `virDomainInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DomainInfo {
    /// A [`domain_state`] value.
    pub state: u8,
    /// Maximum memory in KiB.
    pub max_mem: u64,
    /// Current memory in KiB.
    pub memory: u64,
    /// Virtual CPUs.
    pub nr_virt_cpu: u16,
    /// CPU time used, in nanoseconds.
    pub cpu_time: u64,
}

/// `virSecurityModel`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityModel {
    /// Model name ("selinux", "dac", "testSecurity", or empty).
    pub model: String,
    /// Domain of interpretation.
    pub doi: String,
}

/// `virSecurityLabel`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityLabel {
    /// The label.
    pub label: String,
    /// Whether it is enforced.
    pub enforcing: bool,
}

/// `virStoragePoolInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolInfo {
    /// A [`pool_state`] value.
    pub state: u8,
    /// Capacity in bytes.
    pub capacity: u64,
    /// Allocation in bytes.
    pub allocation: u64,
    /// Free space in bytes.
    pub available: u64,
}

/// `virStorageVolInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VolInfo {
    /// A [`vol_type`] value.
    pub type_: i8,
    /// Capacity in bytes.
    pub capacity: u64,
    /// Allocation in bytes.
    pub allocation: u64,
}

/// `virDomainState`.
#[allow(missing_docs)]
pub mod domain_state {
    pub const NOSTATE: u8 = 0;
    pub const RUNNING: u8 = 1;
    pub const BLOCKED: u8 = 2;
    pub const PAUSED: u8 = 3;
    pub const SHUTDOWN: u8 = 4;
    pub const SHUTOFF: u8 = 5;
    pub const CRASHED: u8 = 6;
    pub const PMSUSPENDED: u8 = 7;
}

/// State reasons returned with a [`domain_state`] (`virDomainRunningReason`,
/// `virDomainPausedReason`, `virDomainShutoffReason`; each state numbers its own reasons).
#[allow(missing_docs)]
pub mod state_reason {
    pub const UNKNOWN: i32 = 0;
    pub const RUNNING_BOOTED: i32 = 1;
    pub const RUNNING_UNPAUSED: i32 = 5;
    pub const PAUSED_USER: i32 = 1;
    pub const SHUTOFF_SHUTDOWN: i32 = 1;
    pub const SHUTOFF_DESTROYED: i32 = 2;
    pub const SHUTOFF_CRASHED: i32 = 3;
}

/// Lifecycle event details (`virDomainEvent*DetailType`), numbered per [`lifecycle`] event.
#[allow(missing_docs)]
pub mod event_detail {
    pub const DEFINED_ADDED: i32 = 0;
    pub const DEFINED_UPDATED: i32 = 1;
    pub const UNDEFINED_REMOVED: i32 = 0;
    pub const STARTED_BOOTED: i32 = 0;
    pub const SUSPENDED_PAUSED: i32 = 0;
    pub const RESUMED_UNPAUSED: i32 = 0;
    pub const STOPPED_SHUTDOWN: i32 = 0;
    pub const STOPPED_DESTROYED: i32 = 1;
    pub const STOPPED_CRASHED: i32 = 2;
    pub const SHUTDOWN_FINISHED: i32 = 0;
    pub const SHUTDOWN_GUEST: i32 = 1;
    pub const SHUTDOWN_HOST: i32 = 2;
}

/// `virStoragePoolState`.
#[allow(missing_docs)]
pub mod pool_state {
    pub const INACTIVE: u8 = 0;
    pub const BUILDING: u8 = 1;
    pub const RUNNING: u8 = 2;
    pub const DEGRADED: u8 = 3;
    pub const INACCESSIBLE: u8 = 4;
}

/// `virStorageVolType`.
#[allow(missing_docs)]
pub mod vol_type {
    pub const FILE: i8 = 0;
    pub const BLOCK: i8 = 1;
    pub const DIR: i8 = 2;
    pub const NETWORK: i8 = 3;
    pub const NETDIR: i8 = 4;
    pub const PLOOP: i8 = 5;
}

/// `virConnectListAllDomainsFlags`.
#[allow(missing_docs)]
pub mod list_domains {
    pub const ACTIVE: u32 = 1 << 0;
    pub const INACTIVE: u32 = 1 << 1;
    pub const PERSISTENT: u32 = 1 << 2;
    pub const TRANSIENT: u32 = 1 << 3;
    pub const RUNNING: u32 = 1 << 4;
    pub const PAUSED: u32 = 1 << 5;
    pub const SHUTOFF: u32 = 1 << 6;
    pub const OTHER: u32 = 1 << 7;
    pub const MANAGEDSAVE: u32 = 1 << 8;
    pub const NO_MANAGEDSAVE: u32 = 1 << 9;
    pub const AUTOSTART: u32 = 1 << 10;
    pub const NO_AUTOSTART: u32 = 1 << 11;
    pub const HAS_SNAPSHOT: u32 = 1 << 12;
    pub const NO_SNAPSHOT: u32 = 1 << 13;
    pub const HAS_CHECKPOINT: u32 = 1 << 14;
    pub const NO_CHECKPOINT: u32 = 1 << 15;
}

/// `virConnectListAllNetworksFlags`.
#[allow(missing_docs)]
pub mod list_networks {
    pub const INACTIVE: u32 = 1 << 0;
    pub const ACTIVE: u32 = 1 << 1;
    pub const PERSISTENT: u32 = 1 << 2;
    pub const TRANSIENT: u32 = 1 << 3;
    pub const AUTOSTART: u32 = 1 << 4;
    pub const NO_AUTOSTART: u32 = 1 << 5;
}

/// `virConnectListAllStoragePoolsFlags` (state/persistence/autostart bits; the rest select pool
/// types, `1 << 6` = dir onwards).
#[allow(missing_docs)]
pub mod list_pools {
    pub const INACTIVE: u32 = 1 << 0;
    pub const ACTIVE: u32 = 1 << 1;
    pub const PERSISTENT: u32 = 1 << 2;
    pub const TRANSIENT: u32 = 1 << 3;
    pub const AUTOSTART: u32 = 1 << 4;
    pub const NO_AUTOSTART: u32 = 1 << 5;
    pub const DIR: u32 = 1 << 6;
}

/// `virDomainXMLFlags` and define/undefine flags used by the drivers.
#[allow(missing_docs)]
pub mod domain_flags {
    pub const XML_SECURE: u32 = 1 << 0;
    pub const XML_INACTIVE: u32 = 1 << 1;
    pub const XML_UPDATE_CPU: u32 = 1 << 2;
    pub const XML_MIGRATABLE: u32 = 1 << 3;
    pub const DEFINE_VALIDATE: u32 = 1 << 0;
    pub const START_PAUSED: u32 = 1 << 0;
    pub const START_AUTODESTROY: u32 = 1 << 1;
    pub const START_BYPASS_CACHE: u32 = 1 << 2;
    pub const START_FORCE_BOOT: u32 = 1 << 3;
    pub const START_VALIDATE: u32 = 1 << 4;
    pub const UNDEFINE_MANAGED_SAVE: u32 = 1 << 0;
    pub const UNDEFINE_SNAPSHOTS_METADATA: u32 = 1 << 1;
    pub const UNDEFINE_NVRAM: u32 = 1 << 2;
    pub const UNDEFINE_KEEP_NVRAM: u32 = 1 << 3;
    pub const UNDEFINE_CHECKPOINTS_METADATA: u32 = 1 << 4;
    pub const UNDEFINE_TPM: u32 = 1 << 5;
    pub const UNDEFINE_KEEP_TPM: u32 = 1 << 6;
}

/// `virDomainEventType` (lifecycle `event` values).
#[allow(missing_docs)]
pub mod lifecycle {
    pub const DEFINED: i32 = 0;
    pub const UNDEFINED: i32 = 1;
    pub const STARTED: i32 = 2;
    pub const SUSPENDED: i32 = 3;
    pub const RESUMED: i32 = 4;
    pub const STOPPED: i32 = 5;
    pub const SHUTDOWN: i32 = 6;
    pub const PMSUSPENDED: i32 = 7;
    pub const CRASHED: i32 = 8;
}

/// `virDomainEventID` values rvirt delivers.
#[allow(missing_docs)]
pub mod event_id {
    pub const LIFECYCLE: i32 = 0;
    pub const REBOOT: i32 = 1;
}

/// A kind of event a client can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// [`Event::DomainLifecycle`].
    DomainLifecycle,
    /// [`Event::DomainReboot`].
    DomainReboot,
    /// [`Event::NetworkLifecycle`].
    NetworkLifecycle,
    /// [`Event::PoolLifecycle`].
    PoolLifecycle,
    /// [`Event::PoolRefresh`].
    PoolRefresh,
}

impl Event {
    /// The kind of this event.
    pub fn kind(&self) -> EventKind {
        match self {
            Event::DomainLifecycle { .. } => EventKind::DomainLifecycle,
            Event::DomainReboot { .. } => EventKind::DomainReboot,
            Event::NetworkLifecycle { .. } => EventKind::NetworkLifecycle,
            Event::PoolLifecycle { .. } => EventKind::PoolLifecycle,
            Event::PoolRefresh { .. } => EventKind::PoolRefresh,
        }
    }
}

/// An event raised by a driver. Each carries the object's identity at the time of the event.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Domain lifecycle (`VIR_DOMAIN_EVENT_ID_LIFECYCLE`): [`lifecycle`] event and its detail.
    DomainLifecycle {
        /// The domain.
        dom: DomainRef,
        /// Event type.
        event: i32,
        /// Event detail.
        detail: i32,
    },
    /// The guest rebooted (`VIR_DOMAIN_EVENT_ID_REBOOT`).
    DomainReboot {
        /// The domain.
        dom: DomainRef,
    },
    /// Network lifecycle (`VIR_NETWORK_EVENT_ID_LIFECYCLE`).
    NetworkLifecycle {
        /// The network.
        net: NetworkRef,
        /// Event type (defined 0, undefined 1, started 2, stopped 3).
        event: i32,
        /// Event detail.
        detail: i32,
    },
    /// Storage pool lifecycle (`VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE`).
    PoolLifecycle {
        /// The pool.
        pool: PoolRef,
        /// Event type (defined 0, undefined 1, started 2, stopped 3, created 4, deleted 5).
        event: i32,
        /// Event detail.
        detail: i32,
    },
    /// Storage pool refreshed (`VIR_STORAGE_POOL_EVENT_ID_REFRESH`).
    PoolRefresh {
        /// The pool.
        pool: PoolRef,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_text_round_trip() {
        let s = "6695eb01-f6a4-8304-79aa-97f2502e193f";
        let u = uuid_parse(s).unwrap();
        assert_eq!(uuid_to_string(&u), s);
        assert_eq!(uuid_parse("6695eb01f6a4830479aa97f2502e193f"), Some(u));
        assert!(uuid_parse("6695eb01-f6a4-8304-79aa-97f2502e193").is_none());
        assert!(uuid_parse("6695eb01-f6a4-8304-79aa-97f2502e193fa").is_none());
        let g = uuid_generate();
        assert_eq!(g.0[6] >> 4, 4);
        assert_ne!(g, uuid_generate());
    }
}
