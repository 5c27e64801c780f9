//! `<audio>` backends (`virDomainAudioDefParseXML`, `virDomainAudioDefFormat`): the host side
//! that `<sound>` devices and VNC graphics refer to by id.

use super::super::buf::Buf;
use super::super::xml::{
    child, prop, prop_enum, prop_enum_required, prop_int, prop_uint, prop_uint_required,
    prop_yes_no, unsupported, xml_enum, xml_error, yes_no, Node, Result,
};

xml_enum! {
    /// `virDomainAudioType`.
    pub enum AudioType {
        None = "none", Alsa = "alsa", Coreaudio = "coreaudio", Jack = "jack", Oss = "oss",
        Pulseaudio = "pulseaudio", Sdl = "sdl", Spice = "spice", File = "file", Dbus = "dbus",
    }
}

xml_enum! {
    /// `virDomainAudioSDLDriver`.
    pub enum SdlDriver { Default = "", Esd = "esd", Alsa = "alsa", Arts = "arts", Pulseaudio = "pulseaudio" }
}

xml_enum! {
    /// `virDomainAudioFormat`.
    pub enum AudioFormat {
        Default = "", U8 = "u8", S8 = "s8", U16 = "u16", S16 = "s16", U32 = "u32", S32 = "s32",
        F32 = "f32",
    }
}

/// `<input>` or `<output>` of an audio backend (common and backend-specific attributes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AudioIo {
    /// `mixingEngine=`.
    pub mixing_engine: Option<bool>,
    /// `fixedSettings=`.
    pub fixed_settings: Option<bool>,
    /// `voices=` (0: unset).
    pub voices: u32,
    /// `bufferLength=` (0: unset).
    pub buffer_length: u32,
    /// `<settings frequency>`.
    pub frequency: u32,
    /// `<settings channels>`.
    pub channels: u32,
    /// `<settings format>`.
    pub format: Option<AudioFormat>,
    /// `dev=` (alsa, oss).
    pub dev: Option<String>,
    /// `bufferCount=` (coreaudio, oss, sdl).
    pub buffer_count: u32,
    /// `serverName=` (jack).
    pub server_name: Option<String>,
    /// `clientName=` (jack).
    pub client_name: Option<String>,
    /// `connectPorts=` (jack).
    pub connect_ports: Option<String>,
    /// `exactName=` (jack).
    pub exact_name: Option<bool>,
    /// `tryPoll=` (oss).
    pub try_poll: Option<bool>,
    /// `name=` (pulseaudio).
    pub name: Option<String>,
    /// `streamName=` (pulseaudio).
    pub stream_name: Option<String>,
    /// `latency=` (pulseaudio).
    pub latency: u32,
}

/// An `<audio>` backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audio {
    /// `type=`.
    pub type_: AudioType,
    /// `id=`.
    pub id: u32,
    /// `timerPeriod=` (0: unset).
    pub timer_period: u32,
    /// `<input>`.
    pub input: AudioIo,
    /// `<output>`.
    pub output: AudioIo,
    /// `tryMMap=` (oss).
    pub try_mmap: Option<bool>,
    /// `exclusive=` (oss).
    pub exclusive: Option<bool>,
    /// `dspPolicy=` (oss).
    pub dsp_policy: Option<i32>,
    /// `serverName=` (pulseaudio).
    pub server_name: Option<String>,
    /// `driver=` (sdl).
    pub sdl_driver: Option<SdlDriver>,
    /// `path=` (file).
    pub path: Option<String>,
}

