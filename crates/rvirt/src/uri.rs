//! libvirt connection URIs: `driver[+transport]://[user@][host][:port]/path[?query]`.
//!
//! Parsing follows libvirt's rules (`virURIParse`, `remoteSplitURIScheme`): the scheme splits into
//! a driver name and a transport; query parameters that only steer the client (`socket`,
//! `keyfile`, `no_verify`, …) are removed before the URI is sent to a daemon in `CONNECT_OPEN`.

use crate::error::{code, domain, Error, Result};

/// Query parameters the client consumes and never forwards (`doRemoteOpen`).
const CLIENT_ONLY_PARAMS: &[&str] = &[
    "name",
    "command",
    "socket",
    "auth",
    "sshauth",
    "netcat",
    "keyfile",
    "pkipath",
    "known_hosts",
    "known_hosts_verify",
    "tls_priority",
    "mode",
    "proxy",
    "no_sanity",
    "no_verify",
    "no_tty",
    "authfile",
];

/// Transports of the remote driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Local UNIX socket.
    Unix,
    /// Plain TCP (port 16509).
    Tcp,
    /// TLS over TCP (port 16514).
    Tls,
    /// An ssh tunnel.
    Ssh,
    /// An external command.
    Ext,
    /// In-process libssh2.
    Libssh2,
    /// In-process libssh.
    Libssh,
}

impl Transport {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "unix" => Self::Unix,
            "tcp" => Self::Tcp,
            "tls" => Self::Tls,
            "ssh" => Self::Ssh,
            "ext" => Self::Ext,
            "libssh2" => Self::Libssh2,
            "libssh" => Self::Libssh,
            _ => return None,
        })
    }
}

/// A parsed connection URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri {
    /// The whole URI as given.
    pub original: String,
    /// Driver part of the scheme (`qemu`, `test`, `lxc`, `remote`).
    pub driver: String,
    /// Explicit transport after `+`, if any.
    pub transport: Option<Transport>,
    /// User before `@`.
    pub user: Option<String>,
    /// Host name, if any.
    pub server: Option<String>,
    /// Port, if any.
    pub port: Option<u16>,
    /// Path (`/system`, `/session`, `/default`, a file path).
    pub path: String,
    /// Query parameters in order, percent-decoded.
    pub params: Vec<(String, String)>,
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn bad(uri: &str, why: &str) -> Error {
    Error::new(
        code::INVALID_ARG,
        domain::URI,
        format!("unable to parse URI {uri}: {why}"),
    )
}

impl Uri {
    /// Parses `s`.
    pub fn parse(s: &str) -> Result<Self> {
        let (scheme, rest) = s.split_once(':').ok_or_else(|| bad(s, "missing scheme"))?;
        if scheme.is_empty()
            || !scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        {
            return Err(bad(s, "invalid scheme"));
        }
        let (driver, transport) = match scheme.split_once('+') {
            Some((d, t)) => {
                let tr = Transport::parse(&t.to_ascii_lowercase()).ok_or_else(|| {
                    Error::new(
                        code::INVALID_ARG,
                        domain::REMOTE,
                        "transport in URL not recognised (should be tls|unix|ssh|ext|tcp|libssh2|libssh)",
                    )
                })?;
                (d.to_string(), Some(tr))
            }
            None => (scheme.to_string(), None),
        };
        let (before_query, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        let before_query = before_query.split('#').next().unwrap_or("");
        let (authority, path) = if let Some(r) = before_query.strip_prefix("//") {
            match r.find('/') {
                Some(i) => (Some(&r[..i]), r[i..].to_string()),
                None => (Some(r), String::new()),
            }
        } else {
            (None, before_query.to_string())
        };
        let mut user = None;
        let mut server = None;
        let mut port = None;
        if let Some(a) = authority {
            let hostport = match a.rsplit_once('@') {
                Some((u, h)) => {
                    user = Some(pct_decode(u));
                    h
                }
                None => a,
            };
            let (host, p) = if let Some(h) = hostport.strip_prefix('[') {
                let (h, tail) = h.split_once(']').ok_or_else(|| bad(s, "bad IPv6 host"))?;
                (h.to_string(), tail.strip_prefix(':'))
            } else {
                match hostport.rsplit_once(':') {
                    Some((h, p)) => (h.to_string(), Some(p)),
                    None => (hostport.to_string(), None),
                }
            };
            if let Some(p) = p.filter(|p| !p.is_empty()) {
                port = Some(p.parse().map_err(|_| bad(s, "invalid port"))?);
            }
            if !host.is_empty() {
                server = Some(host);
            }
        }
        let mut params = Vec::new();
        if let Some(q) = query {
            for kv in q.split(['&', ';']).filter(|x| !x.is_empty()) {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                params.push((pct_decode(k), pct_decode(v)));
            }
        }
        Ok(Self {
            original: s.to_string(),
            driver,
            transport,
            user,
            server,
            port,
            path: pct_decode(&path),
            params,
        })
    }

    /// The value of query parameter `key`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The transport the remote driver will use: explicit, else TLS with a host, else UNIX.
    pub fn effective_transport(&self) -> Transport {
        self.transport.unwrap_or(if self.server.is_some() {
            Transport::Tls
        } else {
            Transport::Unix
        })
    }

    /// The name sent in `CONNECT_OPEN`: `?name=` if given, `""` for `remote` schemes, else the
    /// URI without transport, server, user and client-only parameters (`qemu+unix:///session?socket=P`
    /// → `qemu:///session`).
    pub fn remote_name(&self) -> String {
        if let Some(n) = self.param("name") {
            return n.to_string();
        }
        if self.driver == "remote" {
            return String::new();
        }
        let mut out = format!("{}://{}", self.driver, self.path);
        let kept: Vec<String> = self
            .params
            .iter()
            .filter(|(k, _)| !CLIENT_ONLY_PARAMS.contains(&k.as_str()))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !kept.is_empty() {
            out.push('?');
            out.push_str(&kept.join("&"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_scheme_and_strips_client_params() {
        let u = Uri::parse("qemu+unix:///session?socket=/tmp/x%20y").unwrap();
        assert_eq!(u.driver, "qemu");
        assert_eq!(u.transport, Some(Transport::Unix));
        assert_eq!(u.path, "/session");
        assert_eq!(u.param("socket"), Some("/tmp/x y"));
        assert_eq!(u.remote_name(), "qemu:///session");

        let t = Uri::parse("test+unix:///default?socket=/a/b").unwrap();
        assert_eq!(t.remote_name(), "test:///default");

        let s = Uri::parse("qemu+ssh://root@host.example:2222/system?keyfile=k&foo=bar").unwrap();
        assert_eq!(s.user.as_deref(), Some("root"));
        assert_eq!(s.server.as_deref(), Some("host.example"));
        assert_eq!(s.port, Some(2222));
        assert_eq!(s.remote_name(), "qemu:///system?foo=bar");

        let d = Uri::parse("qemu://h/system").unwrap();
        assert_eq!(d.effective_transport(), Transport::Tls);
        assert_eq!(Uri::parse("remote:///").unwrap().remote_name(), "");
        assert_eq!(Uri::parse("test:///default").unwrap().path, "/default");
        assert_eq!(Uri::parse("lxc:///").unwrap().path, "/");
    }

    #[test]
    fn rejects_garbage() {
        assert!(Uri::parse("no-scheme-here").is_err());
        assert_eq!(
            Uri::parse("qemu+pigeon:///system").unwrap_err().code,
            code::INVALID_ARG
        );
        assert!(Uri::parse("qemu://h:notaport/system").is_err());
    }
}
