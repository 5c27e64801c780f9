//! Scaffolding: replaced by the real implementation.
#![allow(dead_code)]
use super::*;

#[derive(Default)]
pub(crate) struct Host;

pub(super) fn default_state() -> Result<State> {
    Err(Error::no_support("test:///default"))
}

pub(super) fn load_node_file(_path: &str, _auth: Option<&Auth>) -> Result<State> {
    Err(Error::no_support("test:///path"))
}

pub(super) fn connect_get_type(_drv: &TestDriver) -> Result<String> {
    Err(Error::no_support("connect_get_type"))
}

pub(super) fn connect_get_version(_drv: &TestDriver) -> Result<u64> {
    Err(Error::no_support("connect_get_version"))
}

pub(super) fn connect_get_hostname(_drv: &TestDriver) -> Result<String> {
    Err(Error::no_support("connect_get_hostname"))
}

pub(super) fn connect_get_uri(_drv: &TestDriver) -> Result<String> {
    Err(Error::no_support("connect_get_uri"))
}

pub(super) fn connect_get_capabilities(_drv: &TestDriver) -> Result<String> {
    Err(Error::no_support("connect_get_capabilities"))
}

pub(super) fn connect_get_sysinfo(_drv: &TestDriver, _flags: u32) -> Result<String> {
    Err(Error::no_support("connect_get_sysinfo"))
}

pub(super) fn connect_get_max_vcpus(_drv: &TestDriver, _type_: Option<&str>) -> Result<i32> {
    Err(Error::no_support("connect_get_max_vcpus"))
}

pub(super) fn node_get_info(_drv: &TestDriver) -> Result<NodeInfo> {
    Err(Error::no_support("node_get_info"))
}

pub(super) fn node_get_free_memory(_drv: &TestDriver) -> Result<u64> {
    Err(Error::no_support("node_get_free_memory"))
}

pub(super) fn node_get_security_model(_drv: &TestDriver) -> Result<SecurityModel> {
    Err(Error::no_support("node_get_security_model"))
}

pub(super) fn connect_supports_feature(_drv: &TestDriver, _feature: i32) -> Result<bool> {
    Err(Error::no_support("connect_supports_feature"))
}
