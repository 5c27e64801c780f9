//! Backing-chain resolution with libvirt's rules for when a format may be probed.
//!
//! This is what runs before a guest starts (libvirt: `qemuDomainDetermineDiskChain` →
//! `virStorageSourceGetMetadata`). The rules:
//! - the top image's format comes from the configuration; absent, it is raw (never probed), and a
//!   top image of a format without backing files is not even read;
//! - a backing image's format comes from its overlay's metadata or from the XML `<backingStore>`;
//! - an unrecorded backing format may be probed only if the probed image names no file of its own
//!   (no backing file and, beyond libvirt 9.0, no external data file); otherwise resolution fails
//!   with `VIR_ERR_OPERATION_INVALID`, so a chain is never followed through a probed image;
//! - relative names resolve against the directory of the overlay's path as written (a symlinked
//!   overlay's own directory, not its target's);
//! - network sources end the local walk (an unrecorded format there is the same error);
//! - more than 200 layers, which is also how loops end, is an error naming the file reached.
//!
//! The result, [`Chain`], is what every consumer uses: the QEMU `-blockdev` builder names each
//! layer's driver from it, and volume/domain XML `<backingStore>` is written from it.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use crate::backing::{self, BackingTarget, NetworkSource, Slice};
use crate::error::{errno_text, AccessIds, Error};
use crate::format::Format;
use crate::inspect::{self, BackingFormat, ImageInfo};

/// libvirt's `QEMU_DOMAIN_STORAGE_SOURCE_CHAIN_MAX_DEPTH`.
pub const MAX_DEPTH: usize = 200;

/// Where a layer's data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A regular file (path as resolved: overlay directory + relative name, not canonicalised).
    File(PathBuf),
    /// A block device.
    Block(PathBuf),
    /// A directory.
    Dir(PathBuf),
    /// A network source; the local walk ends here.
    Network(Box<NetworkSource>),
    /// An NVMe namespace.
    Nvme {
        /// PCI address.
        device: String,
        /// Namespace.
        namespace: u64,
    },
}

impl Source {
    /// The local path, if the source is local.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Source::File(p) | Source::Block(p) | Source::Dir(p) => Some(p),
            Source::Network(_) | Source::Nvme { .. } => None,
        }
    }

    /// How libvirt names the source in messages (its `path` field).
    pub fn display(&self) -> String {
        match self {
            Source::File(p) | Source::Block(p) | Source::Dir(p) => p.display().to_string(),
            Source::Network(n) => n.path.clone().unwrap_or_default(),
            Source::Nvme { device, .. } => device.clone(),
        }
    }

    fn traversable(&self) -> bool {
        matches!(self, Source::File(_) | Source::Block(_))
    }
}

/// Where a layer's format came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatOrigin {
    /// The configuration (`<driver type=…>`) named it.
    Config,
    /// The configuration named none: raw (directory for a directory), never probed.
    Default,
    /// The XML `<backingStore><format type=…>` named it.
    Xml,
    /// The overlay's metadata recorded it.
    Recorded,
    /// Probed from the image's own header (allowed only because it names no other file).
    Probed,
}

/// One layer of a chain, top first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// Where the data is.
    pub source: Source,
    /// The format to open it with (a probed ISO is given as raw, as QEMU has no ISO driver).
    pub format: Format,
    /// Where [`Layer::format`] came from.
    pub origin: FormatOrigin,
    /// The header as read; `None` where the layer was not read (formats without backing files at
    /// the top, layers given in XML, network sources, directories).
    pub info: Option<ImageInfo>,
    /// The backing name as written in the overlay when it was relative (libvirt's `relPath`).
    pub rel_path: Option<String>,
    /// Byte range of the source that holds the image (`json:` raw driver with offset/size).
    pub slice: Option<Slice>,
    /// Size of the file on disk, for local regular files.
    pub file_size: Option<u64>,
    /// The qcow2 external data file name as stored; never opened or inspected here. QEMU (10.0,
    /// checked with qemu-io) resolves a relative name against its working directory, not the
    /// image's, so a consumer must pass it explicitly or refuse it.
    pub data_file: Option<String>,
}

