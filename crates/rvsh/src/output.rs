//! virsh's output formats: the column table of `list`/`net-list`/`pool-list`/`vol-list`
//! (`vsh-table.c`), the `Label:    value` field lines of the `*info` commands, human-readable
//! capacities (`vshPrettyCapacity`), event timestamps, and the state/reason/event names.
//!
//! Commands build their text here and print it through `Ctl`; nothing in this module does I/O, so
//! the formats are unit-tested byte for byte.

use unicode_width::UnicodeWidthChar;

/// Whether the C library would decode multibyte text here: virsh's table code decodes cells with
/// `mbrtowc`, so in a non-UTF-8 (e.g. `C`) locale every non-ASCII byte is escaped.
pub fn locale_is_utf8() -> bool {
    for var in ["LC_ALL", "LC_CTYPE", "LANG"] {
        if let Ok(v) = std::env::var(var) {
            if !v.is_empty() {
                let v = v.to_ascii_lowercase();
                return v.contains("utf-8") || v.contains("utf8");
            }
        }
    }
    false
}

/// `\xNN` as virsh writes it for a byte: the byte goes through C's `char` (signed) into `%02x`
/// and the result is cut to four characters, so every byte above 0x7f comes out as `\xff`.
fn hex_escape(b: u8) -> &'static str {
    if b >= 0x80 {
        return "\\xff";
    }
    ESCAPES[b as usize]
}

static ESCAPES: [&str; 128] = [
    "\\x00", "\\x01", "\\x02", "\\x03", "\\x04", "\\x05", "\\x06", "\\x07", "\\x08", "\\x09",
    "\\x0a", "\\x0b", "\\x0c", "\\x0d", "\\x0e", "\\x0f", "\\x10", "\\x11", "\\x12", "\\x13",
    "\\x14", "\\x15", "\\x16", "\\x17", "\\x18", "\\x19", "\\x1a", "\\x1b", "\\x1c", "\\x1d",
    "\\x1e", "\\x1f", "\\x20", "\\x21", "\\x22", "\\x23", "\\x24", "\\x25", "\\x26", "\\x27",
    "\\x28", "\\x29", "\\x2a", "\\x2b", "\\x2c", "\\x2d", "\\x2e", "\\x2f", "\\x30", "\\x31",
    "\\x32", "\\x33", "\\x34", "\\x35", "\\x36", "\\x37", "\\x38", "\\x39", "\\x3a", "\\x3b",
    "\\x3c", "\\x3d", "\\x3e", "\\x3f", "\\x40", "\\x41", "\\x42", "\\x43", "\\x44", "\\x45",
    "\\x46", "\\x47", "\\x48", "\\x49", "\\x4a", "\\x4b", "\\x4c", "\\x4d", "\\x4e", "\\x4f",
    "\\x50", "\\x51", "\\x52", "\\x53", "\\x54", "\\x55", "\\x56", "\\x57", "\\x58", "\\x59",
    "\\x5a", "\\x5b", "\\x5c", "\\x5d", "\\x5e", "\\x5f", "\\x60", "\\x61", "\\x62", "\\x63",
    "\\x64", "\\x65", "\\x66", "\\x67", "\\x68", "\\x69", "\\x6a", "\\x6b", "\\x6c", "\\x6d",
    "\\x6e", "\\x6f", "\\x70", "\\x71", "\\x72", "\\x73", "\\x74", "\\x75", "\\x76", "\\x77",
    "\\x78", "\\x79", "\\x7a", "\\x7b", "\\x7c", "\\x7d", "\\x7e", "\\x7f",
];

/// Makes a cell printable and measures its width (`vshTableSafeEncode`): control characters,
/// `\x` sequences and undecodable or unprintable characters become `\xNN`.
pub fn safe_encode(s: &str, utf8: bool) -> (String, usize) {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut width = 0;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if (c == b'\\' && b.get(i + 1) == Some(&b'x')) || c.is_ascii_control() {
            out.push_str(hex_escape(c));
            width += 4;
            i += 1;
            continue;
        }
        if c < 0x80 {
            out.push(c as char);
            width += 1;
            i += 1;
            continue;
        }
        if !utf8 {
            out.push_str(hex_escape(c));
            width += 4;
            i += 1;
            continue;
        }
        // `s` is valid UTF-8, so a non-ASCII byte here starts a whole character.
        let ch = s[i..].chars().next().expect("char boundary");
        let len = ch.len_utf8();
        if ch.is_control() {
            for &x in &b[i..i + len] {
                out.push_str(hex_escape(x));
                width += 4;
            }
        } else {
            out.push(ch);
            width += ch.width().unwrap_or(0);
        }
        i += len;
    }
    (out, width)
}

