//! The keepalive protocol's server side, as libvirt's `virkeepalive.c` runs it.
//!
//! Any packet from the client proves it alive and resets the count. Once keepalive is started
//! (the client asked `CONNECT_SUPPORTS_FEATURE(PROGRAM_KEEPALIVE)`), every `interval` seconds
//! of silence the daemon sends a PING; after `count` unanswered PINGs and one more interval of
//! silence the client is declared dead and disconnected. A PING from the client is always
//! answered with a PONG, started or not. Keepalive messages are type MESSAGE, serial 0.

use rvirt_proto::packet::{
    Header, MessageType, Packet, Status, KEEPALIVE_PROC_PING, KEEPALIVE_PROC_PONG,
    KEEPALIVE_PROGRAM,
};
use std::time::{Duration, Instant};

/// What the timer decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    /// Nothing to do until the returned instant.
    Wait(Instant),
    /// Send a PING now.
    Ping,
    /// The client missed every PING: close it.
    Dead,
}

/// Keepalive state of one client.
#[derive(Debug)]
pub struct KeepAlive {
    interval: Option<Duration>,
    count: u32,
    count_to_death: u32,
    interval_start: Instant,
    started: bool,
}

impl KeepAlive {
    /// State for a new client; `interval <= 0` disables pings.
    pub fn new(interval: i32, count: u32, now: Instant) -> Self {
        Self {
            interval: (interval > 0).then(|| Duration::from_secs(interval as u64)),
            count,
            count_to_death: count,
            interval_start: now,
            started: false,
        }
    }

    /// Records a packet from the client.
    pub fn received(&mut self, now: Instant) {
        self.count_to_death = self.count;
        self.interval_start = now;
    }

    /// Starts pinging; returns false when keepalive is disabled by configuration.
    pub fn start(&mut self) -> bool {
        if self.interval.is_none() {
            return false;
        }
        let first = !self.started;
        self.started = true;
        first
    }

    /// Whether pings are running.
    pub fn started(&self) -> bool {
        self.started && self.interval.is_some()
    }

    /// Advances the timer.
    pub fn tick(&mut self, now: Instant) -> Tick {
        let Some(interval) = self.interval.filter(|_| self.started) else {
            return Tick::Wait(now + Duration::from_secs(3600));
        };
        let due = self.interval_start + interval;
        if now < due {
            return Tick::Wait(due);
        }
        if self.count_to_death == 0 {
            return Tick::Dead;
        }
        self.count_to_death -= 1;
        self.interval_start = now;
        Tick::Ping
    }
}

/// Whether a header is a keepalive message (handled before any program dispatch).
pub fn is_keepalive(h: &Header) -> bool {
    h.prog == KEEPALIVE_PROGRAM
        && h.vers == rvirt_proto::packet::PROTOCOL_VERSION
        && h.type_ == MessageType::Message as i32
}

fn message(proc_: i32) -> Vec<u8> {
    Packet {
        header: Header::new(
            KEEPALIVE_PROGRAM,
            proc_,
            MessageType::Message,
            0,
            Status::Ok,
        ),
        payload: Vec::new(),
    }
    .encode()
}

/// The wire bytes of a PING.
pub fn ping() -> Vec<u8> {
    message(KEEPALIVE_PROC_PING)
}

/// The wire bytes of a PONG.
pub fn pong() -> Vec<u8> {
    message(KEEPALIVE_PROC_PONG)
}

/// The keepalive procedure number answered with a PONG.
pub const PING: i32 = KEEPALIVE_PROC_PING;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_then_declares_dead() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut ka = KeepAlive::new(5, 2, t0);
        // Not started: never pings.
        assert!(matches!(ka.tick(t0 + 100 * s), Tick::Wait(_)));
        assert!(ka.start());
        assert!(!ka.start());
        ka.received(t0);
        assert_eq!(ka.tick(t0 + 4 * s), Tick::Wait(t0 + 5 * s));
        assert_eq!(ka.tick(t0 + 5 * s), Tick::Ping);
        assert_eq!(ka.tick(t0 + 9 * s), Tick::Wait(t0 + 10 * s));
        assert_eq!(ka.tick(t0 + 10 * s), Tick::Ping);
        assert_eq!(ka.tick(t0 + 15 * s), Tick::Dead);
        // Any packet revives it.
        ka.received(t0 + 15 * s);
        assert_eq!(ka.tick(t0 + 20 * s), Tick::Ping);
    }

    #[test]
    fn disabled_by_interval() {
        let t0 = Instant::now();
        let mut ka = KeepAlive::new(-1, 5, t0);
        assert!(!ka.start());
        assert!(!ka.started());
        assert!(matches!(
            ka.tick(t0 + Duration::from_secs(1000)),
            Tick::Wait(_)
        ));
    }

    #[test]
    fn wire_bytes() {
        assert_eq!(
            ping(),
            vec![
                0, 0, 0, 28, 0x6b, 0x65, 0x65, 0x70, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0,
                0, 0, 0, 0, 0
            ]
        );
        assert_eq!(pong()[15], 2);
    }
}
