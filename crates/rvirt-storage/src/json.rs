//! A small JSON reader for `json:{…}` backing names, with libvirt's key deflattening.
//!
//! Objects keep their keys in order. Numbers keep their text, because libvirt converts them per
//! use (unsigned, int). Nesting is bounded so a hostile header cannot exhaust the stack.

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`
    Null,
    /// `true`/`false`
    Bool(bool),
    /// A number, as written.
    Number(String),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object, keys in order.
    Object(Vec<(String, Value)>),
}

const MAX_DEPTH: usize = 64;

/// A member that should be an unsigned integer is something else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotUnsigned;

impl Value {
    /// Member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    /// Member `key` if it is a string (`virJSONValueObjectGetString`).
    pub fn str(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    /// Member `key` as a string, or a number's text (`virJSONValueObjectGetStringOrNumber`).
    pub fn str_or_number(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Value::String(s) | Value::Number(s) => Some(s),
            _ => None,
        }
    }
    /// Member `key` if it is an object.
    pub fn object(&self, key: &str) -> Option<&Value> {
        self.get(key).filter(|v| matches!(v, Value::Object(_)))
    }
    /// Member `key` if it is an array.
    pub fn array(&self, key: &str) -> Option<&[Value]> {
        match self.get(key)? {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
    /// Member `key` as an unsigned number; `Err` when present but not one.
    pub fn u64(&self, key: &str) -> Result<Option<u64>, NotUnsigned> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n.parse().map(Some).map_err(|_| NotUnsigned),
            Some(_) => Err(NotUnsigned),
        }
    }
    /// Member `key` as a signed 32-bit number.
    pub fn i32(&self, key: &str) -> Option<i32> {
        match self.get(key)? {
            Value::Number(n) => n.parse().ok(),
            _ => None,
        }
    }
    /// Member `key` as a boolean.
    pub fn bool(&self, key: &str) -> Option<bool> {
        match self.get(key)? {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    /// Whether the object has member `key`.
    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

/// Parses `text` as one JSON value (surrounding whitespace allowed).
pub fn parse(text: &str) -> Result<Value, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let v = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("trailing garbage at offset {}", p.i));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at offset {}", self.i))
    }

    fn eat(&mut self, lit: &str) -> bool {
        if self.s[self.i..].starts_with(lit.as_bytes()) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return self.err("nesting too deep");
        }
        self.ws();
        match self.s.get(self.i) {
            None => self.err("unexpected end"),
            Some(b'{') => {
                self.i += 1;
                let mut members: Vec<(String, Value)> = Vec::new();
                self.ws();
                if self.eat("}") {
                    return Ok(Value::Object(members));
                }
                loop {
                    self.ws();
                    if self.s.get(self.i) != Some(&b'"') {
                        return self.err("expected key");
                    }
                    let key = self.string()?;
                    self.ws();
                    if !self.eat(":") {
                        return self.err("expected ':'");
                    }
                    let v = self.value(depth + 1)?;
                    if members.iter().any(|(k, _)| *k == key) {
                        return Err(format!("duplicate key '{key}'"));
                    }
                    members.push((key, v));
                    self.ws();
                    if self.eat(",") {
                        continue;
                    }
                    if self.eat("}") {
                        return Ok(Value::Object(members));
                    }
                    return self.err("expected ',' or '}'");
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.eat("]") {
                    return Ok(Value::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    if self.eat(",") {
                        continue;
                    }
                    if self.eat("]") {
                        return Ok(Value::Array(items));
                    }
                    return self.err("expected ',' or ']'");
                }
            }
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b't') if self.eat("true") => Ok(Value::Bool(true)),
            Some(b'f') if self.eat("false") => Ok(Value::Bool(false)),
            Some(b'n') if self.eat("null") => Ok(Value::Null),
            Some(c) if *c == b'-' || c.is_ascii_digit() => {
                let start = self.i;
                while self.i < self.s.len()
                    && matches!(
                        self.s[self.i],
                        b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'
                    )
                {
                    self.i += 1;
                }
                let t = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
                if t.parse::<f64>().is_err() {
                    return self.err("invalid number");
                }
                Ok(Value::Number(t.to_string()))
            }
            Some(_) => self.err("unexpected character"),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.i += 1; // opening quote
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.i) else {
                return self.err("unterminated string");
            };
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.s.get(self.i) else {
                        return self.err("unterminated string");
                    };
                    self.i += 1;
                    match e {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xD800..0xDC00).contains(&cp) && self.eat("\\u") {
                                let lo = self.hex4()?;
                                cp = 0x10000
                                    + ((cp - 0xD800) << 10)
                                    + (lo.wrapping_sub(0xDC00) & 0x3ff);
                            }
                            let ch = char::from_u32(cp).unwrap_or('\u{fffd}');
                            let mut b = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
                        }
                        _ => return self.err("invalid escape"),
                    }
                }
                c if c < 0x20 => return self.err("control character in string"),
                c => out.push(c),
            }
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let h = self
            .s
            .get(self.i..self.i + 4)
            .and_then(|h| std::str::from_utf8(h).ok());
        match h.and_then(|h| u32::from_str_radix(h, 16).ok()) {
            Some(v) => {
                self.i += 4;
                Ok(v)
            }
            None => self.err("invalid \\u escape"),
        }
    }
}

/// Turns dotted keys (`"file.driver"`) into nested objects and objects whose keys are exactly
/// `0..n` into arrays, like `virJSONValueObjectDeflatten`.
pub fn deflatten(v: &Value) -> Result<Value, String> {
    let mut out = deflatten_keys(v)?;
    deflatten_arrays(&mut out);
    Ok(out)
}

fn deflatten_keys(v: &Value) -> Result<Value, String> {
    let Value::Object(members) = v else {
        return Ok(v.clone());
    };
    let mut out: Vec<(String, Value)> = Vec::new();
    for (k, val) in members {
        insert(&mut out, k, val)?;
    }
    Ok(Value::Object(out))
}

fn insert(obj: &mut Vec<(String, Value)>, key: &str, val: &Value) -> Result<(), String> {
    match key.split_once('.') {
        None => {
            if obj.iter().any(|(k, _)| k == key) {
                return Err(format!("can't deflatten colliding key '{key}'"));
            }
            let v = if matches!(val, Value::Object(_)) {
                deflatten_keys(val)?
            } else {
                val.clone()
            };
            obj.push((key.to_string(), v));
            Ok(())
        }
        Some((head, rest)) => {
            if head.is_empty() || rest.is_empty() {
                return Err(format!("invalid nested value key '{key}'"));
            }
            let idx = match obj.iter().position(|(k, _)| k == head) {
                Some(i) => i,
                None => {
                    obj.push((head.to_string(), Value::Object(Vec::new())));
                    obj.len() - 1
                }
            };
            match &mut obj[idx].1 {
                Value::Object(inner) => insert(inner, rest, val),
                _ => {
                    Err("mixing nested objects and values is forbidden in JSON deflattening".into())
                }
            }
        }
    }
}

fn deflatten_arrays(v: &mut Value) {
    let Value::Object(members) = v else { return };
    for (_, m) in members.iter_mut() {
        deflatten_arrays(m);
    }
    let n = members.len();
    let mut slots: Vec<Option<Value>> = vec![None; n];
    for (k, m) in members.iter() {
        match k.parse::<usize>() {
            Ok(i) if i < n && slots[i].is_none() && !k.starts_with('+') => {
                slots[i] = Some(m.clone())
            }
            _ => return,
        }
    }
    if n == 0 {
        return;
    }
    *v = Value::Array(
        slots
            .into_iter()
            .map(|s| s.unwrap_or(Value::Null))
            .collect(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_deflattens() {
        let v = parse(
            r#"{"file.driver":"gluster","file.server.0.host":"a","file.server.1.host":"b","n":12}"#,
        )
        .unwrap();
        let d = deflatten(&v).unwrap();
        let file = d.object("file").unwrap();
        assert_eq!(file.str("driver"), Some("gluster"));
        let servers = file.array("server").unwrap();
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[1].str("host"), Some("b"));
        assert_eq!(d.u64("n"), Ok(Some(12)));
        assert_eq!(d.u64("file"), Err(NotUnsigned));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(parse("").is_err());
        assert!(parse("asdgsdfg").is_err());
        assert!(parse("{\"a\":1,\"a\":2}").is_err());
        assert!(parse(&"[".repeat(1000)).is_err());
        let v = parse(r#"{"file":{"driver":"x"},"file.driver":"y"}"#).unwrap();
        assert!(deflatten(&v).is_err());
        assert_eq!(parse(r#""\u00e9\n""#).unwrap(), Value::String("é\n".into()));
    }
}
