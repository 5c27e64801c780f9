//! `qemu-img` command lines for volumes, built exactly as libvirt 9.0 builds them
//! (`virStorageBackendCreateQemuImgCmdFromVol`, `storageBackendResizeQemuImg`), and the check
//! of what `qemu-img` made (`qemu-img info --output=json`).
//!
//! The backing file's format is always passed (`-o backing_fmt=`, what libvirt writes; `-F` is
//! its short form): `qemu-img` then records it in the new image, so nothing later has to guess
//! it. Images are always named with their format (`-f`/`-O`), so `qemu-img` probes nothing at
//! the top either.

use std::path::Path;

use rvirt_proto::error::code;
use rvirt_xml::storage::vol::Encryption;
use rvirt_xml::storage::{PoolDef, VolDef, FILE_FORMATS};

use super::command::Cmd;
use super::error::{Error, Result};

/// `VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA`.
pub const CREATE_PREALLOC_METADATA: u32 = 1 << 0;

/// libvirt's volume `type` numbers (`virStorageVolType`).
pub mod vol_type {
    /// A file.
    pub const FILE: u32 = 0;
    /// A block device.
    pub const BLOCK: u32 = 1;
    /// A directory.
    pub const DIR: u32 = 2;
    /// A ploop directory.
    pub const PLOOP: u32 = 5;
}

/// libvirt's file format numbers (`virStorageFileFormat`) used here.
pub mod fmt {
    /// No format.
    pub const NONE: u32 = 0;
    /// raw.
    pub const RAW: u32 = 1;
    /// dir.
    pub const DIR: u32 = 2;
    /// iso.
    pub const ISO: u32 = 6;
    /// ploop.
    pub const PLOOP: u32 = 11;
    /// qcow (v1).
    pub const QCOW: u32 = 13;
    /// qcow2.
    pub const QCOW2: u32 = 14;
}

/// Encryption formats (`virStorageEncryptionFormatType`).
mod enc_fmt {
    pub const DEFAULT: u32 = 0;
    pub const QCOW: u32 = 1;
    pub const LUKS: u32 = 2;
}

/// The step of a conversion that adds or removes encryption (libvirt's
/// `virStorageVolEncryptConvertStep`): such a clone is made in two runs of `qemu-img`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvertStep {
    /// No encryption involved: one `create` or `convert`.
    None,
    /// First run: create the target image with the source's size.
    Create,
    /// Second run: copy the data with `--image-opts`.
    Convert,
}

/// The format name libvirt uses for a format number.
pub fn format_name(f: u32) -> Option<&'static str> {
    FILE_FORMATS.get(f as usize).copied()
}

fn cfg(detail: &str) -> Error {
    Error::refused(code::CONFIG_UNSUPPORTED, detail)
}

/// `virQEMUBuildBufferEscapeComma`.
fn escape_comma(s: &str) -> String {
    s.replace(',', ",,")
}

struct Info<'a> {
    format: u32,
    type_: &'static str,
    input_type: Option<&'static str>,
    path: &'a str,
    allocation_k: u64,
    size_k: u64,
    preallocate: bool,
    input_path: Option<&'a str>,
    input_format_str: Option<&'static str>,
    backing_path: Option<&'a str>,
    backing_format: u32,
    secret_alias: Option<String>,
}

fn enc_opts(buf: &mut String, format: u32, enc: &Encryption, alias: &str) {
    let prefix = if format == fmt::QCOW2 {
        buf.push_str("encrypt.format=luks,");
        "encrypt."
    } else {
        ""
    };
    buf.push_str(&format!("{prefix}key-secret={alias},"));
    let Some((name, size, mode, hash)) = &enc.cipher else {
        return;
    };
    buf.push_str(&format!(
        "{prefix}cipher-alg={}-{size},",
        escape_comma(name)
    ));
    if let Some(m) = mode {
        buf.push_str(&format!("{prefix}cipher-mode={},", escape_comma(m)));
    }
    if let Some(h) = hash {
        buf.push_str(&format!("{prefix}hash-alg={},", escape_comma(h)));
    }
    let Some((iv, ivhash)) = &enc.ivgen else {
        return;
    };
    buf.push_str(&format!("{prefix}ivgen-alg={},", escape_comma(iv)));
    if let Some(h) = ivhash {
        buf.push_str(&format!("{prefix}ivgen-hash-alg={},", escape_comma(h)));
    }
}