impl Layer {
    /// Virtual size from the header, when the layer was read and its format records one.
    pub fn capacity(&self) -> Option<u64> {
        self.info.as_ref().and_then(|i| i.capacity)
    }
    /// Whether the format was probed.
    pub fn probed(&self) -> bool {
        self.origin == FormatOrigin::Probed
    }
    /// The backing name this layer's header stores, if any.
    pub fn backing_name(&self) -> Option<&str> {
        self.info
            .as_ref()
            .and_then(|i| i.backing.as_ref())
            .map(|b| b.name.as_str())
    }
}

/// How the chain ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainEnd {
    /// The last layer has no backing (libvirt writes an empty `<backingStore/>`).
    Complete,
    /// The last layer cannot be read locally (network, directory); what lies beyond is unknown.
    Untraversable,
    /// The last layer names a backing libvirt cannot represent (inline credentials): libvirt
    /// leaves it out, and so do we.
    Unrepresentable,
}

/// A resolved backing chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// Layers, top first.
    pub layers: Vec<Layer>,
    /// How it ends.
    pub end: ChainEnd,
}

/// A `<backingStore>` element of the domain XML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlBacking {
    /// `<backingStore/>`: the chain ends here and nothing is detected.
    End,
    /// `<backingStore type=…><format type=…/><source …/>[<backingStore …>]</backingStore>`.
    Layer(Box<XmlLayer>),
}

/// A layer given in XML; its format is mandatory there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlLayer {
    /// The source.
    pub source: Source,
    /// The format.
    pub format: Format,
    /// Its own backing: `None` means "not given", so it is detected from the image.
    pub backing: Option<XmlBacking>,
}

/// Resolution settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Who the files are checked as (shown in "Cannot access" errors).
    pub ids: AccessIds,
    /// Maximum depth of detection (libvirt: 200).
    pub max_depth: usize,
    /// Disk target (vda) for the over-length message.
    pub disk_target: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ids: AccessIds::current(),
            max_depth: MAX_DEPTH,
            disk_target: None,
        }
    }
}

/// Resolves the chain of `top` with libvirt's rules; see the module documentation.
pub fn resolve_chain(
    top: &Path,
    top_format: Option<Format>,
    xml_backing: Option<&XmlBacking>,
) -> Result<Chain, Error> {
    resolve_chain_with(top, top_format, xml_backing, &Options::default())
}

/// [`resolve_chain`] with explicit [`Options`].
pub fn resolve_chain_with(
    top: &Path,
    top_format: Option<Format>,
    xml_backing: Option<&XmlBacking>,
    opts: &Options,
) -> Result<Chain, Error> {
    let top_source = local_source(top.to_path_buf());
    let (format, origin) = match top_format {
        Some(f) => (f, FormatOrigin::Config),
        None if matches!(top_source, Source::Dir(_)) => (Format::Dir, FormatOrigin::Default),
        None => (Format::Raw, FormatOrigin::Default),
    };

    // Formats without backing files: check the file exists, never read it.
    if !format.supports_backing() {
        if let Err(e) = fs::metadata(top) {
            return Err(Error::StorageFileInaccessible {
                path: top.display().to_string(),
                ids: None,
                reason: errno_text(&e),
            });
        }
        let layer = plain_layer(top_source, format, origin);
        return Ok(Chain {
            layers: vec![layer],
            end: ChainEnd::Complete,
        });
    }

    let mut layers = Vec::new();
    let mut start = Node {
        source: top_source,
        want: Want::Known(format, origin),
        rel_path: None,
        slice: None,
    };
    if let Some(xml) = xml_backing {
        // The configuration gives the chain: trust it, check each layer that has a backing exists.
        let top_display = start.source.display();
        let mut next = Some(xml);
        loop {
            match next {
                Some(XmlBacking::Layer(l)) => {
                    if let Some(p) = start.source.path() {
                        if let Err(e) = fs::metadata(p) {
                            let reason = errno_text(&e);
                            let ids = Some(opts.ids);
                            return Err(if layers.is_empty() {
                                Error::StorageFileInaccessible {
                                    path: top_display,
                                    ids,
                                    reason,
                                }
                            } else {
                                Error::BackingFileInaccessible {
                                    path: start.source.display(),
                                    top: top_display,
                                    ids,
                                    reason,
                                }
                            });
                        }
                    }
                    let Want::Known(f, o) = start.want else {
                        unreachable!("XML layers have formats")
                    };
                    layers.push(plain_layer(start.source, f, o));
                    start = Node {
                        source: l.source.clone(),
                        want: Want::Known(l.format, FormatOrigin::Xml),
                        rel_path: None,
                        slice: None,
                    };
                    next = l.backing.as_ref();
                }
                Some(XmlBacking::End) => {
                    let Want::Known(f, o) = start.want else {
                        unreachable!("XML layers have formats")
                    };
                    layers.push(plain_layer(start.source, f, o));
                    check_length(&layers, opts)?;
                    return Ok(Chain {
                        layers,
                        end: ChainEnd::Complete,
                    });
                }
                None => break,
            }
        }
    }
    let first_detected = layers.len();
    let end = detect(start, opts, &mut layers)?;
    // QEMU has no ISO driver: a detected ISO backing is opened as raw.
    for l in layers.iter_mut().skip(first_detected + 1) {
        if l.format == Format::Iso {
            l.format = Format::Raw;
        }
    }
    check_length(&layers, opts)?;
    Ok(Chain { layers, end })
}

