//! The running daemon: shared state, accept loops, auto-shutdown and orderly stop.
//!
//! One accept loop per socket. The main sockets share one `max_clients` budget and the admin
//! socket has its own (`admin_max_clients`); at the limit the daemon stops accepting until a
//! client leaves, and new connections wait in the listen backlog, as libvirtd's "suspended
//! services" do. On SIGTERM/SIGINT/SIGQUIT, or after `--timeout` seconds with no client and no
//! shutdown inhibitor (a running guest), the listeners close, the socket files are removed and
//! every client is disconnected.

use crate::client;
use crate::config::Config;
use crate::listen::Listener;
use crate::paths::{Mode, SocketKind};
use rvirt::Driver;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::net::UnixListener;
use tokio::sync::{watch, Semaphore};

/// State shared by every connection of the daemon.
pub struct Shared {
    /// The configuration in force.
    pub config: Config,
    /// System or session daemon.
    pub mode: Mode,
    next_client_id: AtomicU64,
    /// Event callback ids, one sequence per driver instance (libvirt numbers callbacks per
    /// driver event state): the instance, and the next id.
    callback_ids: Mutex<Vec<(Weak<dyn Driver>, i32)>>,
    clients: watch::Sender<usize>,
    inhibitors: watch::Sender<usize>,
    shutdown: watch::Sender<bool>,
}

/// Keeps the daemon from shutting down on `--timeout` while alive (a running guest).
pub struct Inhibitor(Arc<Shared>);

impl Drop for Inhibitor {
    fn drop(&mut self) {
        self.0.inhibitors.send_modify(|n| *n -= 1);
    }
}

/// Counts a connected client while alive.
pub(crate) struct ClientGuard(Arc<Shared>);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.clients.send_modify(|n| *n -= 1);
    }
}

impl Shared {
    /// Daemon state for `config` in `mode`.
    pub fn new(config: Config, mode: Mode) -> Arc<Self> {
        Arc::new(Self {
            config,
            mode,
            next_client_id: AtomicU64::new(1),
            callback_ids: Mutex::new(Vec::new()),
            clients: watch::channel(0).0,
            inhibitors: watch::channel(0).0,
            shutdown: watch::channel(false).0,
        })
    }

    /// Asks the daemon to stop.
    pub fn request_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Prevents the idle timeout from stopping the daemon while the returned guard lives.
    pub fn inhibit_shutdown(self: &Arc<Self>) -> Inhibitor {
        self.inhibitors.send_modify(|n| *n += 1);
        Inhibitor(self.clone())
    }

    /// Connected clients, on every socket.
    pub fn client_count(&self) -> usize {
        *self.clients.borrow()
    }

    pub(crate) fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The next event callback id of `driver`'s instance: one sequence for every kind of event,
    /// from 0, shared by the clients of a shared instance (`test:///default`) and restarting
    /// with a new instance, as libvirt's per-driver event state numbers them.
    pub(crate) fn next_callback_id(&self, driver: &Arc<dyn Driver>) -> i32 {
        let mut ids = self.callback_ids.lock().unwrap_or_else(|p| p.into_inner());
        ids.retain(|(w, _)| w.strong_count() > 0);
        let me = Arc::as_ptr(driver) as *const ();
        if let Some((_, next)) = ids.iter_mut().find(|(w, _)| w.as_ptr() as *const () == me) {
            *next += 1;
            return *next - 1;
        }
        ids.push((Arc::downgrade(driver), 1));
        0
    }

    pub(crate) fn client_connected(self: &Arc<Self>) -> ClientGuard {
        self.clients.send_modify(|n| *n += 1);
        ClientGuard(self.clone())
    }

    /// A receiver that turns true when the daemon stops.
    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}

async fn accept_loop(
    listener: UnixListener,
    path: PathBuf,
    kind: SocketKind,
    shared: Arc<Shared>,
    slots: Arc<Semaphore>,
) {
    let mut shutdown = shared.shutdown_signal();
    loop {
        // Accept first, then wait for a slot: a permit held while idly waiting in accept() would
        // starve the other sockets sharing the budget. At most one connection per socket waits
        // accepted but unserved; the rest wait in the backlog.
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.wait_for(|s| *s) => return,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                warn!("daemon", "{}: accept failed: {e}", path.display());
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if kind == SocketKind::Admin && !same_user(&stream) {
            continue;
        }
        let slot = match slots.clone().try_acquire_owned() {
            Ok(s) => s,
            Err(_) => {
                warn!(
                    "daemon",
                    "{}: client limit reached, new clients wait until one leaves",
                    path.display()
                );
                tokio::select! {
                    s = slots.clone().acquire_owned() => match s { Ok(s) => s, Err(_) => return },
                    _ = shutdown.wait_for(|s| *s) => return,
                }
            }
        };
        tokio::spawn(client::serve(stream, shared.clone(), kind, slot));
    }
}

