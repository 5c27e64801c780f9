//! The daemon's log: libvirt's levels (1 debug … 4 error), `log_outputs` and `log_filters`.
//!
//! Outputs are `LEVEL:stderr` and `LEVEL:file:PATH` (libvirt's syslog and journald outputs fall
//! back to stderr with a warning). Filters are `LEVEL:NAME`: a message whose category contains
//! NAME is logged when at least LEVEL, whatever the global level. Categories are the daemon's
//! areas: `daemon`, `config`, `rpc`, `client`, `keepalive`, `events`, `admin`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// Message priority, as libvirt numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// 1.
    Debug = 1,
    /// 2.
    Info = 2,
    /// 3.
    Warning = 3,
    /// 4.
    Error = 4,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }

    fn from_num(n: u32) -> Option<Self> {
        Some(match n {
            1 => Level::Debug,
            2 => Level::Info,
            3 => Level::Warning,
            4 => Level::Error,
            _ => return None,
        })
    }
}

enum Sink {
    Stderr,
    File(Mutex<File>),
}

struct Output {
    level: Level,
    sink: Sink,
}

struct Logger {
    level: Level,
    filters: Vec<(Level, String)>,
    outputs: Vec<Output>,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Why the log settings could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A `log_outputs` or `log_filters` item is malformed.
    #[error("{setting}: invalid item \"{item}\": {why}")]
    Syntax {
        /// `log_outputs` or `log_filters`.
        setting: &'static str,
        /// The item.
        item: String,
        /// What is wrong.
        why: &'static str,
    },
    /// A log file could not be opened.
    #[error("log_outputs: cannot open log file {path}")]
    File {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

fn parse_level(setting: &'static str, item: &str, s: &str) -> Result<Level, LogError> {
    s.parse::<u32>()
        .ok()
        .and_then(Level::from_num)
        .ok_or_else(|| LogError::Syntax {
            setting,
            item: item.to_string(),
            why: "the level must be 1 (debug) to 4 (error)",
        })
}

/// Sets up the log. `level` is `log_level` (0 = default 3); `verbose` (`-v`) lowers it to info.
/// Returns warnings to log once the logger exists. Calling it twice keeps the first setup.
pub fn init(
    level: u32,
    verbose: bool,
    outputs: Option<&str>,
    filters: Option<&str>,
) -> Result<Vec<String>, LogError> {
    let mut level = Level::from_num(level).unwrap_or(Level::Warning);
    if verbose && level > Level::Info {
        level = Level::Info;
    }
    let mut warnings = Vec::new();
    let mut outs = Vec::new();
    for item in outputs.unwrap_or("").split_whitespace() {
        let mut parts = item.splitn(3, ':');
        let lvl = parse_level("log_outputs", item, parts.next().unwrap_or(""))?;
        let sink = match (parts.next(), parts.next()) {
            (Some("stderr"), None) => Sink::Stderr,
            (Some("file"), Some(path)) if !path.is_empty() => {
                let f = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|source| LogError::File {
                        path: path.to_string(),
                        source,
                    })?;
                Sink::File(Mutex::new(f))
            }
            (Some("syslog" | "journald"), _) => {
                warnings.push(format!(
                    "log_outputs: \"{item}\" is not supported by rvirtd, logging to stderr instead"
                ));
                Sink::Stderr
            }
            _ => {
                return Err(LogError::Syntax {
                    setting: "log_outputs",
                    item: item.to_string(),
                    why: "expected LEVEL:stderr or LEVEL:file:PATH",
                })
            }
        };
        outs.push(Output { level: lvl, sink });
    }
    if outs.is_empty() {
        outs.push(Output {
            level,
            sink: Sink::Stderr,
        });
    }
    let mut flt = Vec::new();
    for item in filters.unwrap_or("").split_whitespace() {
        let (l, name) = item.split_once(':').ok_or_else(|| LogError::Syntax {
            setting: "log_filters",
            item: item.to_string(),
            why: "expected LEVEL:NAME",
        })?;
        let name = name.trim_start_matches('+');
        if name.is_empty() {
            return Err(LogError::Syntax {
                setting: "log_filters",
                item: item.to_string(),
                why: "expected LEVEL:NAME",
            });
        }
        flt.push((parse_level("log_filters", item, l)?, name.to_string()));
    }
    let _ = LOGGER.set(Logger {
        level,
        filters: flt,
        outputs: outs,
    });
    Ok(warnings)
}

/// Whether a message of `level` in `category` would be written.
pub fn enabled(level: Level, category: &str) -> bool {
    let Some(l) = LOGGER.get() else {
        return level >= Level::Warning;
    };
    let threshold = l
        .filters
        .iter()
        .find(|(_, name)| category.contains(name.as_str()))
        .map(|(lvl, _)| *lvl)
        .unwrap_or(l.level);
    level >= threshold
}

/// libvirt's timestamp format: `2024-01-31 12:34:56.789+0000`.
fn timestamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03}+0000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_millis()
    )
}

/// Writes one message.
pub fn write(level: Level, category: &str, msg: std::fmt::Arguments<'_>) {
    if !enabled(level, category) {
        return;
    }
    let line = format!(
        "{}: {}: {} : {}: {}\n",
        timestamp(),
        std::process::id(),
        level.name(),
        category,
        msg
    );
    match LOGGER.get() {
        None => {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
        Some(l) => {
            for o in &l.outputs {
                let filtered = l.filters.iter().any(|(_, n)| category.contains(n.as_str()));
                if level < o.level && !filtered {
                    continue;
                }
                match &o.sink {
                    Sink::Stderr => {
                        let _ = std::io::stderr().write_all(line.as_bytes());
                    }
                    Sink::File(f) => {
                        if let Ok(mut f) = f.lock() {
                            let _ = f.write_all(line.as_bytes());
                        }
                    }
                }
            }
        }
    }
}

/// Logs at error level: `error!("category", "fmt", args…)`.
#[macro_export]
macro_rules! error {
    ($cat:expr, $($t:tt)*) => { $crate::log::write($crate::log::Level::Error, $cat, format_args!($($t)*)) };
}
/// Logs at warning level.
#[macro_export]
macro_rules! warn {
    ($cat:expr, $($t:tt)*) => { $crate::log::write($crate::log::Level::Warning, $cat, format_args!($($t)*)) };
}
/// Logs at info level.
#[macro_export]
macro_rules! info {
    ($cat:expr, $($t:tt)*) => { $crate::log::write($crate::log::Level::Info, $cat, format_args!($($t)*)) };
}
/// Logs at debug level.
#[macro_export]
macro_rules! debug {
    ($cat:expr, $($t:tt)*) => {
        if $crate::log::enabled($crate::log::Level::Debug, $cat) {
            $crate::log::write($crate::log::Level::Debug, $cat, format_args!($($t)*))
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_shape() {
        let t = timestamp();
        assert_eq!(t.len(), "2024-01-31 12:34:56.789+0000".len(), "{t}");
        assert!(t.starts_with("20"));
    }

    #[test]
    fn rejects_bad_items() {
        assert!(init(3, false, Some("9:stderr"), None).is_err());
        assert!(init(3, false, Some("3:pipe"), None).is_err());
        assert!(init(3, false, None, Some("3")).is_err());
    }
}