fn parse_common(n: &Node, io: &mut AudioIo) -> Result<()> {
    io.mixing_engine = prop_yes_no(n, "mixingEngine")?;
    io.fixed_settings = prop_yes_no(n, "fixedSettings")?;
    if io.fixed_settings == Some(true) && io.mixing_engine != Some(true) {
        return Err(unsupported("fixed audio settings requires mixing engine"));
    }
    io.voices = prop_uint(n, "voices", 10, true)?.unwrap_or(0);
    io.buffer_length = prop_uint(n, "bufferLength", 10, true)?.unwrap_or(0);
    if let Some(s) = child(*n, "settings") {
        if io.fixed_settings != Some(true) {
            return Err(unsupported(
                "audio settings specified without fixed settings flag",
            ));
        }
        io.frequency = prop_uint(&s, "frequency", 10, true)?.unwrap_or(0);
        io.channels = prop_uint(&s, "channels", 10, true)?.unwrap_or(0);
        io.format = prop_enum(&s, "format", true)?;
    }
    Ok(())
}

fn parse_backend(t: AudioType, n: &Node, io: &mut AudioIo) -> Result<()> {
    match t {
        AudioType::Alsa => io.dev = prop(n, "dev"),
        AudioType::Coreaudio | AudioType::Sdl => {
            io.buffer_count = prop_uint(n, "bufferCount", 10, false)?.unwrap_or(0)
        }
        AudioType::Jack => {
            io.server_name = prop(n, "serverName");
            io.client_name = prop(n, "clientName");
            io.connect_ports = prop(n, "connectPorts");
            io.exact_name = prop_yes_no(n, "exactName")?;
        }
        AudioType::Oss => {
            io.dev = prop(n, "dev");
            io.try_poll = prop_yes_no(n, "tryPoll")?;
            io.buffer_count = prop_uint(n, "bufferCount", 10, false)?.unwrap_or(0);
        }
        AudioType::Pulseaudio => {
            io.name = prop(n, "name");
            io.stream_name = prop(n, "streamName");
            io.latency = prop_uint(n, "latency", 10, false)?.unwrap_or(0);
        }
        _ => {}
    }
    Ok(())
}

pub(super) fn parse(n: Node) -> Result<Audio> {
    let type_: AudioType = prop_enum_required(&n, "type", false)?;
    let mut a = Audio {
        type_,
        id: prop_uint_required(&n, "id", 10, true)?,
        timer_period: prop_uint(&n, "timerPeriod", 10, true)?.unwrap_or(0),
        input: AudioIo::default(),
        output: AudioIo::default(),
        try_mmap: None,
        exclusive: None,
        dsp_policy: None,
        server_name: None,
        sdl_driver: None,
        path: None,
    };
    let input = child(n, "input");
    let output = child(n, "output");
    if let Some(i) = &input {
        parse_common(i, &mut a.input)?;
    }
    if let Some(o) = &output {
        parse_common(o, &mut a.output)?;
    }
    match type_ {
        AudioType::Oss => {
            a.try_mmap = prop_yes_no(&n, "tryMMap")?;
            a.exclusive = prop_yes_no(&n, "exclusive")?;
            if let Some(p) = prop_int(&n, "dspPolicy", 10, false, false)? {
                if p < 0 {
                    return Err(xml_error(format!("cannot parse 'dspPolicy' value '{p}'")));
                }
                a.dsp_policy = Some(p);
            }
        }
        AudioType::Pulseaudio => a.server_name = prop(&n, "serverName"),
        AudioType::Sdl => a.sdl_driver = prop_enum(&n, "driver", true)?,
        AudioType::File => a.path = prop(&n, "path"),
        _ => {}
    }
    if let Some(i) = &input {
        parse_backend(type_, i, &mut a.input)?;
    }
    if let Some(o) = &output {
        parse_backend(type_, o, &mut a.output)?;
    }
    Ok(a)
}

