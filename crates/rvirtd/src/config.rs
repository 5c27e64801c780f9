//! The daemon's configuration file: libvirtd.conf syntax, libvirtd's keys and defaults.
//!
//! The syntax is libvirt's `virconf`: `key = value` statements separated by newlines or `;`,
//! values that are numbers, strings in `"…"`, `'…'` or `"""…"""`, or lists `[ "a", "b" ]`, and
//! `#` comments. Keys libvirtd knows but rvirtd does not implement, and keys nobody knows, are
//! ignored with a warning (libvirtd silently ignores unknown keys). A value of the wrong type or
//! out of range is an error that names the file, the line and the key.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A parsed configuration value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A number (`virconf` keeps the sign separately: `-1` is signed, `5` unsigned).
    Number(i64),
    /// A quoted string.
    String(String),
    /// A list of values.
    List(Vec<Value>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::List(_) => "a list",
        }
    }
}

/// One `key = value` statement and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key.
    pub key: String,
    /// The value.
    pub value: Value,
    /// 1-based line number.
    pub line: usize,
}

/// Why a configuration file could not be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid libvirtd.conf syntax.
    #[error("{file}:{line}: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A known key has a value of the wrong type or out of range.
    #[error("{file}:{line}: {key}: {message}")]
    Value {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// The key.
        key: String,
        /// What is wrong and what would be right.
        message: String,
    },
}

/// Authentication scheme of a UNIX socket (`auth_unix_rw`, `auth_unix_ro`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthScheme {
    /// No authentication (`"none"`): access is controlled by the socket's permissions.
    None,
}

/// The daemon settings rvirtd understands, with libvirtd's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Directory holding the sockets (`unix_sock_dir`); `None` = the mode's default.
    pub unix_sock_dir: Option<PathBuf>,
    /// Group owning the sockets (`unix_sock_group`).
    pub unix_sock_group: Option<String>,
    /// Permissions of the read-only socket (`unix_sock_ro_perms`, default 0777).
    pub unix_sock_ro_perms: u32,
    /// Permissions of the read-write sockets (`unix_sock_rw_perms`, default 0700).
    pub unix_sock_rw_perms: u32,
    /// Permissions of the admin socket (`unix_sock_admin_perms`, default 0700).
    pub unix_sock_admin_perms: u32,
    /// Listen on libvirt's socket names (`libvirt-sock`, `virtqemud-sock`, …) instead of rvirt's.
    pub listen_libvirt_paths: bool,
    /// Authentication on the read-write socket.
    pub auth_unix_rw: AuthScheme,
    /// Authentication on the read-only socket.
    pub auth_unix_ro: AuthScheme,
    /// Most simultaneous clients on the main sockets (`max_clients`, default 5000).
    pub max_clients: u32,
    /// Most calls of one client processed at once (`max_client_requests`, default 5).
    pub max_client_requests: u32,
    /// Seconds of silence before the daemon pings a client (`keepalive_interval`, default 5;
    /// 0 or less disables keepalive).
    pub keepalive_interval: i32,
    /// Unanswered pings before a client is dropped (`keepalive_count`, default 5).
    pub keepalive_count: u32,
    /// `admin_max_clients` (default 5000).
    pub admin_max_clients: u32,
    /// `admin_max_client_requests` (default 5).
    pub admin_max_client_requests: u32,
    /// `admin_keepalive_interval` (default 5).
    pub admin_keepalive_interval: i32,
    /// `admin_keepalive_count` (default 5).
    pub admin_keepalive_count: u32,
    /// `log_level`: 1 debug, 2 info, 3 warning, 4 error (default 3).
    pub log_level: u32,
    /// `log_outputs`, e.g. `"3:stderr 1:file:/var/log/rvirtd.log"`.
    pub log_outputs: Option<String>,
    /// `log_filters`, e.g. `"1:rpc 3:config"`.
    pub log_filters: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            unix_sock_dir: None,
            unix_sock_group: None,
            unix_sock_ro_perms: 0o777,
            unix_sock_rw_perms: 0o700,
            unix_sock_admin_perms: 0o700,
            listen_libvirt_paths: false,
            auth_unix_rw: AuthScheme::None,
            auth_unix_ro: AuthScheme::None,
            max_clients: 5000,
            max_client_requests: 5,
            keepalive_interval: 5,
            keepalive_count: 5,
            admin_max_clients: 5000,
            admin_max_client_requests: 5,
            admin_keepalive_interval: 5,
            admin_keepalive_count: 5,
            log_level: 3,
            log_outputs: None,
            log_filters: None,
        }
    }
}