/// A table as `list` prints it (`vshTable`).
#[derive(Debug, Clone)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with a header row.
    pub fn new(header: &[&str]) -> Self {
        Self {
            rows: vec![header.iter().map(|s| s.to_string()).collect()],
        }
    }

    /// Appends a row (as many cells as the header).
    pub fn add_row<S: AsRef<str>>(&mut self, cells: &[S]) {
        self.rows
            .push(cells.iter().map(|s| s.as_ref().to_string()).collect());
    }

    /// Renders the table: each cell preceded by a blank and padded to the column's width plus
    /// two (not the last), and, with `header`, the header followed by a dashed line as wide as
    /// the columns plus three each.
    pub fn render(&self, header: bool, utf8: bool) -> String {
        let ncols = self.rows[0].len();
        let mut maxw = vec![0usize; ncols];
        let encoded: Vec<Vec<(String, usize)>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(|c| safe_encode(c, utf8)).collect())
            .collect();
        for (ri, row) in encoded.iter().enumerate() {
            if ri == 0 && !header {
                continue;
            }
            for (j, (_, w)) in row.iter().enumerate() {
                maxw[j] = maxw[j].max(*w);
            }
        }
        let mut out = String::new();
        let row_text = |out: &mut String, row: &[(String, usize)]| {
            for (j, (text, w)) in row.iter().enumerate() {
                out.push(' ');
                out.push_str(text);
                if j + 1 < row.len() {
                    // The header is measured only when printed; a wider header cell than its
                    // column can then not happen, and data cells are never wider.
                    let pad = (maxw[j] + 2).saturating_sub(*w);
                    out.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push('\n');
        };
        if header {
            row_text(&mut out, &encoded[0]);
            for w in &maxw {
                out.extend(std::iter::repeat_n('-', w + 3));
            }
            out.push('\n');
        }
        for row in &encoded[1..] {
            row_text(&mut out, row);
        }
        out
    }
}

/// A `Label:          value` line: the label left-aligned in `width` columns, a blank, the
/// value (virsh's `"%-15s %s\n"` and `"%-20s %s\n"`).
pub fn field(width: usize, label: &str, value: impl std::fmt::Display) -> String {
    format!("{label:<width$} {value}\n")
}

/// A size scaled to the largest binary unit below it (`vshPrettyCapacity`).
pub fn pretty_capacity(val: u64) -> (f64, &'static str) {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut limit = 1024f64;
    let v = val as f64;
    if v < limit {
        return (v, "B");
    }
    for unit in &UNITS[..5] {
        limit *= 1024.0;
        if v < limit {
            return (v / (limit / 1024.0), unit);
        }
    }
    limit *= 1024.0;
    (v / (limit / 1024.0), UNITS[5])
}

/// `"%.2lf %s"` of [`pretty_capacity`].
pub fn capacity_text(val: u64) -> String {
    let (v, u) = pretty_capacity(val);
    format!("{v:.2} {u}")
}

/// The current time as libvirt's event timestamps print it: `2024-01-31 12:34:56.789+0000`.
pub fn timestamp_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    timestamp(now.as_millis() as u64)
}

/// Formats milliseconds since the epoch as [`timestamp_now`] does.
pub fn timestamp(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{:4}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}+0000",
        year,
        month,
        day,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// Domain state names (`virshDomainStateToString`).
pub fn domain_state(state: i32) -> &'static str {
    match state {
        0 => "no state",
        1 => "running",
        2 => "idle",
        3 => "paused",
        4 => "in shutdown",
        5 => "shut off",
        6 => "crashed",
        7 => "pmsuspended",
        _ => "no state",
    }
}

/// Domain state reason names (`virshDomainStateReasonToString`).
pub fn domain_state_reason(state: i32, reason: i32) -> &'static str {
    let table: &[&str] = match state {
        0 | 2 | 7 => &["unknown"],
        1 => &[
            "unknown",
            "booted",
            "migrated",
            "restored",
            "from snapshot",
            "unpaused",
            "migration canceled",
            "save canceled",
            "event wakeup",
            "crashed",
            "post-copy",
            "post-copy failed",
        ],
        3 => &[
            "unknown",
            "user",
            "migrating",
            "saving",
            "dumping",
            "I/O error",
            "watchdog",
            "from snapshot",
            "shutting down",
            "creating snapshot",
            "crashed",
            "starting up",
            "post-copy",
            "post-copy failed",
        ],
        4 => &["unknown", "user"],
        5 => &[
            "unknown",
            "shutdown",
            "destroyed",
            "crashed",
            "migrated",
            "saved",
            "failed",
            "from snapshot",
            "daemon",
        ],
        6 => &["unknown", "panicked"],
        _ => &[],
    };
    usize::try_from(reason)
        .ok()
        .and_then(|r| table.get(r).copied())
        .unwrap_or("unknown")
}

/// Lifecycle event names (`virshDomainEventToString`).
pub fn lifecycle_event(event: i32) -> &'static str {
    const T: [&str; 9] = [
        "Defined",
        "Undefined",
        "Started",
        "Suspended",
        "Resumed",
        "Stopped",
        "Shutdown",
        "PMSuspended",
        "Crashed",
    ];
    usize::try_from(event)
        .ok()
        .and_then(|e| T.get(e).copied())
        .unwrap_or("unknown")
}

