//! URI splitting for network backing names (`nbd://host:port/export`, `gluster+tcp://…`).
//!
//! Covers what libvirt takes from libxml2's `xmlParseURI`: scheme, user, server, port, path and
//! query, with percent-escapes decoded in user, server and path. Anything malformed is refused.

/// A parsed URI.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Uri {
    /// Scheme, e.g. `nbd+unix`.
    pub scheme: String,
    /// User info before `@`, decoded.
    pub user: Option<String>,
    /// Host, decoded; IPv6 literals without brackets.
    pub server: Option<String>,
    /// Port, 0 when absent.
    pub port: u32,
    /// Path, decoded; `None` when the URI has none.
    pub path: Option<String>,
    /// Raw query after `?`.
    pub query: Option<String>,
}

fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Parses an absolute URI; `None` when it is not one.
pub fn parse(s: &str) -> Option<Uri> {
    if s.bytes()
        .any(|c| c <= b' ' || b"\"<>\\^`{|}".contains(&c) || c >= 0x7f)
    {
        return None;
    }
    let (scheme, rest) = s.split_once(':')?;
    let mut chars = scheme.chars();
    if !chars.next()?.is_ascii_alphabetic()
        || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return None;
    }
    let mut uri = Uri {
        scheme: scheme.to_string(),
        ..Default::default()
    };
    let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q.to_string())),
        None => (rest, None),
    };
    uri.query = query;
    let path = if let Some(after) = rest.strip_prefix("//") {
        let (auth, path) = match after.find('/') {
            Some(i) => (&after[..i], &after[i..]),
            None => (after, ""),
        };
        let hostport = match auth.rfind('@') {
            Some(i) => {
                uri.user = Some(decode(&auth[..i])?);
                &auth[i + 1..]
            }
            None => auth,
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, tail) = v6.split_once(']')?;
            match tail {
                "" => (h, None),
                t => (h, Some(t.strip_prefix(':')?)),
            }
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if let Some(p) = port.filter(|p| !p.is_empty()) {
            if !p.bytes().all(|c| c.is_ascii_digit()) || p.len() > 9 {
                return None;
            }
            uri.port = p.parse().ok()?;
        }
        if !host.is_empty() {
            uri.server = Some(decode(host)?);
        }
        path
    } else {
        rest
    };
    if !path.is_empty() {
        uri.path = Some(decode(path)?);
    }
    Some(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_libxml2() {
        let u = parse("nbd+unix:////exp?socket=/tmp/sock").unwrap();
        assert_eq!(u.scheme, "nbd+unix");
        assert_eq!(u.server, None);
        assert_eq!(u.path.as_deref(), Some("//exp"));
        assert_eq!(u.query.as_deref(), Some("socket=/tmp/sock"));
        let u = parse("http://user:pass@example.com:8080/a%5fb").unwrap();
        assert_eq!(u.user.as_deref(), Some("user:pass"));
        assert_eq!(u.server.as_deref(), Some("example.com"));
        assert_eq!(u.port, 8080);
        assert_eq!(u.path.as_deref(), Some("/a_b"));
        assert_eq!(
            parse("nbd://[::1]:10809").unwrap().server.as_deref(),
            Some("::1")
        );
        assert!(parse("://").is_none());
        assert!(parse("nbd://h:x/").is_none());
    }
}
