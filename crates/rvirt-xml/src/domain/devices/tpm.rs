//! `<tpm>`: TPM devices with passthrough, emulator (swtpm) or external backends
//! (`virDomainTPMDefParseXML`, `virDomainTPMDefFormat`, `virDomainTPMDevValidate`).

use super::super::buf::Buf;
use super::super::xml::{
    children, first, internal, prop, prop_enum, prop_enum_required, unsupported, uuid_format,
    uuid_parse, xattr, xml_enum, xml_error, Node, Result, XmlEnum,
};
use super::chr::{self, ChrSource, ChrSourceType};
use super::{format_info, parse_info, DeviceInfo};

xml_enum! {
    /// `virDomainTPMModel`.
    pub enum TpmModel {
        Default = "default", Tis = "tpm-tis", Crb = "tpm-crb", Spapr = "tpm-spapr",
        SpaprProxy = "spapr-tpm-proxy",
    }
}

xml_enum! {
    /// `virDomainTPMBackendType`.
    pub enum TpmBackendType { Passthrough = "passthrough", Emulator = "emulator", External = "external" }
}

xml_enum! {
    /// `virDomainTPMVersion`.
    pub enum TpmVersion { Default = "default", V12 = "1.2", V20 = "2.0" }
}

xml_enum! {
    /// `virDomainTPMPcrBank`.
    pub enum PcrBank { Sha1 = "sha1", Sha256 = "sha256", Sha384 = "sha384", Sha512 = "sha512" }
}

/// The TPM backend.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum TpmBackend {
    /// `type='passthrough'`: the host device path.
    Passthrough(String),
    /// `type='emulator'`.
    Emulator {
        /// `version=`.
        version: Option<TpmVersion>,
        /// `persistent_state='yes'`.
        persistent_state: bool,
        /// `<encryption secret>`.
        secret: Option<[u8; 16]>,
        /// `<active_pcr_banks>` (bank indexes, ascending), `None` when absent.
        pcr_banks: Option<Vec<usize>>,
    },
    /// `type='external'`: the socket.
    External(ChrSource),
}

/// A `<tpm>` (`virDomainTPMDef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tpm {
    /// `model=`.
    pub model: Option<TpmModel>,
    /// `<backend>`.
    pub backend: TpmBackend,
    /// Address and alias.
    pub info: DeviceInfo,
}

/// `virDomainTPMDefParseXML`.
pub(super) fn parse(n: Node) -> Result<Tpm> {
    let model = prop_enum(&n, "model", true)?;
    let backends: Vec<_> = children(n, "backend").collect();
    if backends.len() > 1 {
        return Err(xml_error("only one TPM backend is supported"));
    }
    let Some(be) = backends.first().copied() else {
        return Err(xml_error("missing TPM device backend"));
    };
    let t: TpmBackendType = prop_enum_required(&be, "type", false)?;
    let backend = match t {
        TpmBackendType::Passthrough => TpmBackend::Passthrough(
            xattr(n, "backend/device", "path").unwrap_or_else(|| "/dev/tpm0".into()),
        ),
        TpmBackendType::Emulator => {
            let version = prop_enum(&be, "version", true)?;
            let secret = match xattr(n, "backend/encryption", "secret") {
                None => None,
                Some(u) => Some(
                    uuid_parse(&u)
                        .ok_or_else(|| internal(format!("Unable to parse secret uuid '{u}'")))?,
                ),
            };
            let persistent_state = match prop(&be, "persistent_state").as_deref() {
                None | Some("no") => false,
                Some("yes") => true,
                Some(_) => {
                    return Err(internal(
                        "Invalid persistent_state value, either 'yes' or 'no'",
                    ))
                }
            };
            let mut pcr_banks = None;
            if let Some(banks) = first(be, "active_pcr_banks") {
                let mut v: Vec<usize> = Vec::new();
                for b in banks.children().filter(|c| c.is_element()) {
                    let name = b.tag_name().name();
                    let idx = PcrBank::parse(name)
                        .ok_or_else(|| unsupported(format!("Unsupported PCR banks '{name}'")))?
                        .index();
                    if !v.contains(&idx) {
                        v.push(idx);
                    }
                }
                v.sort_unstable();
                if !v.is_empty() {
                    pcr_banks = Some(v);
                }
            }
            TpmBackend::Emulator {
                version,
                persistent_state,
                secret,
                pcr_banks,
            }
        }
        TpmBackendType::External => {
            let Some(st) = xattr(n, "backend/source", "type") else {
                return Err(xml_error("missing external TPM backend type"));
            };
            let st = ChrSourceType::parse(&st).ok_or_else(|| {
                unsupported(format!("unknown backend type '{st}' for external TPM"))
            })?;
            let mut src = ChrSource::new(st);
            chr::parse_source(be, &mut src, false)?;
            TpmBackend::External(src)
        }
    };
    Ok(Tpm {
        model,
        backend,
        info: parse_info(n, false)?,
    })
}