fn check_length(layers: &[Layer], opts: &Options) -> Result<(), Error> {
    if layers.len() > MAX_DEPTH {
        return Err(Error::ChainTooLong {
            disk: opts.disk_target.clone(),
        });
    }
    Ok(())
}

/// What is known about a layer's format before reading it.
#[derive(Debug, Clone, Copy)]
enum Want {
    Known(Format, FormatOrigin),
    /// Unrecorded: probe, and refuse if the image names another file.
    Auto,
    /// QED without the no-probe flag: probe; libvirt lets the chain continue.
    AutoSafe,
    /// The overlay recorded "none".
    NoneRecorded,
}

struct Node {
    source: Source,
    want: Want,
    rel_path: Option<String>,
    slice: Option<Slice>,
}

fn local_source(path: PathBuf) -> Source {
    match fs::metadata(&path) {
        Ok(m) if m.is_dir() => Source::Dir(path),
        Ok(m) if m.file_type().is_block_device() => Source::Block(path),
        _ => Source::File(path),
    }
}

fn file_size(source: &Source) -> Option<u64> {
    match source {
        Source::File(p) => fs::metadata(p)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len()),
        _ => None,
    }
}

fn plain_layer(source: Source, format: Format, origin: FormatOrigin) -> Layer {
    Layer {
        file_size: file_size(&source),
        source,
        format,
        origin,
        info: None,
        rel_path: None,
        slice: None,
        data_file: None,
    }
}

/// `g_path_get_dirname` on bytes.
fn dirname(path: &Path) -> &[u8] {
    let b = path.as_os_str().as_bytes();
    match b.iter().rposition(|&c| c == b'/') {
        None => b".",
        Some(mut i) => {
            while i > 0 && b[i] == b'/' {
                i -= 1;
            }
            &b[..=i]
        }
    }
}

/// libvirt's relative resolution: "dir/rel", or "/rel" when the overlay is in "/".
pub fn resolve_relative(overlay: &Path, rel: &str) -> PathBuf {
    let dir = dirname(overlay);
    let mut out = Vec::with_capacity(dir.len() + rel.len() + 1);
    if dir != b"/" {
        out.extend_from_slice(dir);
    }
    out.push(b'/');
    out.extend_from_slice(rel.as_bytes());
    PathBuf::from(std::ffi::OsStr::from_bytes(&out))
}

fn unrecorded(overlay: &Option<(String, String)>) -> Error {
    let (backing, image) = overlay.clone().unwrap_or_default();
    Error::BackingFormatUnrecorded { backing, image }
}