/// Something in the file the daemon ignored; the caller logs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// 1-based line.
    pub line: usize,
    /// The key.
    pub key: String,
    /// Why it was ignored.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.key, self.message)
    }
}

/// Keys of libvirtd.conf that rvirtd accepts but does not act on (TCP/TLS listeners, SASL,
/// polkit, auditing, worker pools, …).
const IGNORED_LIBVIRTD_KEYS: &[&str] = &[
    "listen_tls",
    "listen_tcp",
    "tls_port",
    "tcp_port",
    "listen_addr",
    "auth_tcp",
    "auth_tls",
    "access_drivers",
    "key_file",
    "cert_file",
    "ca_file",
    "crl_file",
    "tls_no_sanity_certificate",
    "tls_no_verify_certificate",
    "tls_allowed_dn_list",
    "tls_priority",
    "tcp_min_ssf",
    "sasl_allowed_username_list",
    "min_workers",
    "max_workers",
    "prio_workers",
    "max_queued_clients",
    "max_anonymous_clients",
    "admin_min_workers",
    "admin_max_workers",
    "admin_max_queued_clients",
    "audit_level",
    "audit_logging",
    "host_uuid",
    "host_uuid_source",
    "ovs_timeout",
    "mdns_adv",
    "mdns_name",
];

/// Parses libvirtd.conf syntax. `file` is used in error messages.
pub fn parse_entries(text: &str, file: &str) -> Result<Vec<Entry>, ConfigError> {
    Parser {
        s: text.as_bytes(),
        pos: 0,
        line: 1,
        file,
    }
    .statements()
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    line: usize,
    file: &'a str,
}

impl Parser<'_> {
    fn err(&self, message: &str) -> ConfigError {
        ConfigError::Syntax {
            file: self.file.to_string(),
            line: self.line,
            message: message.to_string(),
        }
    }

    fn cur(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_blanks(&mut self) {
        while matches!(self.cur(), Some(b' ' | b'\t' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Skips blanks, newlines and `#` comments.
    fn skip_blanks_lines_comments(&mut self) {
        loop {
            match self.cur() {
                Some(b' ' | b'\t' | b'\r') => self.pos += 1,
                Some(b'\n') => {
                    self.pos += 1;
                    self.line += 1;
                }
                Some(b'#') => self.skip_comment(),
                _ => return,
            }
        }
    }

    fn skip_comment(&mut self) {
        while !matches!(self.cur(), None | Some(b'\n')) {
            self.pos += 1;
        }
    }

    fn statements(mut self) -> Result<Vec<Entry>, ConfigError> {
        let mut out = Vec::new();
        loop {
            self.skip_blanks_lines_comments();
            if self.cur().is_none() {
                return Ok(out);
            }
            let line = self.line;
            let key = self.name()?;
            self.skip_blanks();
            if self.cur() != Some(b'=') {
                return Err(self.err("expecting an assignment"));
            }
            self.pos += 1;
            self.skip_blanks();
            let value = self.value()?;
            out.push(Entry { key, value, line });
            // Separator: end of file, newline, `;`, or a comment running to the end of the line.
            self.skip_blanks();
            match self.cur() {
                None | Some(b'\n') => {}
                Some(b'#') => self.skip_comment(),
                Some(b';') => self.pos += 1,
                Some(_) => return Err(self.err("expecting a separator")),
            }
        }
    }

    fn name(&mut self) -> Result<String, ConfigError> {
        let start = self.pos;
        if !self.cur().is_some_and(|c| c.is_ascii_alphabetic()) {
            return Err(self.err("expecting a name"));
        }
        while self
            .cur()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            self.pos += 1;
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.pos]).into_owned())
    }

    fn value(&mut self) -> Result<Value, ConfigError> {
        match self.cur() {
            None => Err(self.err("expecting a value")),
            Some(b'"' | b'\'') => self.string().map(Value::String),
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                self.skip_blanks_lines_comments();
                if self.cur() != Some(b']') && self.cur().is_some() {
                    items.push(self.value()?);
                    self.skip_blanks_lines_comments();
                }
                while self.cur().is_some() && self.cur() != Some(b']') {
                    if self.cur() != Some(b',') {
                        return Err(self.err("expecting a separator in list"));
                    }
                    self.pos += 1;
                    self.skip_blanks_lines_comments();
                    if self.cur() == Some(b']') {
                        break;
                    }
                    items.push(self.value()?);
                    self.skip_blanks_lines_comments();
                }
                if self.cur() != Some(b']') {
                    return Err(self.err("list is not closed with ]"));
                }
                self.pos += 1;
                Ok(Value::List(items))
            }
            Some(c) if c.is_ascii_digit() || c == b'-' || c == b'+' => self.number(),
            Some(_) => Err(self.err("expecting a value")),
        }
    }

    fn number(&mut self) -> Result<Value, ConfigError> {
        let neg = match self.cur() {
            Some(b'-') => {
                self.pos += 1;
                true
            }
            Some(b'+') => {
                self.pos += 1;
                false
            }
            _ => false,
        };
        if !self.cur().is_some_and(|c| c.is_ascii_digit()) {
            return Err(self.err("unterminated number"));
        }
        let mut v: i64 = 0;
        while let Some(c) = self.cur().filter(u8::is_ascii_digit) {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(i64::from(c - b'0')))
                .ok_or_else(|| self.err("number too large"))?;
            self.pos += 1;
        }
        Ok(Value::Number(if neg { -v } else { v }))
    }

    fn string(&mut self) -> Result<String, ConfigError> {
        let quote = self.s[self.pos];
        if quote == b'"' && self.s[self.pos..].starts_with(b"\"\"\"") {
            self.pos += 3;
            let start = self.pos;
            while self.pos < self.s.len() && !self.s[self.pos..].starts_with(b"\"\"\"") {
                if self.s[self.pos] == b'\n' {
                    self.line += 1;
                }
                self.pos += 1;
            }
            if self.pos >= self.s.len() {
                return Err(self.err("unterminated string"));
            }
            let out = String::from_utf8_lossy(&self.s[start..self.pos]).into_owned();
            self.pos += 3;
            return Ok(out);
        }
        self.pos += 1;
        let start = self.pos;
        while !matches!(self.cur(), None | Some(b'\n' | b'\r')) && self.cur() != Some(quote) {
            self.pos += 1;
        }
        if self.cur() != Some(quote) {
            return Err(self.err("unterminated string"));
        }
        let out = String::from_utf8_lossy(&self.s[start..self.pos]).into_owned();
        self.pos += 1;
        Ok(out)
    }
}