/// `storageBackendCreateQemuImgOpts`: the `-o` value.
fn options(vol: &VolDef, info: &Info<'_>) -> Result<String> {
    let t = &vol.target;
    let mut buf = String::new();
    if info.backing_path.is_some() {
        buf.push_str(&format!(
            "backing_fmt={},",
            format_name(info.backing_format).unwrap_or("none")
        ));
    }
    if let (Some(enc), Some(alias)) = (&t.encryption, &info.secret_alias) {
        enc_opts(&mut buf, info.format, enc, alias);
    }
    if info.preallocate {
        if info.size_k > info.allocation_k {
            buf.push_str("preallocation=metadata,");
        } else {
            buf.push_str("preallocation=falloc,");
        }
    }
    if t.nocow {
        buf.push_str("nocow=on,");
    }
    match &t.compat {
        Some(c) => buf.push_str(&format!("compat={c},")),
        None if info.format == fmt::QCOW2 => buf.push_str("compat=0.10,"),
        None => {}
    }
    if t.cluster_size > 0 {
        buf.push_str(&format!("cluster_size={},", t.cluster_size));
    }
    if let (Some([lazy, ext_l2]), fmt::QCOW2) = (t.features, info.format) {
        let old = t.compat.as_deref() == Some("0.10");
        if lazy {
            if old {
                return Err(cfg("lazy_refcounts not supported with compat level 0.10"));
            }
            buf.push_str("lazy_refcounts,");
        }
        if ext_l2 {
            if old {
                return Err(cfg("'extended_l2' not supported with compat level 0.10"));
            }
            buf.push_str("extended_l2=on,");
        }
    }
    while buf.ends_with(',') {
        buf.pop();
    }
    Ok(buf)
}

/// `storageBackendCreateQemuImgCheckEncryption`.
fn check_encryption(format: u32, type_: &str, enc: &Encryption) -> Result<()> {
    if format != fmt::RAW && format != fmt::QCOW2 {
        return Err(cfg(&format!(
            "volume encryption unsupported with format {type_}"
        )));
    }
    if enc.format != enc_fmt::LUKS {
        return Err(cfg(&format!(
            "unsupported volume encryption format {}",
            enc.format
        )));
    }
    match enc.secrets.len() {
        0 => Err(Error::refused(
            code::XML_ERROR,
            "no secret provided for luks encryption",
        )),
        1 => Ok(()),
        _ => Err(Error::refused(
            code::XML_ERROR,
            "too many secrets for luks encryption",
        )),
    }
}