/// Lifecycle event detail names (`virshDomainEventDetailToString`).
pub fn lifecycle_detail(event: i32, detail: i32) -> &'static str {
    let table: &[&str] = match event {
        0 => &["Added", "Updated", "Renamed", "Snapshot"],
        1 => &["Removed", "Renamed"],
        2 => &["Booted", "Migrated", "Restored", "Snapshot", "Event wakeup"],
        3 => &[
            "Paused",
            "Migrated",
            "I/O Error",
            "Watchdog",
            "Restored",
            "Snapshot",
            "API error",
            "Post-copy",
            "Post-copy Error",
        ],
        4 => &[
            "Unpaused",
            "Migrated",
            "Snapshot",
            "Post-copy",
            "Post-copy Error",
        ],
        5 => &[
            "Shutdown",
            "Destroyed",
            "Crashed",
            "Migrated",
            "Saved",
            "Failed",
            "Snapshot",
        ],
        6 => &[
            "Finished",
            "Finished after guest request",
            "Finished after host request",
        ],
        7 => &["Memory", "Disk"],
        8 => &["Panicked", "Crashloaded"],
        _ => &[],
    };
    usize::try_from(detail)
        .ok()
        .and_then(|d| table.get(d).copied())
        .unwrap_or("unknown")
}

/// Storage pool state names (`virshStoragePoolStateToString`).
pub fn pool_state(state: u8) -> &'static str {
    match state {
        0 => "inactive",
        1 => "building",
        2 => "running",
        3 => "degraded",
        4 => "inaccessible",
        _ => "unknown",
    }
}

/// Storage volume type names (`virshVolumeTypeToString`).
pub fn vol_type(t: i8) -> &'static str {
    match t {
        0 => "file",
        1 => "block",
        2 => "dir",
        3 => "network",
        4 => "netdir",
        5 => "ploop",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_virsh_layout() {
        let mut t = Table::new(&["Id", "Name", "State"]);
        t.add_row(&["1", "test", "running"]);
        assert_eq!(
            t.render(true, true),
            " Id   Name   State\n----------------------\n 1    test   running\n"
        );
        // Quiet mode: no header, widths from the data only.
        assert_eq!(t.render(false, true), " 1   test   running\n");
        let mut t = Table::new(&["Name", "Path"]);
        assert_eq!(t.render(true, true), " Name   Path\n--------------\n");
        t.add_row(&["a", "/x/a"]);
        t.add_row(&["longer-name", "/x/longer-name"]);
        assert_eq!(
            t.render(true, true),
            " Name          Path\n-------------------------------\n a             /x/a\n longer-name   /x/longer-name\n"
        );
    }

    #[test]
    fn cells_are_escaped_like_virsh() {
        assert_eq!(safe_encode("a\tb", true), ("a\\x09b".into(), 6));
        assert_eq!(safe_encode("a\\xb", true), ("a\\x5cxb".into(), 7));
        assert_eq!(safe_encode("é", true), ("é".into(), 1));
        assert_eq!(safe_encode("日", true), ("日".into(), 2));
        // C locale: each byte of a multibyte character becomes "\xff".
        assert_eq!(safe_encode("é", false), ("\\xff\\xff".into(), 8));
    }

    #[test]
    fn capacities() {
        assert_eq!(capacity_text(0), "0.00 B");
        assert_eq!(capacity_text(1023), "1023.00 B");
        assert_eq!(capacity_text(1024), "1.00 KiB");
        assert_eq!(capacity_text(107374182400), "100.00 GiB");
        assert_eq!(capacity_text(u64::MAX), "16.00 EiB");
    }

    #[test]
    fn fields_and_times() {
        assert_eq!(field(15, "Name:", "test"), "Name:           test\n");
        assert_eq!(field(20, "CPU(s):", 16), "CPU(s):              16\n");
        assert_eq!(field(15, "Security DOI:", ""), "Security DOI:   \n");
        assert_eq!(timestamp(0), "1970-01-01 00:00:00.000+0000");
        assert_eq!(timestamp(1_709_210_096_789), "2024-02-29 12:34:56.789+0000");
    }

    #[test]
    fn names() {
        assert_eq!(domain_state(5), "shut off");
        assert_eq!(domain_state_reason(1, 1), "booted");
        assert_eq!(domain_state_reason(5, 2), "destroyed");
        assert_eq!(domain_state_reason(5, 99), "unknown");
        assert_eq!(lifecycle_event(2), "Started");
        assert_eq!(lifecycle_detail(2, 0), "Booted");
        assert_eq!(lifecycle_detail(5, 1), "Destroyed");
        assert_eq!(pool_state(2), "running");
        assert_eq!(vol_type(0), "file");
    }
}