/// Typed access to the entries, with errors naming file, line and key.
struct Lookup<'a> {
    file: &'a str,
    entries: HashMap<&'a str, &'a Entry>,
}

impl<'a> Lookup<'a> {
    fn new(file: &'a str, entries: &'a [Entry]) -> Self {
        // libvirt's virConfGetValue returns the first statement for a key.
        let mut map = HashMap::new();
        for e in entries {
            map.entry(e.key.as_str()).or_insert(e);
        }
        Self { file, entries: map }
    }

    fn bad(&self, e: &Entry, message: String) -> ConfigError {
        ConfigError::Value {
            file: self.file.to_string(),
            line: e.line,
            key: e.key.clone(),
            message,
        }
    }

    fn string(&self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.entries.get(key) {
            None => Ok(None),
            Some(e) => match &e.value {
                Value::String(s) => Ok(Some(s.clone())),
                v => Err(self.bad(e, format!("expected a string, found {}", v.kind()))),
            },
        }
    }

    fn uint(&self, key: &str, min: u32, out: &mut u32) -> Result<(), ConfigError> {
        let Some(e) = self.entries.get(key) else {
            return Ok(());
        };
        match e.value {
            Value::Number(n) if n >= 0 && n <= i64::from(u32::MAX) => {
                if (n as u32) < min {
                    return Err(
                        self.bad(e, format!("value {n} is too small, must be at least {min}"))
                    );
                }
                *out = n as u32;
                Ok(())
            }
            Value::Number(n) => {
                Err(self.bad(e, format!("value {n} must be in range 0:{}", u32::MAX)))
            }
            ref v => Err(self.bad(
                e,
                format!("expected an unsigned integer, found {}", v.kind()),
            )),
        }
    }

    fn int(&self, key: &str, out: &mut i32) -> Result<(), ConfigError> {
        let Some(e) = self.entries.get(key) else {
            return Ok(());
        };
        match e.value {
            Value::Number(n) => {
                *out = i32::try_from(n).map_err(|_| {
                    self.bad(
                        e,
                        format!("value {n} must be in range {}:{}", i32::MIN, i32::MAX),
                    )
                })?;
                Ok(())
            }
            ref v => Err(self.bad(e, format!("expected a signed integer, found {}", v.kind()))),
        }
    }

