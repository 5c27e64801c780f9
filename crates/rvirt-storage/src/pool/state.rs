//! What the storage driver keeps on disk, laid out as libvirt lays it out: persistent pool
//! configurations (`<config>/<name>.xml`, with libvirt's "auto-generated file" warning),
//! autostart symlinks (`<config>/autostart/<name>.xml` → the configuration), and the live state
//! of running pools (`<state>/<name>.xml`, a `<poolstate>` document) so that a restarted daemon
//! knows which pools were running. Every file is replaced atomically (temporary file, fsync,
//! rename): a crash leaves the old or the new version, never a mix.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use rvirt_xml::conf::uuid_format;
use rvirt_xml::storage::PoolDef;

use super::error::{Error, Result};
use super::file::{link_points_to, write_atomic};

/// The driver's directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dirs {
    /// Persistent configurations (libvirt: `/etc/libvirt/storage`).
    pub config: PathBuf,
    /// Autostart links (libvirt: `/etc/libvirt/storage/autostart`).
    pub autostart: PathBuf,
    /// Live state of running pools (libvirt: `/run/libvirt/storage`).
    pub state: PathBuf,
}

impl Dirs {
    /// `config` for configurations (autostart links in its `autostart/`) and `state` for
    /// live state.
    pub fn new(config: impl Into<PathBuf>, state: impl Into<PathBuf>) -> Dirs {
        let config = config.into();
        Dirs {
            autostart: config.join("autostart"),
            config,
            state: state.into(),
        }
    }

    /// `<config>/<name>.xml`.
    pub fn config_file(&self, name: &str) -> PathBuf {
        self.config.join(format!("{name}.xml"))
    }

    /// `<config>/autostart/<name>.xml`.
    pub fn autostart_link(&self, name: &str) -> PathBuf {
        self.autostart.join(format!("{name}.xml"))
    }

    /// `<state>/<name>.xml`.
    pub fn state_file(&self, name: &str) -> PathBuf {
        self.state.join(format!("{name}.xml"))
    }
}

/// `virXMLPickShellSafeComment`: the name if it is safe in a shell comment, else the UUID.
fn shell_safe(name: &str, uuid: &str) -> Option<String> {
    let bad = |s: &str| {
        s.contains("--")
            || s.chars()
                .any(|c| "\r\t\n !\"#$&'()*;<>?[\\]^`{|}~".contains(c))
    };
    [name, uuid]
        .into_iter()
        .find(|s| !bad(s))
        .map(str::to_string)
}

/// libvirt's warning header (`virXMLEmitWarning`) followed by `xml`.
fn with_warning(def: &PoolDef, xml: &str) -> String {
    let mut out = String::from(
        "<!--\nWARNING: THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE\n\
         OVERWRITTEN AND LOST. Changes to this xml configuration should be made using:\n  \
         virsh pool-edit",
    );
    if let Some(n) = shell_safe(&def.name, &uuid_format(&def.uuid)) {
        out.push(' ');
        out.push_str(&n);
    }
    out.push_str("\nor other application using the libvirt API.\n-->\n\n");
    out.push_str(xml);
    out
}

/// `virStoragePoolSaveConfig`: writes the persistent configuration.
pub fn save_config(dirs: &Dirs, def: &PoolDef) -> Result<PathBuf> {
    std::fs::create_dir_all(&dirs.config).map_err(|e| {
        Error::sys(
            format!("cannot create config directory {}", dirs.config.display()),
            &e,
        )
    })?;
    let path = dirs.config_file(&def.name);
    write_atomic(&path, with_warning(def, &def.format()).as_bytes(), 0o600)?;
    Ok(path)
}

/// `virStoragePoolObjDeleteDef`: removes the persistent configuration.
pub fn delete_config(path: &Path, name: &str) -> Result<()> {
    std::fs::remove_file(path)
        .map_err(|_| Error::internal(format!("cannot remove config for {name}")))
}