/// `virDomainTPMDefFormat`.
pub(super) fn format(b: &mut Buf, t: &Tpm) {
    let mut a = Buf::new();
    let mut k = b.child();
    if let Some(m) = t.model.filter(|m| *m != TpmModel::Default) {
        a.add(&format!(" model='{}'", m.as_str()));
    }
    let mut ba = Buf::new();
    let mut bk = k.child();
    match &t.backend {
        TpmBackend::Passthrough(p) => {
            ba.add(" type='passthrough'");
            bk.esc("<device path='%s'/>\n", Some(p));
        }
        TpmBackend::Emulator {
            version,
            persistent_state,
            secret,
            pcr_banks,
        } => {
            ba.add(" type='emulator'");
            if let Some(v) = version.filter(|v| *v != TpmVersion::Default) {
                ba.add(&format!(" version='{}'", v.as_str()));
            }
            if *persistent_state {
                ba.add(" persistent_state='yes'");
            }
            if let Some(s) = secret {
                bk.add(&format!("<encryption secret='{}'/>\n", uuid_format(s)));
            }
            if let Some(banks) = pcr_banks {
                let mut pk = bk.child();
                for i in banks {
                    let name = [
                        PcrBank::Sha1,
                        PcrBank::Sha256,
                        PcrBank::Sha384,
                        PcrBank::Sha512,
                    ][*i];
                    pk.add(&format!("<{}/>\n", name.as_str()));
                }
                bk.element("active_pcr_banks", Buf::new(), pk);
            }
        }
        TpmBackend::External(src) => {
            ba.add(" type='external'");
            if src.type_ == ChrSourceType::Unix {
                bk.add("<source type='unix' mode='connect'");
                bk.esc(" path='%s'/>\n", src.path.as_deref());
            }
        }
    }
    k.element("backend", ba, bk);
    format_info(&mut k, &t.info, false);
    b.element("tpm", a, k);
}

/// `virDomainTPMDevValidate`.
pub(crate) fn validate(t: &Tpm) -> Result<()> {
    match &t.backend {
        TpmBackend::Emulator {
            version, pcr_banks, ..
        } => {
            if pcr_banks.is_some() && *version != Some(TpmVersion::V20) {
                return Err(xml_error("<active_pcr_banks/> requires TPM version '2.0'"));
            }
        }
        TpmBackend::External(src) => {
            if src.type_ != ChrSourceType::Unix {
                return Err(xml_error(
                    "only source type 'unix' is supported for external TPM device",
                ));
            }
            if src.listen {
                return Err(xml_error(
                    "only 'client' mode is supported for external TPM device",
                ));
            }
            if src.path.is_none() {
                return Err(xml_error("missing socket path for external TPM device"));
            }
        }
        TpmBackend::Passthrough(_) => {}
    }
    Ok(())
}