/// The arguments (after the program name) of the `qemu-img` run that creates `vol` in `pool`,
/// from `input` when cloning: libvirt's `virStorageBackendCreateQemuImgCmdFromVol`.
/// `vol_type`/`input_type` are the volumes' `type` numbers ([`vol_type`]); the secret paths name
/// files holding LUKS passphrases.
#[allow(clippy::too_many_arguments)]
pub fn create_args(
    pool: &PoolDef,
    vol: &VolDef,
    vol_type: u32,
    input: Option<(&VolDef, u32)>,
    flags: u32,
    secret_path: Option<&str>,
    input_secret_path: Option<&str>,
    step: ConvertStep,
) -> Result<Vec<String>> {
    if flags & !CREATE_PREALLOC_METADATA != 0 {
        return Err(Error::refused(
            code::INVALID_ARG,
            format!(
                "unsupported flags (0x{:x}) in function virStorageBackendCreateQemuImgCmdFromVol",
                flags & !CREATE_PREALLOC_METADATA
            ),
        ));
    }
    let t = &vol.target;
    let enc = t.encryption.as_ref();
    let input_enc = input.and_then(|(i, _)| i.target.encryption.as_ref());
    if let Some(e) = enc {
        if matches!(e.format, enc_fmt::QCOW | enc_fmt::DEFAULT)
            && matches!(t.format, fmt::QCOW | fmt::QCOW2)
        {
            return Err(cfg("creation of qcow2 encrypted image is not supported"));
        }
    }
    if input_enc.is_some_and(|e| e.format != enc_fmt::LUKS) {
        return Err(cfg("encryption format of inputvol must be LUKS"));
    }

    // virStorageBackendCreateQemuImgSetInfo
    let mut format = t.format;
    if vol_type == vol_type::BLOCK || format == fmt::ISO {
        format = fmt::RAW;
    }
    let unknown = |f: u32| Error::internal(format!("unknown storage vol type {f}"));
    let mut type_ = format_name(format).ok_or_else(|| unknown(format))?;
    let mut input_type = match input {
        Some((i, _)) => Some(format_name(i.target.format).ok_or_else(|| {
            Error::internal(format!(
                "unknown inputvol storage vol type {}",
                i.target.format
            ))
        })?),
        None => None,
    };
    let preallocate = flags & CREATE_PREALLOC_METADATA != 0;
    if preallocate && format != fmt::QCOW2 {
        return Err(cfg("metadata preallocation only available with qcow2"));
    }
    if t.compat.is_some() && format != fmt::QCOW2 {
        return Err(cfg("compatibility option only available with qcow2"));
    }
    if t.features.is_some() && format != fmt::QCOW2 {
        return Err(cfg("format features only available with qcow2"));
    }
    if format == fmt::RAW {
        if let Some(e) = enc {
            if e.format != enc_fmt::LUKS {
                return Err(Error::internal(
                    "Only luks encryption is supported for raw files",
                ));
            }
            type_ = "luks";
        }
    }
    if let Some((i, _)) = input {
        if i.target.format == fmt::RAW {
            if let Some(e) = &i.target.encryption {
                if e.format != enc_fmt::LUKS {
                    return Err(Error::internal(
                        "Only luks encryption is supported for raw files",
                    ));
                }
                input_type = Some("luks");
            }
        }
    }
    let mut info = Info {
        format,
        type_,
        input_type,
        path: t.path.as_deref().unwrap_or(""),
        allocation_k: vol.allocation.div_ceil(1024),
        size_k: vol.capacity.div_ceil(1024),
        preallocate,
        input_path: None,
        input_format_str: None,
        backing_path: None,
        backing_format: 0,
        secret_alias: None,
    };
    if let Some((i, itype)) = input {
        if step != ConvertStep::Create {
            info.input_path = Some(i.target.path.as_deref().ok_or_else(|| {
                Error::refused(code::INVALID_ARG, "missing input volume target path")
            })?);
        }
        let mut f = i.target.format;
        if itype == vol_type::BLOCK || f == fmt::ISO {
            f = fmt::RAW;
        }
        info.input_format_str = Some(format_name(f).ok_or_else(|| unknown(f))?);
    }
    if let Some(b) = &vol.backing {
        // storageBackendCreateQemuImgSetBacking
        if info.format == fmt::RAW {
            return Err(cfg("cannot set backing store for raw volume"));
        }
        let bpath = b.path.as_deref().unwrap_or("");
        info.backing_format = b.format;
        info.backing_path = Some(bpath);
        if preallocate {
            return Err(cfg("metadata preallocation conflicts with backing store"));
        }
        if let Some((i, _)) = input {
            if let Some(ib) = &i.backing {
                if ib.path.as_deref() != Some(bpath) {
                    return Err(Error::internal(
                        "a different backing store cannot be specified.",
                    ));
                }
            }
        }
        if format_name(b.format).is_none() {
            return Err(Error::internal(format!(
                "unknown storage vol backing store type {}",
                b.format
            )));
        }
        let abs = if bpath.starts_with('/') {
            bpath.to_string()
        } else {
            format!("{}/{bpath}", pool.target_path.as_deref().unwrap_or(""))
        };
        readable(Path::new(&abs))
            .map_err(|e| Error::sys(format!("inaccessible backing store volume {bpath}"), &e))?;
    }
    if let Some(e) = enc {
        check_encryption(info.format, info.type_, e)?;
    }

    let mut args: Vec<String> = Vec::new();
    if info.input_path.is_some() || step == ConvertStep::Create {
        info.backing_path = None;
    }
    match (info.input_path, step) {
        (Some(_), ConvertStep::None) => args.extend([
            "convert".to_string(),
            "-f".into(),
            info.input_format_str.unwrap_or("raw").into(),
            "-O".into(),
            info.type_.into(),
        ]),
        (Some(_), ConvertStep::Convert) => {
            args.extend(["convert", "--image-opts", "-n", "--target-image-opts"].map(String::from))
        }
        _ => args.extend(["create".to_string(), "-f".into(), info.type_.into()]),
    }
    if let Some(b) = info.backing_path {
        args.extend(["-b".to_string(), b.to_string()]);
    }
    if enc.is_some() {
        let secret =
            secret_path.ok_or_else(|| Error::internal("path to secret data file is required"))?;
        let alias = format!("{}_encrypt0", vol.name);
        args.extend([
            "--object".to_string(),
            format!("secret,id={alias},file={}", escape_comma(secret)),
        ]);
        info.secret_alias = Some(alias);
    }
    let mut input_alias = None;
    if let (Some((i, _)), Some(_), ConvertStep::Convert) = (input, input_enc, step) {
        let secret = input_secret_path
            .ok_or_else(|| Error::internal("path to inputvol secret data file is required"))?;
        let alias = format!("{}_encrypt0", i.name);
        args.extend([
            "--object".to_string(),
            format!("secret,id={alias},file={}", escape_comma(secret)),
        ]);
        input_alias = Some(alias);
    }
    if step != ConvertStep::Convert {
        let opts = options(vol, &info)?;
        if !opts.is_empty() {
            args.extend(["-o".to_string(), opts]);
        }
        if let Some(ip) = info.input_path {
            args.push(ip.to_string());
        }
        args.push(info.path.to_string());
        if info.input_path.is_none() && (info.size_k != 0 || info.backing_path.is_none()) {
            args.push(format!("{}K", info.size_k));
        }
    } else {
        let (i, _) = input.expect("a conversion has an input volume");
        let ipath = info.input_path.unwrap_or("");
        match &input_alias {
            Some(alias) => {
                let prefix = if i.target.format == fmt::QCOW2 {
                    "encrypt."
                } else {
                    ""
                };
                args.push(format!(
                    "driver={},file.filename={ipath},{prefix}key-secret={alias}",
                    info.input_type.unwrap_or("raw")
                ));
            }
            None => args.push(format!(
                "driver={},file.filename={ipath}",
                info.input_type.unwrap_or("raw")
            )),
        }
        match &info.secret_alias {
            Some(alias) => {
                let prefix = if t.format == fmt::QCOW2 {
                    "encrypt."
                } else {
                    ""
                };
                args.push(format!(
                    "driver={},file.filename={},{prefix}key-secret={alias}",
                    info.type_, info.path
                ));
            }
            None => args.push(format!("driver={},file.filename={}", info.type_, info.path)),
        }
    }
    Ok(args)
}