/// `virStorageSourceGetMetadataRecurse`, as a loop: reads `node` and what it refers to.
fn detect(mut node: Node, opts: &Options, layers: &mut Vec<Layer>) -> Result<ChainEnd, Error> {
    let root = node.source.display();
    // The overlay that named the current node: (backing name as written, overlay path).
    let mut overlay: Option<(String, String)> = None;
    let mut depth = 1usize;
    loop {
        let shown = node.source.display();
        if depth > opts.max_depth {
            return Err(Error::TooDeep { path: shown });
        }
        if !node.source.traversable() {
            let (format, origin) = match node.want {
                Want::Known(f, o) => (f, o),
                // libvirt would carry an "auto" format into the QEMU command line and fail there.
                Want::Auto | Want::AutoSafe => return Err(unrecorded(&overlay)),
                Want::NoneRecorded => {
                    return Err(Error::BackingFormatNone {
                        image: overlay.unwrap_or_default().1,
                    })
                }
            };
            let mut layer = plain_layer(node.source, format, origin);
            layer.rel_path = node.rel_path;
            layer.slice = node.slice;
            layers.push(layer);
            return Ok(ChainEnd::Untraversable);
        }
        let path = node
            .source
            .path()
            .expect("traversable sources are local")
            .to_path_buf();
        if let Err(e) = fs::metadata(&path) {
            let (ids, reason) = (Some(opts.ids), errno_text(&e));
            return Err(if depth == 1 {
                Error::StorageFileInaccessible {
                    path: shown,
                    ids,
                    reason,
                }
            } else {
                Error::BackingFileInaccessible {
                    path: shown,
                    top: root,
                    ids,
                    reason,
                }
            });
        }
        let buf = fs::File::open(&path)
            .map_err(|e| Error::Open {
                path: shown.clone(),
                reason: errno_text(&e),
            })
            .and_then(|mut f| {
                inspect::read_header(&mut f).map_err(|e| Error::Read {
                    path: shown.clone(),
                    reason: errno_text(&e),
                })
            })?;
        let (given, origin) = match node.want {
            Want::Known(f, o) => (Some(f), o),
            Want::Auto | Want::AutoSafe => (None, FormatOrigin::Probed),
            Want::NoneRecorded => {
                return Err(Error::BackingFormatNone {
                    image: overlay.unwrap_or_default().1,
                })
            }
        };
        let info = inspect::inspect(&buf, given).map_err(|source| Error::Header {
            path: shown.clone(),
            source,
        })?;
        // A probed image may name no other file: never follow a chain through it.
        if matches!(node.want, Want::Auto) && (info.backing.is_some() || info.has_external_files())
        {
            return Err(unrecorded(&overlay));
        }
        let backing = info.backing.clone();
        layers.push(Layer {
            file_size: file_size(&node.source),
            data_file: info.data_file.as_ref().and_then(|d| d.name.clone()),
            format: info.format,
            origin,
            info: Some(info),
            rel_path: node.rel_path,
            slice: node.slice,
            source: node.source,
        });
        let Some(backing) = backing else {
            return Ok(ChainEnd::Complete);
        };
        let parsed = backing::parse(&backing.name)?;
        if parsed.unrepresentable {
            return Ok(ChainEnd::Unrepresentable);
        }
        let source = match parsed.target {
            BackingTarget::File(name) if parsed.relative => {
                local_source(resolve_relative(&path, &name))
            }
            BackingTarget::File(name) => local_source(PathBuf::from(name)),
            BackingTarget::Block(name) => Source::Block(PathBuf::from(name)),
            BackingTarget::Dir(name) => Source::Dir(PathBuf::from(name)),
            BackingTarget::Network(n) => Source::Network(n),
            BackingTarget::Nvme { device, namespace } => Source::Nvme { device, namespace },
        };
        let want = match &backing.format {
            BackingFormat::Recorded(f) => Want::Known(*f, FormatOrigin::Recorded),
            BackingFormat::Unrecorded => Want::Auto,
            BackingFormat::AutoSafe => Want::AutoSafe,
            BackingFormat::Invalid(s) if s == "none" => Want::NoneRecorded,
            BackingFormat::Invalid(_) => Want::Auto,
        };
        overlay = Some((backing.name.clone(), shown));
        node = Node {
            source,
            want,
            rel_path: parsed.relative.then(|| backing.name.clone()),
            slice: parsed.slice,
        };
        depth += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_names_follow_glib_dirname() {
        assert_eq!(
            resolve_relative(Path::new("/a/b/img"), "base"),
            PathBuf::from("/a/b/base")
        );
        assert_eq!(
            resolve_relative(Path::new("/img"), "base"),
            PathBuf::from("/base")
        );
        assert_eq!(
            resolve_relative(Path::new("img"), "base"),
            PathBuf::from("./base")
        );
        assert_eq!(
            resolve_relative(Path::new("a//img"), "../b"),
            PathBuf::from("a/../b")
        );
        assert_eq!(
            resolve_relative(Path::new("/i/sub/link2"), "../sub/link1"),
            PathBuf::from("/i/sub/../sub/link1")
        );
    }
}
