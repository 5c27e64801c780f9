//! Scaffolding: replaced by the real implementation.
#![allow(dead_code)]
use super::*;

#[derive(Default)]
pub(crate) struct Storage;

pub(super) fn list_all_pools(_drv: &TestDriver, _flags: u32) -> Result<Vec<PoolRef>> {
    Err(Error::no_support("list_all_pools"))
}

pub(super) fn pool_lookup_by_name(_drv: &TestDriver, _name: &str) -> Result<PoolRef> {
    Err(Error::no_support("pool_lookup_by_name"))
}

pub(super) fn pool_lookup_by_uuid(_drv: &TestDriver, _uuid: &Uuid) -> Result<PoolRef> {
    Err(Error::no_support("pool_lookup_by_uuid"))
}

pub(super) fn pool_lookup_by_volume(_drv: &TestDriver, _vol: &VolRef) -> Result<PoolRef> {
    Err(Error::no_support("pool_lookup_by_volume"))
}

pub(super) fn pool_define_xml(_drv: &TestDriver, _xml: &str, _flags: u32) -> Result<PoolRef> {
    Err(Error::no_support("pool_define_xml"))
}

pub(super) fn pool_create_xml(_drv: &TestDriver, _xml: &str, _flags: u32) -> Result<PoolRef> {
    Err(Error::no_support("pool_create_xml"))
}

pub(super) fn pool_create(_drv: &TestDriver, _pool: &PoolRef, _flags: u32) -> Result<()> {
    Err(Error::no_support("pool_create"))
}

pub(super) fn pool_build(_drv: &TestDriver, _pool: &PoolRef, _flags: u32) -> Result<()> {
    Err(Error::no_support("pool_build"))
}

pub(super) fn pool_destroy(_drv: &TestDriver, _pool: &PoolRef) -> Result<()> {
    Err(Error::no_support("pool_destroy"))
}

pub(super) fn pool_delete(_drv: &TestDriver, _pool: &PoolRef, _flags: u32) -> Result<()> {
    Err(Error::no_support("pool_delete"))
}

pub(super) fn pool_undefine(_drv: &TestDriver, _pool: &PoolRef) -> Result<()> {
    Err(Error::no_support("pool_undefine"))
}

pub(super) fn pool_refresh(_drv: &TestDriver, _pool: &PoolRef, _flags: u32) -> Result<()> {
    Err(Error::no_support("pool_refresh"))
}

pub(super) fn pool_get_info(_drv: &TestDriver, _pool: &PoolRef) -> Result<PoolInfo> {
    Err(Error::no_support("pool_get_info"))
}

pub(super) fn pool_get_xml_desc(_drv: &TestDriver, _pool: &PoolRef, _flags: u32) -> Result<String> {
    Err(Error::no_support("pool_get_xml_desc"))
}

pub(super) fn pool_get_autostart(_drv: &TestDriver, _pool: &PoolRef) -> Result<bool> {
    Err(Error::no_support("pool_get_autostart"))
}

pub(super) fn pool_set_autostart(
    _drv: &TestDriver,
    _pool: &PoolRef,
    _autostart: bool,
) -> Result<()> {
    Err(Error::no_support("pool_set_autostart"))
}

pub(super) fn pool_is_active(_drv: &TestDriver, _pool: &PoolRef) -> Result<bool> {
    Err(Error::no_support("pool_is_active"))
}

pub(super) fn pool_is_persistent(_drv: &TestDriver, _pool: &PoolRef) -> Result<bool> {
    Err(Error::no_support("pool_is_persistent"))
}

pub(super) fn pool_list_all_volumes(
    _drv: &TestDriver,
    _pool: &PoolRef,
    _flags: u32,
) -> Result<Vec<VolRef>> {
    Err(Error::no_support("pool_list_all_volumes"))
}

pub(super) fn pool_num_of_volumes(_drv: &TestDriver, _pool: &PoolRef) -> Result<i32> {
    Err(Error::no_support("pool_num_of_volumes"))
}

pub(super) fn vol_lookup_by_name(
    _drv: &TestDriver,
    _pool: &PoolRef,
    _name: &str,
) -> Result<VolRef> {
    Err(Error::no_support("vol_lookup_by_name"))
}

pub(super) fn vol_lookup_by_key(_drv: &TestDriver, _key: &str) -> Result<VolRef> {
    Err(Error::no_support("vol_lookup_by_key"))
}

pub(super) fn vol_lookup_by_path(_drv: &TestDriver, _path: &str) -> Result<VolRef> {
    Err(Error::no_support("vol_lookup_by_path"))
}

pub(super) fn vol_create_xml(
    _drv: &TestDriver,
    _pool: &PoolRef,
    _xml: &str,
    _flags: u32,
) -> Result<VolRef> {
    Err(Error::no_support("vol_create_xml"))
}

pub(super) fn vol_create_xml_from(
    _drv: &TestDriver,
    _pool: &PoolRef,
    _xml: &str,
    _clone: &VolRef,
    _flags: u32,
) -> Result<VolRef> {
    Err(Error::no_support("vol_create_xml_from"))
}

pub(super) fn vol_delete(_drv: &TestDriver, _vol: &VolRef, _flags: u32) -> Result<()> {
    Err(Error::no_support("vol_delete"))
}

pub(super) fn vol_get_info(_drv: &TestDriver, _vol: &VolRef) -> Result<VolInfo> {
    Err(Error::no_support("vol_get_info"))
}

pub(super) fn vol_get_xml_desc(_drv: &TestDriver, _vol: &VolRef, _flags: u32) -> Result<String> {
    Err(Error::no_support("vol_get_xml_desc"))
}

pub(super) fn vol_get_path(_drv: &TestDriver, _vol: &VolRef) -> Result<String> {
    Err(Error::no_support("vol_get_path"))
}
