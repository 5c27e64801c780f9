//! Scaffolding: replaced by the real implementation.
#![allow(dead_code)]
use super::*;

#[derive(Default)]
pub(crate) struct Networks;

pub(super) fn list_all_networks(_drv: &TestDriver, _flags: u32) -> Result<Vec<NetworkRef>> {
    Err(Error::no_support("list_all_networks"))
}

pub(super) fn network_lookup_by_name(_drv: &TestDriver, _name: &str) -> Result<NetworkRef> {
    Err(Error::no_support("network_lookup_by_name"))
}

pub(super) fn network_lookup_by_uuid(_drv: &TestDriver, _uuid: &Uuid) -> Result<NetworkRef> {
    Err(Error::no_support("network_lookup_by_uuid"))
}

pub(super) fn network_define_xml(_drv: &TestDriver, _xml: &str, _flags: u32) -> Result<NetworkRef> {
    Err(Error::no_support("network_define_xml"))
}

pub(super) fn network_create_xml(_drv: &TestDriver, _xml: &str, _flags: u32) -> Result<NetworkRef> {
    Err(Error::no_support("network_create_xml"))
}

pub(super) fn network_create(_drv: &TestDriver, _net: &NetworkRef) -> Result<()> {
    Err(Error::no_support("network_create"))
}

pub(super) fn network_destroy(_drv: &TestDriver, _net: &NetworkRef) -> Result<()> {
    Err(Error::no_support("network_destroy"))
}

pub(super) fn network_undefine(_drv: &TestDriver, _net: &NetworkRef) -> Result<()> {
    Err(Error::no_support("network_undefine"))
}

pub(super) fn network_get_xml_desc(
    _drv: &TestDriver,
    _net: &NetworkRef,
    _flags: u32,
) -> Result<String> {
    Err(Error::no_support("network_get_xml_desc"))
}

pub(super) fn network_get_autostart(_drv: &TestDriver, _net: &NetworkRef) -> Result<bool> {
    Err(Error::no_support("network_get_autostart"))
}

pub(super) fn network_set_autostart(
    _drv: &TestDriver,
    _net: &NetworkRef,
    _autostart: bool,
) -> Result<()> {
    Err(Error::no_support("network_set_autostart"))
}

pub(super) fn network_is_active(_drv: &TestDriver, _net: &NetworkRef) -> Result<bool> {
    Err(Error::no_support("network_is_active"))
}

pub(super) fn network_is_persistent(_drv: &TestDriver, _net: &NetworkRef) -> Result<bool> {
    Err(Error::no_support("network_is_persistent"))
}

pub(super) fn network_get_bridge_name(_drv: &TestDriver, _net: &NetworkRef) -> Result<String> {
    Err(Error::no_support("network_get_bridge_name"))
}