/// `virStoragePoolSaveState`: records that the pool runs, with its live definition.
pub fn save_state(dirs: &Dirs, def: &PoolDef) -> Result<()> {
    std::fs::create_dir_all(&dirs.state).map_err(|e| {
        Error::sys(
            format!("cannot create directory {}", dirs.state.display()),
            &e,
        )
    })?;
    let mut xml = String::from("<poolstate>\n");
    for line in def.format().lines() {
        xml.push_str("  ");
        xml.push_str(line);
        xml.push('\n');
    }
    xml.push_str("</poolstate>\n");
    write_atomic(
        &dirs.state_file(&def.name),
        with_warning(def, &xml).as_bytes(),
        0o600,
    )
}

/// Removes a pool's live state (missing is fine).
pub fn remove_state(dirs: &Dirs, name: &str) {
    let _ = std::fs::remove_file(dirs.state_file(name));
}

/// Makes (or removes) the autostart link of a configuration.
pub fn set_autostart(dirs: &Dirs, config: &Path, link: &Path, on: bool) -> Result<()> {
    if on {
        std::fs::create_dir_all(&dirs.autostart).map_err(|e| {
            Error::sys(
                format!(
                    "cannot create autostart directory {}",
                    dirs.autostart.display()
                ),
                &e,
            )
        })?;
        std::os::unix::fs::symlink(config, link).map_err(|e| {
            Error::sys(
                format!(
                    "Failed to create symlink '{}' to '{}'",
                    link.display(),
                    config.display()
                ),
                &e,
            )
        })
    } else {
        match std::fs::remove_file(link) {
            Ok(()) => Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR)) => {
                Ok(())
            }
            Err(e) => Err(Error::sys(
                format!("Failed to delete symlink '{}'", link.display()),
                &e,
            )),
        }
    }
}

/// A persistent pool found on disk.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Its configuration.
    pub def: PoolDef,
    /// The configuration file.
    pub config_file: PathBuf,
    /// Where its autostart link goes.
    pub autostart_link: PathBuf,
    /// Whether the link exists and points to the configuration.
    pub autostart: bool,
}

fn xml_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    v.sort();
    v
}

/// `virStoragePoolObjLoadAllConfigs`: every `<name>.xml` configuration; files that cannot be
/// used are reported through `warn` and skipped, as libvirt logs and skips them.
pub fn load_configs(dirs: &Dirs, warn: &mut dyn FnMut(String)) -> Vec<Loaded> {
    let mut out = Vec::new();
    for path in xml_files(&dirs.config) {
        let file = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                warn(Error::sys(format!("cannot read '{}'", path.display()), &e).message());
                continue;
            }
        };
        let def = match PoolDef::parse(&text) {
            Ok(d) => d,
            Err(e) => {
                warn(e.message());
                continue;
            }
        };
        if file != format!("{}.xml", def.name) {
            warn(format!(
                "XML error: Storage pool config filename '{}' does not match pool name '{}'",
                path.display(),
                def.name
            ));
            continue;
        }
        let link = dirs.autostart.join(&file);
        out.push(Loaded {
            autostart: link_points_to(&link, &path),
            def,
            config_file: path,
            autostart_link: link,
        });
    }
    out
}

/// `virStoragePoolObjLoadAllState`: the live definitions of the pools that were running.
pub fn load_states(dirs: &Dirs, warn: &mut dyn FnMut(String)) -> Vec<PoolDef> {
    let mut out = Vec::new();
    for path in xml_files(&dirs.state) {
        let name = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let parsed = std::fs::read_to_string(&path)
            .map_err(|e| Error::sys(format!("cannot read '{}'", path.display()), &e).message())
            .and_then(|text| {
                let doc = roxmltree::Document::parse(&text).map_err(|e| e.to_string())?;
                let node = doc
                    .descendants()
                    .find(|n| n.has_tag_name("pool"))
                    .ok_or("internal error: Could not find any 'pool' element in state file")?;
                PoolDef::parse_node(node).map_err(|e| e.message())
            });
        match parsed {
            Ok(def) if def.name == name => out.push(def),
            Ok(def) => warn(format!(
                "internal error: Storage pool state file '{}' does not match pool name '{}'",
                path.display(),
                def.name
            )),
            Err(e) => warn(e),
        }
    }
    out
}

