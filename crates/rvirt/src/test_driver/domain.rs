//! Scaffolding: replaced by the real implementation.
#![allow(dead_code)]
use super::*;

#[derive(Default)]
pub(crate) struct Domains;

pub(super) fn list_all_domains(_drv: &TestDriver, _flags: u32) -> Result<Vec<DomainRef>> {
    Err(Error::no_support("list_all_domains"))
}

pub(super) fn list_domain_ids(_drv: &TestDriver, _max: i32) -> Result<Vec<i32>> {
    Err(Error::no_support("list_domain_ids"))
}

pub(super) fn num_of_domains(_drv: &TestDriver) -> Result<i32> {
    Err(Error::no_support("num_of_domains"))
}

pub(super) fn list_defined_domains(_drv: &TestDriver, _max: i32) -> Result<Vec<String>> {
    Err(Error::no_support("list_defined_domains"))
}

pub(super) fn num_of_defined_domains(_drv: &TestDriver) -> Result<i32> {
    Err(Error::no_support("num_of_defined_domains"))
}

pub(super) fn domain_lookup_by_id(_drv: &TestDriver, _id: i32) -> Result<DomainRef> {
    Err(Error::no_support("domain_lookup_by_id"))
}

pub(super) fn domain_lookup_by_name(_drv: &TestDriver, _name: &str) -> Result<DomainRef> {
    Err(Error::no_support("domain_lookup_by_name"))
}

pub(super) fn domain_lookup_by_uuid(_drv: &TestDriver, _uuid: &Uuid) -> Result<DomainRef> {
    Err(Error::no_support("domain_lookup_by_uuid"))
}

pub(super) fn domain_define_xml(_drv: &TestDriver, _xml: &str, _flags: u32) -> Result<DomainRef> {
    Err(Error::no_support("domain_define_xml"))
}

pub(super) fn domain_undefine(_drv: &TestDriver, _dom: &DomainRef, _flags: u32) -> Result<()> {
    Err(Error::no_support("domain_undefine"))
}

pub(super) fn domain_create(_drv: &TestDriver, _dom: &DomainRef, _flags: u32) -> Result<DomainRef> {
    Err(Error::no_support("domain_create"))
}

pub(super) fn domain_create_xml(_drv: &TestDriver, _xml: &str, _flags: u32) -> Result<DomainRef> {
    Err(Error::no_support("domain_create_xml"))
}

pub(super) fn domain_destroy(_drv: &TestDriver, _dom: &DomainRef, _flags: u32) -> Result<()> {
    Err(Error::no_support("domain_destroy"))
}

pub(super) fn domain_shutdown(_drv: &TestDriver, _dom: &DomainRef, _flags: u32) -> Result<()> {
    Err(Error::no_support("domain_shutdown"))
}

pub(super) fn domain_reboot(_drv: &TestDriver, _dom: &DomainRef, _flags: u32) -> Result<()> {
    Err(Error::no_support("domain_reboot"))
}

pub(super) fn domain_reset(_drv: &TestDriver, _dom: &DomainRef, _flags: u32) -> Result<()> {
    Err(Error::no_support("domain_reset"))
}

pub(super) fn domain_suspend(_drv: &TestDriver, _dom: &DomainRef) -> Result<()> {
    Err(Error::no_support("domain_suspend"))
}

pub(super) fn domain_resume(_drv: &TestDriver, _dom: &DomainRef) -> Result<()> {
    Err(Error::no_support("domain_resume"))
}

pub(super) fn domain_get_info(_drv: &TestDriver, _dom: &DomainRef) -> Result<DomainInfo> {
    Err(Error::no_support("domain_get_info"))
}

pub(super) fn domain_get_state(
    _drv: &TestDriver,
    _dom: &DomainRef,
    _flags: u32,
) -> Result<(i32, i32)> {
    Err(Error::no_support("domain_get_state"))
}

pub(super) fn domain_get_xml_desc(
    _drv: &TestDriver,
    _dom: &DomainRef,
    _flags: u32,
) -> Result<String> {
    Err(Error::no_support("domain_get_xml_desc"))
}

pub(super) fn domain_get_autostart(_drv: &TestDriver, _dom: &DomainRef) -> Result<bool> {
    Err(Error::no_support("domain_get_autostart"))
}

pub(super) fn domain_set_autostart(
    _drv: &TestDriver,
    _dom: &DomainRef,
    _autostart: bool,
) -> Result<()> {
    Err(Error::no_support("domain_set_autostart"))
}

pub(super) fn domain_get_os_type(_drv: &TestDriver, _dom: &DomainRef) -> Result<String> {
    Err(Error::no_support("domain_get_os_type"))
}

pub(super) fn domain_get_max_memory(_drv: &TestDriver, _dom: &DomainRef) -> Result<u64> {
    Err(Error::no_support("domain_get_max_memory"))
}

pub(super) fn domain_get_vcpus_flags(
    _drv: &TestDriver,
    _dom: &DomainRef,
    _flags: u32,
) -> Result<i32> {
    Err(Error::no_support("domain_get_vcpus_flags"))
}

pub(super) fn domain_is_active(_drv: &TestDriver, _dom: &DomainRef) -> Result<bool> {
    Err(Error::no_support("domain_is_active"))
}

pub(super) fn domain_is_persistent(_drv: &TestDriver, _dom: &DomainRef) -> Result<bool> {
    Err(Error::no_support("domain_is_persistent"))
}

pub(super) fn domain_is_updated(_drv: &TestDriver, _dom: &DomainRef) -> Result<bool> {
    Err(Error::no_support("domain_is_updated"))
}

pub(super) fn domain_has_managed_save_image(
    _drv: &TestDriver,
    _dom: &DomainRef,
    _flags: u32,
) -> Result<bool> {
    Err(Error::no_support("domain_has_managed_save_image"))
}

pub(super) fn domain_get_security_label_list(
    _drv: &TestDriver,
    _dom: &DomainRef,
) -> Result<Vec<SecurityLabel>> {
    Err(Error::no_support("domain_get_security_label_list"))
}
