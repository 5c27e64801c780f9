//! `<clock>` and its `<timer>`s (`virDomainDefClockParse`, `virDomainTimerDefParseXML`,
//! `virDomainClockDefFormat`).

use super::buf::Buf;
use super::xml::{
    internal, prop_enum, prop_enum_required, prop_ull, prop_yes_no, select, str_to_ll, str_to_ullp,
    unsupported, xattr, xml_enum, xml_error, yes_no, Node, Result, XmlEnum,
};

xml_enum! {
    /// `virDomainClockOffsetType`.
    pub enum ClockOffset {
        Utc = "utc", Localtime = "localtime", Variable = "variable", Timezone = "timezone",
        Absolute = "absolute",
    }
}

xml_enum! {
    /// `virDomainClockBasis`.
    pub enum ClockBasis { Utc = "utc", Localtime = "localtime" }
}

xml_enum! {
    /// `virDomainTimerNameType`.
    pub enum TimerName {
        Platform = "platform", Pit = "pit", Rtc = "rtc", Hpet = "hpet", Tsc = "tsc",
        Kvmclock = "kvmclock", Hypervclock = "hypervclock", Armvtimer = "armvtimer",
    }
}

xml_enum! {
    /// `virDomainTimerTrackType`.
    pub enum TimerTrack {
        None = "none", Boot = "boot", Guest = "guest", Wall = "wall", Realtime = "realtime",
    }
}

xml_enum! {
    /// `virDomainTimerTickpolicyType`.
    pub enum TimerTickpolicy {
        None = "none", Delay = "delay", Catchup = "catchup", Merge = "merge", Discard = "discard",
    }
}

xml_enum! {
    /// `virDomainTimerModeType`.
    pub enum TimerMode {
        None = "none", Auto = "auto", Native = "native", Emulate = "emulate",
        Paravirt = "paravirt", Smpsafe = "smpsafe",
    }
}

/// A `<timer>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    /// `name=`.
    pub name: TimerName,
    /// `present=`.
    pub present: Option<bool>,
    /// `tickpolicy=`.
    pub tickpolicy: Option<TimerTickpolicy>,
    /// `track=`.
    pub track: Option<TimerTrack>,
    /// `frequency=` (tsc only; 0: unset).
    pub frequency: u64,
    /// `mode=` (tsc only).
    pub mode: Option<TimerMode>,
    /// `<catchup threshold slew limit>` (0: unset).
    pub catchup: (u64, u64, u64),
}

/// `<clock>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    /// `offset=`.
    pub offset: ClockOffset,
    /// `adjustment='reset'` for utc/localtime.
    pub utc_reset: bool,
    /// `adjustment=` for variable.
    pub adjustment: i64,
    /// `basis=` for variable.
    pub basis: ClockBasis,
    /// `timezone=`.
    pub timezone: Option<String>,
    /// `start=` for absolute.
    pub start: u64,
    /// `<timer>`s.
    pub timers: Vec<Timer>,
}

impl Default for Clock {
    fn default() -> Self {
        Self {
            offset: ClockOffset::Utc,
            utc_reset: false,
            adjustment: 0,
            basis: ClockBasis::Utc,
            timezone: None,
            start: 0,
            timers: Vec::new(),
        }
    }
}

pub(super) fn parse(root: Node) -> Result<Clock> {
    let mut c = Clock::default();
    if let Some(o) = xattr(root, "clock", "offset") {
        c.offset = ClockOffset::parse(&o)
            .ok_or_else(|| unsupported(format!("unknown clock offset '{o}'")))?;
    }
    match c.offset {
        ClockOffset::Utc | ClockOffset::Localtime => {
            if let Some(a) = xattr(root, "clock", "adjustment") {
                if a == "reset" {
                    c.utc_reset = true;
                } else {
                    c.adjustment = str_to_ll(&a, 10)
                        .ok_or_else(|| xml_error(format!("unknown clock adjustment '{a}'")))?;
                    c.basis = if c.offset == ClockOffset::Localtime {
                        ClockBasis::Localtime
                    } else {
                        ClockBasis::Utc
                    };
                    c.offset = ClockOffset::Variable;
                }
            }
        }
        ClockOffset::Variable => {
            c.adjustment = xattr(root, "clock", "adjustment")
                .and_then(|a| str_to_ll(&a, 10))
                .unwrap_or(0);
            c.basis = match xattr(root, "clock", "basis") {
                None => ClockBasis::Utc,
                Some(b) => ClockBasis::parse(&b)
                    .ok_or_else(|| unsupported(format!("unknown clock basis '{b}'")))?,
            };
        }
        ClockOffset::Timezone => {
            c.timezone = xattr(root, "clock", "timezone");
            if c.timezone.is_none() {
                return Err(internal(
                    "missing 'timezone' attribute for clock with offset='timezone'",
                ));
            }
        }
        ClockOffset::Absolute => {
            c.start = xattr(root, "clock", "start")
                .and_then(|s| str_to_ullp(&s, 10))
                .ok_or_else(|| {
                    internal("missing 'start' attribute for clock with offset='absolute'")
                })?;
        }
    }
    for t in select(root, "clock/timer") {
        let mut timer = Timer {
            name: prop_enum_required(&t, "name", false)?,
            present: prop_yes_no(&t, "present")?,
            tickpolicy: prop_enum(&t, "tickpolicy", true)?,
            track: prop_enum(&t, "track", true)?,
            frequency: prop_ull(&t, "frequency", 10, false)?.unwrap_or(0),
            mode: prop_enum(&t, "mode", true)?,
            catchup: (0, 0, 0),
        };
        if let Some(cu) = super::xml::child(t, "catchup") {
            timer.catchup = (
                prop_ull(&cu, "threshold", 10, false)?.unwrap_or(0),
                prop_ull(&cu, "slew", 10, false)?.unwrap_or(0),
                prop_ull(&cu, "limit", 10, false)?.unwrap_or(0),
            );
        }
        c.timers.push(timer);
    }
    Ok(c)
}

