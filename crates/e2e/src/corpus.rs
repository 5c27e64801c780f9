//! The XML conformance corpus: libvirt 9.0's own test documents (from Debian's source package,
//! fetched at test time into `<target>/libvirt-src` by `scripts/fetch-libvirt-src.sh`, never
//! committed), the rewrite that lets the test driver accept them, and the define → dumpxml →
//! undefine cycle run through the `rvirt` crate against a daemon. The differential test
//! (`tests/xml_corpus.rs`) runs every case on rvirtd and on libvirtd and compares the outcomes.
//!
//! Both daemons see exactly the same bytes. Values that are random on both sides (UUIDs and MAC
//! addresses generated for documents that lack them) are masked in the output before comparing:
//! a UUID or MAC in the output that does not occur in the input was generated.

use crate::repo_root;
use rvirt::{Connect, StoragePool};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The kind of document a case defines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `virDomainDefineXML`.
    Domain,
    /// `virNetworkDefineXML`.
    Network,
    /// `virStoragePoolDefineXML`.
    Pool,
    /// `virStorageVolCreateXML` in the pool named here (one of [`VOLUME_POOLS`]).
    Volume(String),
}

/// One corpus document.
#[derive(Debug, Clone)]
pub struct Case {
    /// The corpus directory under libvirt's `tests/`.
    pub corpus: &'static str,
    /// The file name.
    pub file: String,
    /// What to define it as.
    pub kind: Kind,
    /// The document as sent to both daemons (after [`rewrite_domain`] for domains).
    pub xml: String,
}

/// The corpora, in report order: directory and document kind.
pub const CORPORA: &[(&str, &str)] = &[
    ("genericxml2xmlindata", "domain"),
    ("qemuxml2argvdata", "domain"),
    ("qemuxml2xmloutdata", "domain"),
    ("networkxml2xmlin", "network"),
    ("storagepoolxml2xmlin", "pool"),
    ("storagevolxml2xmlin", "volume"),
];

/// The pools volumes are created in, as libvirt's `storagevolxml2xmltest.c` pairs them: the
/// pool document (from `storagepoolxml2xmlin`) and the volume file-name prefixes it hosts. The
/// first entry hosts every other volume.
pub const VOLUME_POOLS: &[(&str, &[&str])] = &[
    ("pool-dir", &[]),
    ("pool-disk", &["vol-partition"]),
    ("pool-logical", &["vol-logical"]),
    ("pool-gluster", &["vol-gluster"]),
];

/// The unpacked libvirt source tree: `$RVIRT_LIBVIRT_SRC` when set, else Debian's source package
/// fetched into `<cargo target dir>/libvirt-src` (once; later runs reuse it).
pub fn libvirt_src() -> PathBuf {
    if let Some(p) = std::env::var_os("RVIRT_LIBVIRT_SRC") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    // <target>/<profile>/deps/<test>
    let target = exe
        .ancestors()
        .nth(3)
        .expect("cargo target directory")
        .to_path_buf();
    let cache = target.join("libvirt-src");
    let out = Command::new(repo_root().join("scripts/fetch-libvirt-src.sh"))
        .arg(&cache)
        .output()
        .expect("run scripts/fetch-libvirt-src.sh");
    assert!(
        out.status.success(),
        "fetching Debian's libvirt source package failed (set RVIRT_LIBVIRT_SRC to an unpacked \
         libvirt 9.0 tree to use one already on disk):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// Rewrites a domain document for the test driver: the root element's `type` becomes `test`.
/// Nothing else changes; the same bytes go to both daemons.
pub fn rewrite_domain(xml: &str) -> String {
    let Some(start) = root_start(xml, "domain") else {
        return xml.to_string();
    };
    let end = match xml[start..].find('>') {
        Some(e) => start + e,
        None => return xml.to_string(),
    };
    let tag = &xml[start..end];
    let Some(at) = find_attr(tag, "type") else {
        return xml.to_string();
    };
    let value_start = start + at;
    let quote = xml.as_bytes()[value_start - 1] as char;
    let Some(len) = xml[value_start..end].find(quote) else {
        return xml.to_string();
    };
    format!("{}test{}", &xml[..value_start], &xml[value_start + len..])
}

/// Byte offset of `<name` as the document's root start tag (after any prolog and comments).
fn root_start(xml: &str, name: &str) -> Option<usize> {
    let mut i = 0;
    while let Some(off) = xml[i..].find('<') {
        let p = i + off;
        let rest = &xml[p..];
        if rest.starts_with("<?") {
            i = p + rest.find("?>")? + 2;
        } else if rest.starts_with("<!--") {
            i = p + rest.find("-->")? + 3;
        } else if rest.starts_with("<!") {
            i = p + rest.find('>')? + 1;
        } else {
            let after = rest.as_bytes().get(1 + name.len()).copied();
            return (rest[1..].starts_with(name)
                && after.is_some_and(|c| c.is_ascii_whitespace() || c == b'>' || c == b'/'))
            .then_some(p);
        }
    }
    None
}

/// Offset (in `tag`) of the value of attribute `name`, just after its opening quote.
fn find_attr(tag: &str, name: &str) -> Option<usize> {
    let b = tag.as_bytes();
    let mut from = 0;
    while let Some(off) = tag[from..].find(name) {
        let p = from + off;
        from = p + name.len();
        if p == 0 || !b[p - 1].is_ascii_whitespace() {
            continue;
        }
        let mut q = p + name.len();
        while q < b.len() && b[q].is_ascii_whitespace() {
            q += 1;
        }
        if b.get(q) != Some(&b'=') {
            continue;
        }
        q += 1;
        while q < b.len() && b[q].is_ascii_whitespace() {
            q += 1;
        }
        if matches!(b.get(q), Some(b'\'') | Some(b'"')) {
            return Some(q + 1);
        }
    }
    None
}

/// Every case of every corpus under `src` (an unpacked libvirt tree), sorted by corpus and file.
pub fn cases(src: &Path) -> Vec<Case> {
    let mut out = Vec::new();
    for (corpus, kind) in CORPORA {
        let dir = src.join("tests").join(corpus);
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".xml"))
            .collect();
        files.sort();
        for file in files {
            let bytes = std::fs::read(dir.join(&file)).expect("read corpus file");
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let (kind, xml) = match *kind {
                "domain" => (Kind::Domain, rewrite_domain(&text)),
                "network" => (Kind::Network, text),
                "pool" => (Kind::Pool, text),
                _ => (Kind::Volume(volume_pool(&file).to_string()), text),
            };
            out.push(Case {
                corpus,
                file,
                kind,
                xml,
            });
        }
    }
    out
}

