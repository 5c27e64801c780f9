//! `<shmem>`: inter-VM shared memory (ivshmem) devices (`virDomainShmemDefParseXML`,
//! `virDomainShmemDefFormat`, `virDomainShmemDefValidate`).

use super::super::buf::Buf;
use super::super::xml::{
    first, parse_scaled, prop, prop_enum, prop_on_off, prop_uint, unsupported, xattr, xml_enum,
    xml_error, xstring, Node, Result,
};
use super::{format_info, parse_info, DeviceInfo};

xml_enum! {
    /// `virDomainShmemModel`.
    pub enum ShmemModel { Ivshmem = "ivshmem", IvshmemPlain = "ivshmem-plain", IvshmemDoorbell = "ivshmem-doorbell" }
}

xml_enum! {
    /// `virDomainShmemRole`.
    pub enum ShmemRole { Default = "default", Master = "master", Peer = "peer" }
}

/// A `<shmem>` (`virDomainShmemDef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shmem {
    /// `name=`.
    pub name: String,
    /// `<model type>`.
    pub model: ShmemModel,
    /// `role=`.
    pub role: Option<ShmemRole>,
    /// `<size>` in bytes.
    pub size: u64,
    /// `<server path>`: `Some` when a server is used.
    pub server: Option<Option<String>>,
    /// `<msi vectors ioeventfd>`.
    pub msi: Option<(u32, Option<bool>)>,
    /// Address and alias.
    pub info: DeviceInfo,
}

/// `virDomainShmemDefParseXML`.
pub(super) fn parse(n: Node) -> Result<Shmem> {
    let model = match first(n, "model") {
        Some(m) => prop_enum(&m, "type", false)?.unwrap_or(ShmemModel::Ivshmem),
        None => ShmemModel::Ivshmem,
    };
    let Some(name) = prop(&n, "name") else {
        return Err(xml_error("shmem element must contain 'name' attribute"));
    };
    let role = if model != ShmemModel::Ivshmem {
        prop_enum(&n, "role", true)?
    } else {
        None
    };
    let size = parse_scaled(
        xstring(n, "size"),
        xattr(n, "size", "unit"),
        "./size[1]",
        1,
        u64::MAX,
        false,
    )?
    .unwrap_or(0);
    let server =
        first(n, "server").map(|s| prop(&s, "path").map(|p| crate::conf::sanitize_path(&p)));
    let msi = match first(n, "msi") {
        None => None,
        Some(m) => Some((
            prop_uint(&m, "vectors", 0, false)?.unwrap_or(0),
            prop_on_off(&m, "ioeventfd")?,
        )),
    };
    if msi.is_some() && server.is_none() {
        return Err(xml_error("msi option is only supported with a server"));
    }
    Ok(Shmem {
        name,
        model,
        role,
        size,
        server,
        msi,
        info: parse_info(n, false)?,
    })
}

/// `virDomainShmemDefFormat`.
pub(super) fn format(b: &mut Buf, s: &Shmem) {
    b.esc("<shmem name='%s'", Some(&s.name));
    if let Some(r) = s.role.filter(|r| *r != ShmemRole::Default) {
        b.add(&format!(" role='{}'", r.as_str()));
    }
    b.add(">\n");
    b.adjust(2);
    b.add(&format!("<model type='{}'/>\n", s.model.as_str()));
    if s.size != 0 {
        b.add(&format!("<size unit='M'>{}</size>\n", s.size >> 20));
    }
    if let Some(p) = &s.server {
        b.add("<server");
        b.esc(" path='%s'", p.as_deref());
        b.add("/>\n");
    }
    if let Some((v, io)) = s.msi {
        b.add("<msi");
        if v != 0 {
            b.add(&format!(" vectors='{v}'"));
        }
        if let Some(io) = io {
            b.add(&format!(" ioeventfd='{}'", super::super::xml::on_off(io)));
        }
        b.add("/>\n");
    }
    format_info(b, &s.info, false);
    b.adjust(-2);
    b.add("</shmem>\n");
}

/// `virDomainShmemDefValidate`.
pub(crate) fn validate(s: &Shmem) -> Result<()> {
    if s.name.contains('/') {
        return Err(unsupported("shmem name cannot include '/' character"));
    }
    if s.name == "." {
        return Err(unsupported("shmem name cannot be equal to '.'"));
    }
    if s.name == ".." {
        return Err(unsupported("shmem name cannot be equal to '..'"));
    }
    Ok(())
}