/// The admin socket serves only the daemon's own user (libvirt's remoteAdmClientNew).
fn same_user(stream: &tokio::net::UnixStream) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    match stream.peer_cred() {
        Ok(c) if c.uid() == me => true,
        Ok(c) => {
            warn!(
                "admin",
                "Disallowing client {} with uid {}",
                c.pid().unwrap_or(-1),
                c.uid()
            );
            false
        }
        Err(e) => {
            warn!("admin", "cannot identify admin client: {e}");
            false
        }
    }
}

/// Waits until the daemon has been idle (no clients, no inhibitor) for `timeout`.
async fn idle_timeout(shared: Arc<Shared>, timeout: Duration) {
    let mut clients = shared.clients.subscribe();
    let mut inhibitors = shared.inhibitors.subscribe();
    loop {
        let idle = *clients.borrow_and_update() == 0 && *inhibitors.borrow_and_update() == 0;
        if idle {
            tokio::select! {
                _ = tokio::time::sleep(timeout) => {
                    info!("daemon", "no clients for {}s, shutting down", timeout.as_secs());
                    return;
                }
                _ = clients.changed() => {}
                _ = inhibitors.changed() => {}
            }
        } else {
            tokio::select! {
                _ = clients.changed() => {}
                _ = inhibitors.changed() => {}
            }
        }
    }
}

/// The signals that stop the daemon (SIGTERM, SIGINT, SIGQUIT) and SIGHUP, which libvirtd uses
/// to reload driver state and rvirtd only logs. Installed before the sockets exist, so that a
/// signal sent as soon as they appear is handled, not fatal.
pub struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers (inside the runtime).
    pub fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            quit: signal(SignalKind::quit())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// Waits for a stopping signal and returns its name.
    async fn stopping(&mut self) -> &'static str {
        loop {
            tokio::select! {
                _ = self.term.recv() => return "SIGTERM",
                _ = self.int.recv() => return "SIGINT",
                _ = self.quit.recv() => return "SIGQUIT",
                _ = self.hup.recv() => info!("daemon", "SIGHUP: nothing to reload"),
            }
        }
    }
}

/// Serves `listeners` until a signal, the idle `timeout` or [`Shared::request_shutdown`]; then
/// removes the socket files and disconnects every client.
pub async fn serve(
    listeners: Vec<Listener>,
    shared: Arc<Shared>,
    mut signals: Signals,
    timeout: Option<Duration>,
) {
    let main_slots = Arc::new(Semaphore::new(shared.config.max_clients.max(1) as usize));
    let admin_slots = Arc::new(Semaphore::new(
        shared.config.admin_max_clients.max(1) as usize
    ));
    let mut paths = Vec::new();
    let mut loops = Vec::new();
    for l in listeners {
        let slots = match l.spec.kind {
            SocketKind::Admin => admin_slots.clone(),
            _ => main_slots.clone(),
        };
        paths.push(l.spec.path.clone());
        match UnixListener::from_std(l.socket) {
            Ok(tl) => loops.push(tokio::spawn(accept_loop(
                tl,
                l.spec.path,
                l.spec.kind,
                shared.clone(),
                slots,
            ))),
            Err(e) => {
                warn!(
                    "daemon",
                    "{}: cannot register socket: {e}",
                    l.spec.path.display()
                );
                shared.request_shutdown();
            }
        }
    }

    let mut stop = shared.shutdown_signal();
    let idle = async {
        match timeout {
            Some(t) => idle_timeout(shared.clone(), t).await,
            None => std::future::pending().await,
        }
    };
    let signalled = async {
        let name = signals.stopping().await;
        info!("daemon", "{name} received, shutting down");
    };
    tokio::select! {
        _ = signalled => {}
        _ = idle => {}
        _ = stop.wait_for(|s| *s) => {}
    }
    shared.request_shutdown();
    for l in loops {
        let _ = l.await;
    }
    for p in &paths {
        if let Err(e) = std::fs::remove_file(p) {
            warn!("daemon", "cannot remove socket {}: {e}", p.display());
        }
    }
    // Clients see the shutdown signal and close; give them a moment to finish.
    let mut clients = shared.clients.subscribe();
    let _ = tokio::time::timeout(Duration::from_secs(5), clients.wait_for(|n| *n == 0)).await;
}