/// `access(path, R_OK)`.
fn readable(path: &Path) -> std::io::Result<()> {
    let c = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()))
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `c` is a NUL-terminated path.
    if unsafe { libc::access(c.as_ptr(), libc::R_OK) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The arguments of `qemu-img resize` for an unencrypted image (`storageBackendResizeQemuImg`):
/// the size rounded up to 512 bytes, `--shrink` when it gets smaller.
pub fn resize_args(path: &str, current: u64, capacity: u64) -> Vec<String> {
    let capacity = capacity.div_ceil(512) * 512;
    let mut args = vec!["resize".to_string()];
    if capacity < current {
        args.push("--shrink".into());
    }
    args.push(path.to_string());
    args.push(capacity.to_string());
    args
}

/// The `qemu-img` program, or libvirt's error when it is not installed.
pub fn program(missing: &str) -> Result<Cmd> {
    Cmd::find("qemu-img", || Error::internal(missing))
}

/// What `qemu-img info --output=json` says about an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFacts {
    /// Format.
    pub format: String,
    /// Virtual size in bytes.
    pub virtual_size: u64,
    /// Backing file name as stored.
    pub backing: Option<String>,
    /// Recorded backing format.
    pub backing_format: Option<String>,
}

/// Parses `qemu-img info --output=json` output.
pub fn parse_info(json: &str) -> Result<ImageFacts> {
    let bad = |what: &str| Error::internal(format!("cannot parse qemu-img info output: {what}"));
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| bad(&e.to_string()))?;
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    Ok(ImageFacts {
        format: s("format").ok_or_else(|| bad("no format"))?,
        virtual_size: v
            .get("virtual-size")
            .and_then(|x| x.as_u64())
            .ok_or_else(|| bad("no virtual-size"))?,
        backing: s("backing-filename"),
        backing_format: s("backing-filename-format"),
    })
}