/// `virDomainDefPostParseTimer`.
pub(super) fn post_parse(c: &Clock) -> Result<()> {
    for t in &c.timers {
        let name = t.name.as_str();
        if matches!(t.name, TimerName::Kvmclock | TimerName::Hypervclock) && t.tickpolicy.is_some()
        {
            return Err(unsupported(format!(
                "timer {name} doesn't support setting of timer tickpolicy"
            )));
        }
        if t.tickpolicy != Some(TimerTickpolicy::Catchup) && t.catchup != (0, 0, 0) {
            return Err(xml_error(
                "setting of timer catchup policies is only supported with tickpolicy='catchup'",
            ));
        }
        if t.name != TimerName::Tsc {
            if t.frequency != 0 {
                return Err(unsupported(format!(
                    "timer {name} doesn't support setting of timer frequency"
                )));
            }
            if t.mode.is_some() {
                return Err(unsupported(format!(
                    "timer {name} doesn't support setting of timer mode"
                )));
            }
        }
        if !matches!(t.name, TimerName::Platform | TimerName::Rtc) && t.track.is_some() {
            return Err(unsupported(format!(
                "timer {name} doesn't support setting of timer track"
            )));
        }
    }
    Ok(())
}

pub(super) fn format(b: &mut Buf, c: &Clock) {
    let mut attrs = Buf::new();
    let mut kids = b.child();
    attrs.add(&format!(" offset='{}'", c.offset.as_str()));
    match c.offset {
        ClockOffset::Utc | ClockOffset::Localtime => {
            if c.utc_reset {
                attrs.add(" adjustment='reset'");
            }
        }
        ClockOffset::Variable => {
            attrs.add(&format!(
                " adjustment='{}' basis='{}'",
                c.adjustment,
                c.basis.as_str()
            ));
        }
        ClockOffset::Timezone => attrs.esc(" timezone='%s'", c.timezone.as_deref()),
        ClockOffset::Absolute => attrs.add(&format!(" start='{}'", c.start)),
    }
    for t in &c.timers {
        let mut ta = Buf::new();
        let mut tk = kids.child();
        ta.add(&format!(" name='{}'", t.name.as_str()));
        if let Some(p) = t.present {
            ta.add(&format!(" present='{}'", yes_no(p)));
        }
        if let Some(p) = t.tickpolicy {
            ta.add(&format!(" tickpolicy='{}'", p.as_str()));
        }
        if let Some(tr) = t.track {
            ta.add(&format!(" track='{}'", tr.as_str()));
        }
        if t.name == TimerName::Tsc {
            if t.frequency > 0 {
                ta.add(&format!(" frequency='{}'", t.frequency));
            }
            if let Some(m) = t.mode {
                ta.add(&format!(" mode='{}'", m.as_str()));
            }
        }
        let mut ca = Buf::new();
        let (th, sl, li) = t.catchup;
        if th > 0 {
            ca.add(&format!(" threshold='{th}'"));
        }
        if sl > 0 {
            ca.add(&format!(" slew='{sl}'"));
        }
        if li > 0 {
            ca.add(&format!(" limit='{li}'"));
        }
        tk.element("catchup", ca, Buf::new());
        kids.element("timer", ta, tk);
    }
    b.element("clock", attrs, kids);
}