/// `virDriverShouldAutostart`: true once per boot (until `<state>/autostarted` is removed,
/// which a tmpfs run directory does at reboot).
pub fn should_autostart(dirs: &Dirs) -> Result<bool> {
    let path = dirs.state.join("autostarted");
    if path.exists() {
        return Ok(false);
    }
    write_atomic(&path, b"", 0o600)?;
    Ok(true)
}

/// The driver's lock on its state directory (`<state>/driver.pid`): one daemon per directory.
#[derive(Debug)]
pub struct DriverLock {
    _file: File,
}

impl DriverLock {
    /// Creates the state directory and takes the lock, failing if another process (or driver
    /// instance) holds it.
    pub fn acquire(dirs: &Dirs) -> Result<DriverLock> {
        std::fs::create_dir_all(&dirs.state).map_err(|e| {
            Error::sys(
                format!("cannot create directory {}", dirs.state.display()),
                &e,
            )
        })?;
        let path = dirs.state.join("driver.pid");
        let shown = path.display().to_string();
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::sys(format!("Failed to open pid file '{shown}'"), &e))?;
        // A lock just released can still be held for a moment by a process forked elsewhere in
        // this daemon (fork copies the descriptor until exec closes it), so a busy lock is
        // retried briefly before another daemon is assumed to hold it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        loop {
            // SAFETY: flock on an open descriptor.
            if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                break;
            }
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EWOULDBLOCK) || std::time::Instant::now() > deadline {
                return Err(Error::sys(
                    format!("Failed to acquire pid file '{shown}'"),
                    &e,
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        use std::io::Write;
        f.set_len(0)
            .and_then(|_| writeln!(f, "{}", std::process::id()))
            .map_err(|e| Error::sys(format!("Failed to write to pid file '{shown}'"), &e))?;
        Ok(DriverLock { _file: f })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("rvirt-state-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        p
    }

    #[test]
    fn configs_states_and_links_round_trip() {
        let base = tmp("rt");
        let dirs = Dirs::new(base.join("cfg"), base.join("run"));
        let def = PoolDef::parse(
            "<pool type='dir'><name>p1</name><uuid>6afd46a0-4def-4540-b005-788ad44317d9</uuid>\
             <target><path>/srv/p1</path></target></pool>",
        )
        .unwrap();
        let cfg = save_config(&dirs, &def).unwrap();
        let text = std::fs::read_to_string(&cfg).unwrap();
        assert!(text.starts_with(
            "<!--\nWARNING: THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE\n\
             OVERWRITTEN AND LOST. Changes to this xml configuration should be made using:\n  \
             virsh pool-edit p1\nor other application using the libvirt API.\n-->\n\n<pool type='dir'>\n"
        ));
        let link = dirs.autostart_link("p1");
        set_autostart(&dirs, &cfg, &link, true).unwrap();
        save_state(&dirs, &def).unwrap();
        let mut warnings = Vec::new();
        let loaded = load_configs(&dirs, &mut |w| warnings.push(w));
        assert_eq!(loaded.len(), 1);
        assert!(loaded[0].autostart);
        assert_eq!(loaded[0].def, def);
        let states = load_states(&dirs, &mut |w| warnings.push(w));
        assert_eq!(states, vec![def.clone()]);
        std::fs::copy(&cfg, dirs.config.join("other.xml")).unwrap();
        let loaded = load_configs(&dirs, &mut |w| warnings.push(w));
        assert_eq!(loaded.len(), 1);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("does not match pool name 'p1'"));
        set_autostart(&dirs, &cfg, &link, false).unwrap();
        set_autostart(&dirs, &cfg, &link, false).unwrap();
        assert!(should_autostart(&dirs).unwrap());
        assert!(!should_autostart(&dirs).unwrap());
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn one_driver_per_state_directory() {
        let base = tmp("lock");
        let dirs = Dirs::new(base.join("cfg"), base.join("run"));
        let l = DriverLock::acquire(&dirs).unwrap();
        let e = DriverLock::acquire(&dirs).unwrap_err();
        assert!(
            e.message().contains("Failed to acquire pid file"),
            "{}",
            e.message()
        );
        drop(l);
        DriverLock::acquire(&dirs).unwrap();
        assert_eq!(shell_safe("a b", "u-1"), Some("u-1".into()));
        std::fs::remove_dir_all(&base).unwrap();
    }
}