/// Reads an image's facts with `qemu-img info`, naming the format so that nothing is probed;
/// `qemu-img info` does not open backing files unless asked to.
pub fn info(path: &str, format: &str) -> Result<ImageFacts> {
    let out = program("unable to find qemu-img")?
        .args(["info", "--output=json", "-f", format, path])
        .run()?;
    parse_info(&out.stdout)
}

/// What a created image must look like.
#[derive(Debug, Clone, Default)]
pub struct Expect<'a> {
    /// Format name as `qemu-img` reports it.
    pub format: &'a str,
    /// Virtual size, when `qemu-img` was given one.
    pub virtual_size: Option<u64>,
    /// Backing name and format, when one was given.
    pub backing: Option<(&'a str, &'a str)>,
}

/// Checks `facts` against what was asked for; the mismatch text names the difference.
pub fn check(facts: &ImageFacts, want: &Expect<'_>) -> Option<String> {
    if facts.format != want.format {
        return Some(format!(
            "with format {} instead of {}",
            facts.format, want.format
        ));
    }
    if let Some(size) = want.virtual_size {
        if facts.virtual_size != size {
            return Some(format!(
                "with virtual size {} instead of {size}",
                facts.virtual_size
            ));
        }
    }
    if let Some((name, f)) = want.backing {
        if facts.backing.as_deref() != Some(name) {
            return Some(format!(
                "with backing file {:?} instead of '{name}'",
                facts.backing
            ));
        }
        if facts.backing_format.as_deref() != Some(f) {
            return Some(format!(
                "with backing format {:?} instead of {f}",
                facts.backing_format
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvirt_xml::storage::PoolType;

    fn pool() -> PoolDef {
        PoolDef::parse("<pool type='dir'><name>p</name><target><path>/</path></target></pool>")
            .unwrap()
    }

    fn vol(xml: &str) -> VolDef {
        VolDef::parse_with_flags(PoolType::Dir, xml, 2).unwrap()
    }

    #[test]
    fn qcow2_with_backing_records_the_backing_format() {
        let v = vol("<volume><name>o</name><capacity unit='M'>5</capacity>\
             <target><path>/tmp/o.qcow2</path><format type='qcow2'/></target>\
             <backingStore><path>/dev/null</path><format type='raw'/></backingStore></volume>");
        let a = create_args(&pool(), &v, 0, None, 0, None, None, ConvertStep::None).unwrap();
        assert_eq!(
            a,
            [
                "create",
                "-f",
                "qcow2",
                "-b",
                "/dev/null",
                "-o",
                "backing_fmt=raw,compat=0.10",
                "/tmp/o.qcow2",
                "5120K"
            ]
        );
        let e = create_args(&pool(), &v, 0, None, 1, None, None, ConvertStep::None).unwrap_err();
        assert_eq!(
            e.message(),
            "unsupported configuration: metadata preallocation conflicts with backing store"
        );
    }

    #[test]
    fn inaccessible_backing_is_refused() {
        let v = vol(
            "<volume><name>o</name><target><path>/tmp/o</path><format type='qcow2'/></target>\
             <backingStore><path>no-such-file-rvirt</path></backingStore></volume>",
        );
        let e = create_args(&pool(), &v, 0, None, 0, None, None, ConvertStep::None).unwrap_err();
        assert_eq!(
            e.message(),
            "inaccessible backing store volume no-such-file-rvirt: No such file or directory"
        );
    }

    #[test]
    fn resize_rounds_and_shrinks() {
        assert_eq!(resize_args("/v", 1000, 1025), ["resize", "/v", "1536"]);
        assert_eq!(
            resize_args("/v", 4096, 1024),
            ["resize", "--shrink", "/v", "1024"]
        );
    }

    #[test]
    fn info_output_is_checked() {
        let j = r#"{"virtual-size": 10485760, "filename": "/p/x", "format": "qcow2",
                    "backing-filename": "/p/b", "backing-filename-format": "raw"}"#;
        let f = parse_info(j).unwrap();
        let want = Expect {
            format: "qcow2",
            virtual_size: Some(10485760),
            backing: Some(("/p/b", "raw")),
        };
        assert_eq!(check(&f, &want), None);
        let want = Expect {
            backing: Some(("/p/b", "qcow2")),
            ..want
        };
        assert_eq!(
            check(&f, &want).unwrap(),
            "with backing format Some(\"raw\") instead of qcow2"
        );
        assert!(parse_info("{}").is_err());
    }
}