fn volume_pool(file: &str) -> &'static str {
    VOLUME_POOLS
        .iter()
        .find(|(_, prefixes)| prefixes.iter().any(|p| file.starts_with(p)))
        .map_or(VOLUME_POOLS[0].0, |(pool, _)| pool)
}

/// What a daemon answered for one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted; the (masked) `dumpxml` output.
    Xml(String),
    /// Refused with libvirt's (code, domain, message).
    Error(i32, i32, String),
}

impl Outcome {
    /// Whether the document was accepted.
    pub fn accepted(&self) -> bool {
        matches!(self, Outcome::Xml(_))
    }

    /// A one-line summary for reports.
    pub fn summary(&self) -> String {
        match self {
            Outcome::Xml(_) => "accepted".to_string(),
            Outcome::Error(c, d, m) => format!("error {c}/{d}: {m}"),
        }
    }
}

impl From<rvirt::Error> for Outcome {
    fn from(e: rvirt::Error) -> Self {
        Outcome::Error(e.code, e.domain, e.message)
    }
}

/// Masks UUIDs and MAC addresses in `output` that do not occur in `input` (generated values).
pub fn mask_generated(input: &str, output: &str) -> String {
    let norm_in: String = input
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .flat_map(char::to_lowercase)
        .collect();
    let b = output.as_bytes();
    let mut out = String::with_capacity(output.len());
    let mut i = 0;
    while i < b.len() {
        let tok = if is_uuid_at(b, i) {
            Some((36, "<generated-uuid>"))
        } else if is_mac_at(b, i) {
            Some((17, "<generated-mac>"))
        } else {
            None
        };
        let boundary = i == 0 || !b[i - 1].is_ascii_hexdigit();
        match tok {
            Some((len, label))
                if boundary && !b.get(i + len).is_some_and(u8::is_ascii_hexdigit) =>
            {
                let norm: String = output[i..i + len]
                    .chars()
                    .filter(|c| *c != '-' && *c != ':')
                    .flat_map(char::to_lowercase)
                    .collect();
                if norm_in.contains(&norm) {
                    out.push_str(&output[i..i + len]);
                } else {
                    out.push_str(label);
                }
                i += len;
            }
            _ => {
                let ch = output[i..].chars().next().expect("char");
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    out
}

fn is_uuid_at(b: &[u8], i: usize) -> bool {
    const DASHES: [usize; 4] = [8, 13, 18, 23];
    b.len() >= i + 36
        && (0..36).all(|k| {
            if DASHES.contains(&k) {
                b[i + k] == b'-'
            } else {
                b[i + k].is_ascii_hexdigit()
            }
        })
}

fn is_mac_at(b: &[u8], i: usize) -> bool {
    b.len() >= i + 17
        && (0..17).all(|k| {
            if k % 3 == 2 {
                b[i + k] == b':'
            } else {
                b[i + k].is_ascii_hexdigit()
            }
        })
}

const CALL_TIMEOUT: Duration = Duration::from_secs(20);

async fn timed<T>(f: impl std::future::Future<Output = rvirt::Result<T>>) -> rvirt::Result<T> {
    match tokio::time::timeout(CALL_TIMEOUT, f).await {
        Ok(r) => r,
        Err(_) => Err(rvirt::Error::raw(
            -1,
            -1,
            format!("no answer within {CALL_TIMEOUT:?}"),
        )),
    }
}

/// A connection prepared for the corpus: the test driver's default objects removed (so corpus
/// names such as `test` or `default` do not collide) and the volume pools defined and started.
pub struct Runner {
    conn: Connect,
    pools: Vec<(String, StoragePool)>,
}

impl Runner {
    /// Connects to `uri` and prepares the state; `src` is the libvirt tree (for the pool
    /// documents).
    pub async fn new(uri: &str, src: &Path) -> rvirt::Result<Self> {
        let conn = Connect::open(Some(uri)).await?;
        for d in conn.list_all_domains(0).await? {
            if d.is_active().await? {
                d.destroy(0).await?;
            }
            d.undefine(0).await?;
        }
        for n in conn.list_all_networks(0).await? {
            if n.is_active().await? {
                n.destroy().await?;
            }
            n.undefine().await?;
        }
        for p in conn.list_all_storage_pools(0).await? {
            if p.is_active().await? {
                for v in p.list_all_volumes(0).await? {
                    v.delete(0).await?;
                }
                p.destroy().await?;
            }
            p.undefine().await?;
        }
        let mut pools = Vec::new();
        for (name, _) in VOLUME_POOLS {
            let path = src
                .join("tests/storagepoolxml2xmlin")
                .join(format!("{name}.xml"));
            let xml = std::fs::read_to_string(&path).expect("volume pool document");
            let pool = conn.storage_pool_define_xml(&xml, 0).await?;
            pool.create(0).await?;
            pools.push((name.to_string(), pool));
        }
        Ok(Self { conn, pools })
    }

    /// Defines the case, reads it back, and removes it again: the outcome (generated values
    /// masked) and the unmasked output when accepted.
    pub async fn run(&self, case: &Case) -> (Outcome, Option<String>) {
        let r = match &case.kind {
            Kind::Domain => self.domain(&case.xml).await,
            Kind::Network => self.network(&case.xml).await,
            Kind::Pool => self.pool(&case.xml).await,
            Kind::Volume(pool) => self.volume(pool, &case.xml).await,
        };
        match r {
            Ok(xml) => (Outcome::Xml(mask_generated(&case.xml, &xml)), Some(xml)),
            Err(e) => (e.into(), None),
        }
    }

    async fn domain(&self, xml: &str) -> rvirt::Result<String> {
        let d = timed(self.conn.domain_define_xml(xml, 0)).await?;
        let out = timed(d.xml_desc(0)).await;
        timed(d.undefine(0)).await?;
        out
    }

    async fn network(&self, xml: &str) -> rvirt::Result<String> {
        let n = timed(self.conn.network_define_xml(xml, 0)).await?;
        let out = timed(n.xml_desc(0)).await;
        timed(n.undefine()).await?;
        out
    }

    async fn pool(&self, xml: &str) -> rvirt::Result<String> {
        let p = timed(self.conn.storage_pool_define_xml(xml, 0)).await?;
        let out = timed(p.xml_desc(0)).await;
        timed(p.undefine()).await?;
        out
    }

    async fn volume(&self, pool: &str, xml: &str) -> rvirt::Result<String> {
        let (_, p) = self
            .pools
            .iter()
            .find(|(n, _)| n == pool)
            .expect("volume pool");
        let v = timed(p.volume_create_xml(xml, 0)).await?;
        let out = timed(v.xml_desc(0)).await;
        timed(v.delete(0)).await?;
        out
    }

    /// Closes the connection.
    pub async fn close(self) -> rvirt::Result<()> {
        self.conn.close().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_only_the_root_type() {
        let x = "<?xml version='1.0'?>\n<!-- c <domain type='x'> -->\n<domain xmlns:q='u' type=\"kvm\" id='1'>\n<devices><disk type='file'/></devices></domain>";
        assert_eq!(
            rewrite_domain(x),
            "<?xml version='1.0'?>\n<!-- c <domain type='x'> -->\n<domain xmlns:q='u' type=\"test\" id='1'>\n<devices><disk type='file'/></devices></domain>"
        );
        assert_eq!(
            rewrite_domain("<domain><name>a</name></domain>"),
            "<domain><name>a</name></domain>"
        );
        assert_eq!(rewrite_domain("<network type='x'/>"), "<network type='x'/>");
    }

    #[test]
    fn masks_only_generated_values() {
        let input =
            "<uuid>C7A5FDBD-EDAF-9455-926A-D65C16DB1809</uuid><mac address='52:54:00:aa:bb:cc'/>";
        let output = "<uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>\n<mac address='52:54:00:aa:bb:cc'/>\n<mac address='52:54:00:12:34:56'/>\n<uuid>11111111-2222-3333-4444-555555555555</uuid>";
        assert_eq!(
            mask_generated(input, output),
            "<uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>\n<mac address='52:54:00:aa:bb:cc'/>\n<mac address='<generated-mac>'/>\n<uuid><generated-uuid></uuid>"
        );
    }

    #[test]
    fn volumes_go_to_their_pools() {
        assert_eq!(volume_pool("vol-partition.xml"), "pool-disk");
        assert_eq!(volume_pool("vol-logical-backing.xml"), "pool-logical");
        assert_eq!(volume_pool("vol-qcow2.xml"), "pool-dir");
    }
}