    fn bool(&self, key: &str, out: &mut bool) -> Result<(), ConfigError> {
        let Some(e) = self.entries.get(key) else {
            return Ok(());
        };
        match e.value {
            Value::Number(0) => *out = false,
            Value::Number(1) => *out = true,
            Value::Number(n) => {
                return Err(self.bad(e, format!("value {n} must be 0 or 1")));
            }
            ref v => {
                return Err(self.bad(e, format!("expected a bool (0 or 1), found {}", v.kind())));
            }
        }
        Ok(())
    }

    fn perms(&self, key: &str, out: &mut u32) -> Result<(), ConfigError> {
        let Some(s) = self.string(key)? else {
            return Ok(());
        };
        let e = self.entries[key];
        match u32::from_str_radix(s.trim(), 8) {
            Ok(m) if m <= 0o7777 => {
                *out = m;
                Ok(())
            }
            _ => Err(self.bad(
                e,
                format!("invalid socket mode \"{s}\": expected an octal mode such as \"0770\""),
            )),
        }
    }

    fn auth(&self, key: &str, out: &mut AuthScheme) -> Result<(), ConfigError> {
        let Some(s) = self.string(key)? else {
            return Ok(());
        };
        let e = self.entries[key];
        match s.as_str() {
            "none" => {
                *out = AuthScheme::None;
                Ok(())
            }
            "sasl" | "polkit" => Err(self.bad(
                e,
                format!(
                    "authentication \"{s}\" is not supported by rvirtd yet; use \"none\" and \
                     restrict access with unix_sock_group and the *_perms settings"
                ),
            )),
            _ => Err(self.bad(
                e,
                format!(
                    "unsupported auth \"{s}\" (libvirt knows \"none\", \"sasl\" and \"polkit\")"
                ),
            )),
        }
    }
}