fn backend_attrs(t: AudioType, io: &AudioIo) -> Buf {
    let mut b = Buf::new();
    let count = |b: &mut Buf| {
        if io.buffer_count != 0 {
            b.add(&format!(" bufferCount='{}'", io.buffer_count));
        }
    };
    match t {
        AudioType::Alsa => b.esc(" dev='%s'", io.dev.as_deref()),
        AudioType::Coreaudio | AudioType::Sdl => count(&mut b),
        AudioType::Jack => {
            b.esc(" serverName='%s'", io.server_name.as_deref());
            b.esc(" clientName='%s'", io.client_name.as_deref());
            b.esc(" connectPorts='%s'", io.connect_ports.as_deref());
            if let Some(e) = io.exact_name {
                b.add(&format!(" exactName='{}'", yes_no(e)));
            }
        }
        AudioType::Oss => {
            b.esc(" dev='%s'", io.dev.as_deref());
            count(&mut b);
            if let Some(p) = io.try_poll {
                b.add(&format!(" tryPoll='{}'", yes_no(p)));
            }
        }
        AudioType::Pulseaudio => {
            b.esc(" name='%s'", io.name.as_deref());
            b.esc(" streamName='%s'", io.stream_name.as_deref());
            if io.latency != 0 {
                b.add(&format!(" latency='{}'", io.latency));
            }
        }
        _ => {}
    }
    b
}

fn format_common(k: &mut Buf, io: &AudioIo, backend: Buf, direction: &str) {
    let fixed = io.fixed_settings == Some(true);
    if io.mixing_engine.is_none()
        && io.fixed_settings.is_none()
        && io.voices == 0
        && io.buffer_length == 0
        && backend.is_empty()
    {
        return;
    }
    k.add(&format!("<{direction}"));
    if let Some(m) = io.mixing_engine {
        k.add(&format!(" mixingEngine='{}'", yes_no(m)));
    }
    if let Some(f) = io.fixed_settings {
        k.add(&format!(" fixedSettings='{}'", yes_no(f)));
    }
    if io.voices != 0 {
        k.add(&format!(" voices='{}'", io.voices));
    }
    if io.buffer_length != 0 {
        k.add(&format!(" bufferLength='{}'", io.buffer_length));
    }
    k.append(backend);
    if fixed {
        k.add(">\n");
        k.adjust(2);
        k.add("<settings");
        if io.frequency != 0 {
            k.add(&format!(" frequency='{}'", io.frequency));
        }
        if io.channels != 0 {
            k.add(&format!(" channels='{}'", io.channels));
        }
        if let Some(f) = io.format.filter(|f| *f != AudioFormat::Default) {
            k.add(&format!(" format='{}'", f.as_str()));
        }
        k.add("/>\n");
        k.adjust(-2);
        k.add(&format!("</{direction}>\n"));
    } else {
        k.add("/>\n");
    }
}

pub(super) fn format(b: &mut Buf, a: &Audio) {
    let mut attrs = Buf::new();
    attrs.add(&format!(" id='{}' type='{}'", a.id, a.type_.as_str()));
    if a.timer_period != 0 {
        attrs.add(&format!(" timerPeriod='{}'", a.timer_period));
    }
    match a.type_ {
        AudioType::Oss => {
            if let Some(v) = a.try_mmap {
                attrs.add(&format!(" tryMMap='{}'", yes_no(v)));
            }
            if let Some(v) = a.exclusive {
                attrs.add(&format!(" exclusive='{}'", yes_no(v)));
            }
            if let Some(p) = a.dsp_policy {
                attrs.add(&format!(" dspPolicy='{p}'"));
            }
        }
        AudioType::Pulseaudio => attrs.esc(" serverName='%s'", a.server_name.as_deref()),
        AudioType::Sdl => {
            if let Some(d) = a.sdl_driver.filter(|d| *d != SdlDriver::Default) {
                attrs.add(&format!(" driver='{}'", d.as_str()));
            }
        }
        AudioType::File => attrs.esc(" path='%s'", a.path.as_deref()),
        _ => {}
    }
    let mut k = b.child();
    format_common(&mut k, &a.input, backend_attrs(a.type_, &a.input), "input");
    format_common(
        &mut k,
        &a.output,
        backend_attrs(a.type_, &a.output),
        "output",
    );
    b.element("audio", attrs, k);
}
