//! Which driver serves a `CONNECT_OPEN` URI inside the daemon.
//!
//! `test:///default` is the process-wide shared test driver, `test:///path/node.xml` a private
//! one. `qemu:///system`, `qemu:///session` and libvirt's `storage:///…` open a
//! [`host_driver::HostDriver`] over the daemon's host drivers, started on first use with the
//! state directories of the daemon's mode: so far the storage driver; domain and network
//! methods answer "not supported" until their drivers are composed in. Every other URI gets
//! libvirt's `VIR_ERR_NO_CONNECT` "no connection driver available for URI".

use crate::host_driver::{Groups, HostDriver, Unsupported};
use crate::paths::{self, Mode};
use crate::server::{Inhibitor, Shared};
use rvirt::error::{code, domain};
use rvirt::uri::Uri;
use rvirt::{Driver, Error};
use rvirt_qemu::driver::{DriverPaths, QemuDriver};
use rvirt_storage::driver::Config as StorageConfig;
use rvirt_storage::pool::state::Dirs;
use rvirt_storage::StorageDriver;
use std::sync::{Arc, Mutex};

/// The URI an empty `CONNECT_OPEN` name means: `LIBVIRT_DEFAULT_URI` in the daemon's
/// environment, else the mode's QEMU URI (what libvirtd's driver probing would pick).
pub fn default_uri(mode: Mode) -> String {
    match std::env::var("LIBVIRT_DEFAULT_URI") {
        Ok(u) if !u.is_empty() => u,
        _ => match mode {
            Mode::System => "qemu:///system".into(),
            Mode::Session => "qemu:///session".into(),
        },
    }
}

/// Opens the driver for `name` (empty: [`default_uri`]).
pub fn open(name: &str, mode: Mode) -> Result<Arc<dyn Driver>, Error> {
    let name = if name.is_empty() {
        default_uri(mode)
    } else {
        name.to_string()
    };
    let no_driver = || Error::new(code::NO_CONNECT, domain::NONE, &name);
    let uri = Uri::parse(&name).map_err(|_| no_driver())?;
    let local = uri.transport.is_none() && uri.server.is_none();
    if uri.driver == "test" && local {
        return rvirt::test_driver::open(&uri, None);
    }
    if matches!(uri.driver.as_str(), "qemu" | "storage") && local {
        check_uri_path(&uri.driver, &uri.path, mode)?;
        let type_name = if uri.driver == "qemu" {
            "QEMU"
        } else {
            "storage"
        };
        let canonical = format!("{}://{}", uri.driver, uri.path);
        return Ok(Arc::new(HostDriver::new(canonical, type_name, host(mode)?)));
    }
    Err(no_driver())
}

/// `virConnectValidateURIPath`: a system daemon serves `/system` (and, for QEMU, `/session`
/// as libvirt's compatibility exception); a session daemon only `/session`.
fn check_uri_path(entity: &str, path: &str, mode: Mode) -> Result<(), Error> {
    let ok = match mode {
        Mode::System => path == "/system" || (entity == "qemu" && path == "/session"),
        Mode::Session => path == "/session",
    };
    if ok {
        return Ok(());
    }
    let want = match mode {
        Mode::System => "system",
        Mode::Session => "session",
    };
    Err(Error::internal(
        domain::NONE,
        format!("unexpected {entity} URI path '{path}', try {entity}:///{want}"),
    ))
}

/// The storage driver's directories for a daemon mode: configurations in the mode's
/// configuration directory (`/etc/rvirt/storage`, `$XDG_CONFIG_HOME/rvirt/storage`), live
/// state in its runtime directory (`/run/rvirt/storage`, `$XDG_RUNTIME_DIR/rvirt/storage/run`),
/// as libvirt lays out `/etc/libvirt/storage` and `/run/libvirt/storage`.
pub fn storage_dirs(mode: Mode) -> Dirs {
    let config = paths::default_config_file(mode)
        .parent()
        .map(|p| p.join("storage"))
        .unwrap_or_else(|| "storage".into());
    let run = paths::default_socket_dir(mode, false).join("storage");
    match mode {
        Mode::System => Dirs::new(config, run),
        Mode::Session => Dirs::new(config, run.join("run")),
    }
}

/// Starts the host drivers of `mode` now rather than at the first `qemu:///` or `storage:///`
/// connection, so that pools are restored and autostarted when the daemon starts, as libvirtd
/// does. Meant for the daemon's startup; calling it again does nothing.
pub fn start_host_drivers(mode: Mode) -> Result<(), Error> {
    host(mode).map(|_| ())
}