impl Config {
    /// Builds the configuration from file text; returns it with warnings for ignored keys.
    pub fn parse(text: &str, file: &str) -> Result<(Self, Vec<Warning>), ConfigError> {
        let entries = parse_entries(text, file)?;
        let l = Lookup::new(file, &entries);
        let mut c = Config::default();
        if let Some(d) = l.string("unix_sock_dir")? {
            c.unix_sock_dir = Some(PathBuf::from(d));
        }
        c.unix_sock_group = l.string("unix_sock_group")?;
        l.perms("unix_sock_ro_perms", &mut c.unix_sock_ro_perms)?;
        l.perms("unix_sock_rw_perms", &mut c.unix_sock_rw_perms)?;
        l.perms("unix_sock_admin_perms", &mut c.unix_sock_admin_perms)?;
        l.bool("listen_libvirt_paths", &mut c.listen_libvirt_paths)?;
        l.auth("auth_unix_rw", &mut c.auth_unix_rw)?;
        l.auth("auth_unix_ro", &mut c.auth_unix_ro)?;
        l.uint("max_clients", 1, &mut c.max_clients)?;
        l.uint("max_client_requests", 1, &mut c.max_client_requests)?;
        l.int("keepalive_interval", &mut c.keepalive_interval)?;
        l.uint("keepalive_count", 0, &mut c.keepalive_count)?;
        l.uint("admin_max_clients", 1, &mut c.admin_max_clients)?;
        l.uint(
            "admin_max_client_requests",
            1,
            &mut c.admin_max_client_requests,
        )?;
        l.int("admin_keepalive_interval", &mut c.admin_keepalive_interval)?;
        l.uint("admin_keepalive_count", 0, &mut c.admin_keepalive_count)?;
        l.uint("log_level", 0, &mut c.log_level)?;
        if c.log_level > 4 {
            let e = l.entries["log_level"];
            return Err(l.bad(
                e,
                format!(
                    "value {} must be in range 1:4 (1 debug, 2 info, 3 warning, 4 error)",
                    c.log_level
                ),
            ));
        }
        c.log_outputs = l.string("log_outputs")?;
        c.log_filters = l.string("log_filters")?;

        let mut warnings = Vec::new();
        let known: &[&str] = &[
            "unix_sock_dir",
            "unix_sock_group",
            "unix_sock_ro_perms",
            "unix_sock_rw_perms",
            "unix_sock_admin_perms",
            "listen_libvirt_paths",
            "auth_unix_rw",
            "auth_unix_ro",
            "max_clients",
            "max_client_requests",
            "keepalive_interval",
            "keepalive_count",
            "admin_max_clients",
            "admin_max_client_requests",
            "admin_keepalive_interval",
            "admin_keepalive_count",
            "log_level",
            "log_outputs",
            "log_filters",
        ];
        for e in &entries {
            if known.contains(&e.key.as_str()) {
                continue;
            }
            let message = if IGNORED_LIBVIRTD_KEYS.contains(&e.key.as_str()) {
                "libvirtd setting not supported by rvirtd, ignored".to_string()
            } else {
                "unknown setting, ignored".to_string()
            };
            warnings.push(Warning {
                line: e.line,
                key: e.key.clone(),
                message,
            });
        }
        Ok((c, warnings))
    }

    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<(Self, Vec<Warning>), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_libvirtd_conf_syntax() {
        let text = r#"
# a comment
unix_sock_dir = "/tmp/x"   # trailing comment
unix_sock_rw_perms = '0770'; max_clients = 10
keepalive_interval = -1
tls_allowed_dn_list = [ "a",
   "b", # inside
]
log_outputs = """3:stderr"""
future_key = 3
"#;
        let (c, w) = Config::parse(text, "t.conf").unwrap();
        assert_eq!(c.unix_sock_dir, Some(PathBuf::from("/tmp/x")));
        assert_eq!(c.unix_sock_rw_perms, 0o770);
        assert_eq!(c.max_clients, 10);
        assert_eq!(c.keepalive_interval, -1);
        assert_eq!(c.log_outputs.as_deref(), Some("3:stderr"));
        assert_eq!(c.max_client_requests, 5);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].key, "tls_allowed_dn_list");
        assert_eq!(w[0].line, 6);
        assert_eq!(w[1].key, "future_key");
        assert!(w[1].message.contains("unknown"));
    }

    #[test]
    fn defaults_follow_libvirtd() {
        let (c, w) = Config::parse("", "empty").unwrap();
        assert!(w.is_empty());
        assert_eq!(c, Config::default());
        assert_eq!(c.unix_sock_ro_perms, 0o777);
        assert_eq!(c.unix_sock_rw_perms, 0o700);
        assert_eq!((c.keepalive_interval, c.keepalive_count), (5, 5));
        assert_eq!((c.max_clients, c.max_client_requests), (5000, 5));
    }

    fn err(text: &str) -> String {
        Config::parse(text, "/etc/rvirt/rvirtd.conf")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn errors_name_file_line_and_key() {
        assert_eq!(
            err("\nmax_clients = \"many\"\n"),
            "/etc/rvirt/rvirtd.conf:2: max_clients: expected an unsigned integer, found a string"
        );
        assert_eq!(
            err("max_client_requests = -3"),
            "/etc/rvirt/rvirtd.conf:1: max_client_requests: value -3 must be in range 0:4294967295"
        );
        assert!(err("max_client_requests = 0").contains("at least 1"));
        assert!(err("unix_sock_rw_perms = \"0789\"")
            .contains("unix_sock_rw_perms: invalid socket mode"));
        let auth = err("\n\nauth_unix_rw = \"polkit\"");
        assert!(auth.starts_with("/etc/rvirt/rvirtd.conf:3: auth_unix_rw: authentication \"polkit\" is not supported"), "{auth}");
        assert!(err("log_level = 7").contains("log_level: value 7 must be in range 1:4"));
        assert!(err("listen_libvirt_paths = 2").contains("must be 0 or 1"));
    }

    #[test]
    fn syntax_errors_name_the_line() {
        assert_eq!(
            err("a = 1\nb 2"),
            "/etc/rvirt/rvirtd.conf:2: expecting an assignment"
        );
        assert_eq!(
            err("a = \"open"),
            "/etc/rvirt/rvirtd.conf:1: unterminated string"
        );
        assert_eq!(
            err("a = [ 1 2 ]"),
            "/etc/rvirt/rvirtd.conf:1: expecting a separator in list"
        );
        assert_eq!(
            err("a = 1 2"),
            "/etc/rvirt/rvirtd.conf:1: expecting a separator"
        );
        assert_eq!(err("= 1"), "/etc/rvirt/rvirtd.conf:1: expecting a name");
        assert_eq!(err("a = x"), "/etc/rvirt/rvirtd.conf:1: expecting a value");
        assert_eq!(
            err("a = [ 1"),
            "/etc/rvirt/rvirtd.conf:1: list is not closed with ]"
        );
        assert_eq!(
            err("a = [ 1,"),
            "/etc/rvirt/rvirtd.conf:1: expecting a value"
        );
    }
}