/// Keeps the daemon's `--timeout` from stopping it while any guest of `mode`'s hypervisor runs,
/// as libvirt's QEMU driver holds the daemon's inhibitor for each active domain: counts running
/// domains once the host drivers are up (re-attached guests included), and again after every
/// event they raise (and every few seconds, in case an event was missed). Runs until the
/// daemon's runtime ends.
pub async fn inhibit_while_guests_run(shared: Arc<Shared>, mode: Mode) {
    let groups = match tokio::task::spawn_blocking(move || host(mode)).await {
        Ok(Ok(g)) => g,
        _ => return,
    };
    let mut events = groups.events.subscribe();
    let mut held: Option<Inhibitor> = None;
    loop {
        match groups.hypervisor.num_of_domains().await {
            Ok(n) if n > 0 => {
                if held.is_none() {
                    held = Some(shared.inhibit_shutdown());
                }
            }
            Ok(_) => held = None,
            // Unsupported (no QEMU) or a transient failure: keep the previous decision.
            Err(_) => {}
        }
        tokio::select! {
            r = events.recv() => {
                if let Err(tokio::sync::broadcast::error::RecvError::Closed) = r {
                    return;
                }
            }
            _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
        }
    }
}

/// The QEMU driver of `mode` with its state directories (session: XDG config/runtime/cache
/// dirs; system: `/etc/rvirt/qemu`, `/run/rvirt/qemu`, `/var/log/rvirt/qemu`). It re-attaches
/// to running guests and starts autostart domains as it opens. Must run on a blocking thread.
fn open_qemu(
    mode: Mode,
    events: &tokio::sync::broadcast::Sender<rvirt::Event>,
) -> Result<QemuDriver, Error> {
    let (paths, uri) = match mode {
        Mode::System => (DriverPaths::system(), "qemu:///system"),
        Mode::Session => (DriverPaths::session(), "qemu:///session"),
    };
    tokio::runtime::Handle::current().block_on(QemuDriver::open_with(
        paths,
        uri,
        Some(events.clone()),
    ))
}

/// The host drivers of `mode`, started on first use (the storage driver loads its pools then
/// and autostarts them once per boot).
fn host(mode: Mode) -> Result<Groups, Error> {
    static HOSTS: Mutex<Vec<(Mode, Groups)>> = Mutex::new(Vec::new());
    let mut hosts = HOSTS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, g)) = hosts.iter().find(|(m, _)| *m == mode) {
        return Ok(g.clone());
    }
    let (events, _) = tokio::sync::broadcast::channel(1024);
    let storage = StorageDriver::open(
        StorageConfig {
            dirs: storage_dirs(mode),
            autostart: true,
        },
        Some(events.clone()),
    )?;
    for w in storage.take_warnings() {
        warn!("storage", "{w}");
    }
    let hypervisor: Arc<dyn Driver> = match open_qemu(mode, &events) {
        Ok(q) => Arc::new(q),
        Err(e) => {
            // Storage keeps working on a host without QEMU; domain calls answer "not supported".
            warn!("qemu", "QEMU driver unavailable: {}", e.message);
            Arc::new(Unsupported)
        }
    };
    let groups = Groups {
        hypervisor,
        network: Arc::new(Unsupported),
        storage: Arc::new(storage),
        events,
    };
    hosts.push((mode, groups.clone()));
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_drivers_get_libvirts_error() {
        let e = open("qemu+ssh://h/system", Mode::System).err().unwrap();
        assert_eq!((e.code, e.domain), (code::NO_CONNECT, domain::NONE));
        assert_eq!(
            e.message,
            "no connection driver available for qemu+ssh://h/system"
        );
        let e = open("lxc:///", Mode::System).err().unwrap();
        assert_eq!(e.message, "no connection driver available for lxc:///");
        let e = open("foo:///bar", Mode::System).err().unwrap();
        assert_eq!(e.message, "no connection driver available for foo:///bar");
    }

    #[test]
    fn host_uris_follow_the_daemon_mode() {
        let e = open("qemu:///system", Mode::Session).err().unwrap();
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                code::INTERNAL_ERROR,
                "internal error: unexpected qemu URI path '/system', try qemu:///session"
            )
        );
        let e = open("storage:///session", Mode::System).err().unwrap();
        assert_eq!(
            e.message,
            "internal error: unexpected storage URI path '/session', try storage:///system"
        );
        assert!(check_uri_path("qemu", "/session", Mode::System).is_ok());
        let d = storage_dirs(Mode::System);
        assert_eq!(
            (d.config.to_str(), d.autostart.to_str(), d.state.to_str()),
            (
                Some("/etc/rvirt/storage"),
                Some("/etc/rvirt/storage/autostart"),
                Some("/run/rvirt/storage")
            )
        );
    }
}
