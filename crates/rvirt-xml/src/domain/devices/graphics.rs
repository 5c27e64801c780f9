//! `<graphics>` (`virDomainGraphicsDefParseXML`, `virDomainGraphicsDefFormat`): VNC, SPICE,
//! SDL and EGL headless displays with their `<listen>` elements.

use super::super::buf::Buf;
use super::super::xml::{
    child, children, internal, prop, prop_enum, prop_enum_required, prop_int, prop_on_off,
    prop_yes_no, str_to_i, unsupported, xml_enum, xml_error, yes_no, Node, Result, XmlEnum,
};
use crate::domain::FormatOpts;

xml_enum! {
    /// `virDomainGraphicsType`.
    pub enum GraphicsType {
        Sdl = "sdl", Vnc = "vnc", Rdp = "rdp", Desktop = "desktop", Spice = "spice",
        EglHeadless = "egl-headless", Dbus = "dbus",
    }
}

xml_enum! {
    /// `virDomainGraphicsListenType`.
    pub enum ListenType { None = "none", Address = "address", Network = "network", Socket = "socket" }
}

xml_enum! {
    /// `virDomainGraphicsVNCSharePolicy`.
    pub enum SharePolicy {
        Default = "default", AllowExclusive = "allow-exclusive", ForceShared = "force-shared",
        Ignore = "ignore",
    }
}

xml_enum! {
    /// `virDomainGraphicsAuthConnected`.
    pub enum AuthConnected { Default = "default", Fail = "fail", Disconnect = "disconnect", Keep = "keep" }
}

xml_enum! {
    /// `virDomainGraphicsSpiceChannelName`.
    pub enum SpiceChannel {
        Main = "main", Display = "display", Inputs = "inputs", Cursor = "cursor",
        Playback = "playback", Record = "record", Smartcard = "smartcard", Usbredir = "usbredir",
    }
}

xml_enum! {
    /// `virDomainGraphicsSpiceChannelMode`.
    pub enum SpiceChannelMode { Any = "any", Secure = "secure", Insecure = "insecure" }
}

xml_enum! {
    /// `virDomainGraphicsSpiceImageCompression`.
    pub enum ImageCompression {
        Default = "default", AutoGlz = "auto_glz", AutoLz = "auto_lz", Quic = "quic",
        Glz = "glz", Lz = "lz", Off = "off",
    }
}

xml_enum! {
    /// `virDomainGraphicsSpiceJpegCompression` / `…ZlibCompression`.
    pub enum AutoCompression { Default = "default", Auto = "auto", Never = "never", Always = "always" }
}

xml_enum! {
    /// `virDomainGraphicsSpiceStreamingMode`.
    pub enum StreamingMode { Default = "default", Filter = "filter", All = "all", Off = "off" }
}

xml_enum! {
    /// `virDomainMouseMode`.
    pub enum MouseMode { Default = "default", Server = "server", Client = "client" }
}

/// A `<listen>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphicsListen {
    /// `type=`.
    pub type_: ListenType,
    /// `address=`.
    pub address: Option<String>,
    /// `network=`.
    pub network: Option<String>,
    /// `socket=`.
    pub socket: Option<String>,
}

/// Password settings (`virDomainGraphicsAuthDef`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GraphicsAuth {
    /// `passwd=` (written only with `VIR_DOMAIN_XML_SECURE`).
    pub passwd: Option<String>,
    /// `passwdValidTo=` as (year, month, day, hour, minute, second) in UTC.
    pub valid_to: Option<(i32, i32, i32, i32, i32, i32)>,
    /// `connected=`.
    pub connected: Option<AuthConnected>,
}

/// SPICE-specific settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpiceOpts {
    /// `tlsPort=`.
    pub tls_port: i32,
    /// `defaultMode=`.
    pub default_mode: Option<SpiceChannelMode>,
    /// `<channel name mode>` per channel.
    pub channels: Vec<(SpiceChannel, SpiceChannelMode)>,
    /// `<image compression>`.
    pub image: Option<ImageCompression>,
    /// `<jpeg compression>`.
    pub jpeg: Option<AutoCompression>,
    /// `<zlib compression>`.
    pub zlib: Option<AutoCompression>,
    /// `<playback compression>`.
    pub playback: Option<bool>,
    /// `<streaming mode>`.
    pub streaming: Option<StreamingMode>,
    /// `<clipboard copypaste>`.
    pub copypaste: Option<bool>,
    /// `<filetransfer enable>`.
    pub filetransfer: Option<bool>,
    /// `<gl enable>`.
    pub gl: Option<bool>,
    /// `<gl rendernode>`.
    pub rendernode: Option<String>,
    /// `<mouse mode>`.
    pub mouse: Option<MouseMode>,
}

/// A `<graphics>` device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graphics {
    /// `type=`.
    pub type_: GraphicsType,
    /// `port=` (VNC, SPICE; 0 with autoport in inactive definitions).
    pub port: i32,
    /// `autoport=`.
    pub autoport: bool,
    /// `websocket=` (VNC).
    pub websocket: i32,
    /// `keymap=`.
    pub keymap: Option<String>,
    /// `sharePolicy=` (VNC).
    pub share_policy: Option<SharePolicy>,
    /// `powerControl=` (VNC).
    pub power_control: Option<bool>,
    /// `<audio id=…>` (VNC).
    pub audio_id: u32,
    /// Password settings.
    pub auth: GraphicsAuth,
    /// `<listen>` elements (VNC, SPICE).
    pub listens: Vec<GraphicsListen>,
    /// SPICE settings.
    pub spice: SpiceOpts,
    /// `display=` (SDL).
    pub display: Option<String>,
    /// `xauth=` (SDL).
    pub xauth: Option<String>,
    /// `fullscreen=` (SDL).
    pub fullscreen: bool,
    /// `<gl enable>` (SDL).
    pub sdl_gl: Option<bool>,
    /// `<gl rendernode>` (egl-headless).
    pub egl_rendernode: Option<String>,
    /// `replaceUser='yes'` (RDP).
    pub replace_user: bool,
    /// `multiUser='yes'` (RDP).
    pub multi_user: bool,
    /// `p2p='yes'` (D-Bus).
    pub p2p: bool,
    /// `address=` (D-Bus).
    pub dbus_address: Option<String>,
    /// `<gl enable rendernode>` (D-Bus).
    pub dbus_gl: Option<(bool, Option<String>)>,
}

fn parse_auth(n: &Node, t: GraphicsType) -> Result<GraphicsAuth> {
    let mut a = GraphicsAuth {
        passwd: prop(n, "passwd"),
        ..Default::default()
    };
    if a.passwd.is_none() {
        return Ok(a);
    }
    if let Some(v) = prop(n, "passwdValidTo") {
        a.valid_to = Some(parse_valid_to(&v).ok_or_else(|| {
            internal(format!(
                "cannot parse password validity time '{v}', expect YYYY-MM-DDTHH:MM:SS"
            ))
        })?);
    }
    if let Some(c) = prop(n, "connected") {
        let v = match AuthConnected::parse(&c) {
            Some(x) if x != AuthConnected::Default => x,
            _ => return Err(unsupported(format!("unknown connected value {c}"))),
        };
        if t == GraphicsType::Vnc && v != AuthConnected::Keep {
            return Err(unsupported("VNC supports connected='keep' only"));
        }
        a.connected = Some(v);
    }
    Ok(a)
}

fn parse_valid_to(v: &str) -> Option<(i32, i32, i32, i32, i32, i32)> {
    let mut parts = Vec::new();
    let mut rest = v;
    for sep in ['-', '-', 'T', ':', ':'] {
        let (a, b) = rest.split_once(sep)?;
        parts.push(str_to_i(a, 10)?);
        rest = b;
    }
    parts.push(str_to_i(rest, 10)?);
    Some((parts[0], parts[1], parts[2], parts[3], parts[4], parts[5]))
}

fn parse_listens(g: &mut Graphics, n: &Node) -> Result<()> {
    let nodes: Vec<Node> = children(*n, "listen").collect();
    for (i, l) in nodes.iter().enumerate() {
        let type_: ListenType = prop_enum_required(l, "type", false)?;
        let gt = g.type_.as_str();
        match type_ {
            ListenType::Socket if !matches!(g.type_, GraphicsType::Vnc | GraphicsType::Spice) => {
                return Err(unsupported(format!(
                    "listen type 'socket' is not available for graphics type '{gt}'"
                )))
            }
            ListenType::None if !matches!(g.type_, GraphicsType::Vnc | GraphicsType::Spice) => {
                return Err(unsupported(format!(
                    "listen type 'none' is not available for graphics type '{gt}'"
                )))
            }
            _ => {}
        }
        let mut address = prop(l, "address");
        let network = prop(l, "network");
        let mut socket = prop(l, "socket");
        if i == 0 {
            let compat = prop(n, "listen");
            if type_ == ListenType::Address {
                if let (Some(a), Some(c)) = (&address, &compat) {
                    if a != c {
                        return Err(unsupported(format!(
                            "graphics 'listen' attribute '{c}' must match 'address' attribute of first listen element (found '{a}')"
                        )));
                    }
                }
                if address.is_none() {
                    address = compat;
                }
            }
            let scompat = prop(n, "socket");
            if type_ == ListenType::Socket {
                if let (Some(a), Some(c)) = (&socket, &scompat) {
                    if a != c {
                        return Err(unsupported(format!(
                            "graphics 'socket' attribute '{c}' must match 'socket' attribute of first listen element (found '{a}')"
                        )));
                    }
                }
                if socket.is_none() {
                    socket = scompat;
                }
            }
        }
        let mut gl = GraphicsListen {
            type_,
            address: None,
            network: None,
            socket: None,
        };
        if type_ == ListenType::Address {
            gl.address = address.filter(|a| !a.is_empty());
        }
        if let Some(nw) = network.filter(|x| !x.is_empty()) {
            if type_ != ListenType::Network {
                return Err(xml_error(
                    "'network' attribute is valid only for listen type 'network'",
                ));
            }
            gl.network = Some(nw);
        }
        if let Some(s) = socket.filter(|x| !x.is_empty()) {
            if type_ != ListenType::Socket {
                return Err(xml_error(
                    "'socket' attribute is valid only for listen type 'socket'",
                ));
            }
            gl.socket = Some(s);
        }
        g.listens.push(gl);
    }
    let socket = if g.type_ == GraphicsType::Vnc {
        prop(n, "socket")
    } else {
        None
    };
    let new = match socket {
        Some(s) => GraphicsListen {
            type_: ListenType::Socket,
            address: None,
            network: None,
            socket: Some(s),
        },
        None => GraphicsListen {
            type_: ListenType::Address,
            address: prop(n, "listen").filter(|a| !a.is_empty()),
            network: None,
            socket: None,
        },
    };
    if g.listens.is_empty() {
        g.listens.push(new);
    } else if matches!(
        g.listens[0].type_,
        ListenType::Address | ListenType::Network
    ) && new.type_ == ListenType::Socket
    {
        g.listens[0] = new;
    }
    Ok(())
}

pub(super) fn parse(n: Node) -> Result<Graphics> {
    let type_: GraphicsType = prop_enum_required(&n, "type", false)?;
    let mut g = Graphics {
        type_,
        port: 0,
        autoport: false,
        websocket: 0,
        keymap: None,
        share_policy: None,
        power_control: None,
        audio_id: 0,
        auth: GraphicsAuth::default(),
        listens: Vec::new(),
        spice: SpiceOpts::default(),
        display: None,
        xauth: None,
        fullscreen: false,
        sdl_gl: None,
        egl_rendernode: None,
        replace_user: false,
        multi_user: false,
        p2p: false,
        dbus_address: None,
        dbus_gl: None,
    };
    match type_ {
        GraphicsType::Vnc => {
            parse_listens(&mut g, &n)?;
            match prop(&n, "port") {
                Some(p) => {
                    g.port = str_to_i(&p, 10)
                        .ok_or_else(|| internal(format!("cannot parse vnc port {p}")))?;
                    if g.port == -1 {
                        g.port = 0;
                        g.autoport = true;
                    }
                }
                None => g.autoport = true,
            }
            if let Some(a) = prop(&n, "autoport") {
                match a.as_str() {
                    "yes" => g.autoport = true,
                    "no" => g.autoport = false,
                    _ => {}
                }
                if g.autoport {
                    g.port = 0;
                }
            }
            g.websocket = prop_int(&n, "websocket", 10, false, false)?.unwrap_or(0);
            g.share_policy = prop_enum(&n, "sharePolicy", false)?;
            g.power_control = prop_yes_no(&n, "powerControl")?;
            g.keymap = prop(&n, "keymap");
            if let Some(a) = child(n, "audio") {
                g.audio_id = super::super::xml::prop_uint_required(&a, "id", 10, true)?;
            }
            g.auth = parse_auth(&n, type_)?;
        }
        GraphicsType::Spice => {
            parse_listens(&mut g, &n)?;
            g.port = prop_int(&n, "port", 10, false, false)?.unwrap_or(0);
            g.spice.tls_port = prop_int(&n, "tlsPort", 10, false, false)?.unwrap_or(0);
            g.autoport = prop_yes_no(&n, "autoport")?.unwrap_or(false);
            g.spice.default_mode = prop_enum(&n, "defaultMode", false)?;
            if g.port == -1 && g.spice.tls_port == -1 {
                g.autoport = true;
            }
            if g.autoport {
                g.port = 0;
                g.spice.tls_port = 0;
            }
            g.keymap = prop(&n, "keymap");
            g.auth = parse_auth(&n, type_)?;
            for c in children(n, "channel") {
                let name: SpiceChannel = prop_enum_required(&c, "name", false)?;
                let mode: SpiceChannelMode = prop_enum_required(&c, "mode", false)?;
                g.spice.channels.retain(|(nm, _)| *nm != name);
                g.spice.channels.push((name, mode));
            }
            g.spice.channels.sort_by_key(|(nm, _)| nm.index());
            let s = &mut g.spice;
            if let Some(c) = child(n, "image") {
                s.image = Some(prop_enum_required(&c, "compression", true)?);
            }
            if let Some(c) = child(n, "jpeg") {
                s.jpeg = Some(prop_enum_required(&c, "compression", true)?);
            }
            if let Some(c) = child(n, "zlib") {
                s.zlib = Some(prop_enum_required(&c, "compression", true)?);
            }
            if let Some(c) = child(n, "playback") {
                s.playback = Some(required(
                    &c,
                    "compression",
                    prop_on_off(&c, "compression")?,
                )?);
            }
            if let Some(c) = child(n, "streaming") {
                s.streaming = Some(prop_enum_required(&c, "mode", true)?);
            }
            if let Some(c) = child(n, "clipboard") {
                s.copypaste = Some(required(&c, "copypaste", prop_yes_no(&c, "copypaste")?)?);
            }
            if let Some(c) = child(n, "filetransfer") {
                s.filetransfer = Some(required(&c, "enable", prop_yes_no(&c, "enable")?)?);
            }
            if let Some(c) = child(n, "gl") {
                s.rendernode = prop(&c, "rendernode");
                s.gl = Some(required(&c, "enable", prop_yes_no(&c, "enable")?)?);
            }
            if let Some(c) = child(n, "mouse") {
                s.mouse = Some(prop_enum_required(&c, "mode", true)?);
            }
        }
        GraphicsType::Sdl => {
            g.fullscreen = prop_yes_no(&n, "fullscreen")?.unwrap_or(false);
            g.xauth = prop(&n, "xauth");
            g.display = prop(&n, "display");
            if let Some(c) = child(n, "gl") {
                g.sdl_gl = Some(required(&c, "enable", prop_yes_no(&c, "enable")?)?);
            }
        }
        GraphicsType::EglHeadless => {
            if let Some(c) = child(n, "gl") {
                g.egl_rendernode = prop(&c, "rendernode");
            }
        }
        GraphicsType::Rdp => {
            parse_listens(&mut g, &n)?;
            match prop(&n, "port") {
                Some(p) => {
                    g.port = str_to_i(&p, 10)
                        .ok_or_else(|| internal(format!("cannot parse rdp port {p}")))?;
                    if g.port == -1 {
                        g.autoport = true;
                    }
                }
                None => g.autoport = true,
            }
            if prop(&n, "autoport").as_deref() == Some("yes") {
                g.autoport = true;
            }
            if g.autoport {
                g.port = 0;
            }
            g.replace_user = prop(&n, "replaceUser").as_deref() == Some("yes");
            g.multi_user = prop(&n, "multiUser").as_deref() == Some("yes");
        }
        GraphicsType::Desktop => {
            g.fullscreen = prop_yes_no(&n, "fullscreen")?.unwrap_or(false);
            g.display = prop(&n, "display");
        }
        GraphicsType::Dbus => {
            g.p2p = prop_yes_no(&n, "p2p")?.unwrap_or(false);
            g.dbus_address = prop(&n, "address");
            if let Some(c) = child(n, "gl") {
                let rendernode = prop(&c, "rendernode");
                let enable = required(&c, "enable", prop_yes_no(&c, "enable")?)?;
                g.dbus_gl = Some((enable, rendernode));
            }
            if let Some(a) = child(n, "audio") {
                g.audio_id = super::super::xml::prop_uint_required(&a, "id", 10, true)?;
            }
        }
    }
    Ok(g)
}

fn required(n: &Node, name: &str, v: Option<bool>) -> Result<bool> {
    v.ok_or_else(|| {
        super::super::xml::xml_util_error(format!(
            "Missing required attribute '{name}' in element '{}'",
            n.tag_name().name()
        ))
    })
}

/// `virDomainDefPostParseGraphics`: SPICE without ports and autoport listens nowhere.
pub(crate) fn post_parse(g: &mut Graphics) {
    if g.type_ == GraphicsType::Spice {
        if let Some(l) = g.listens.first_mut() {
            if l.type_ == ListenType::Address && g.port == 0 && g.spice.tls_port == 0 && !g.autoport
            {
                l.address = None;
                l.type_ = ListenType::None;
            }
        }
    }
}

fn format_auth(b: &mut Buf, a: &GraphicsAuth, opts: FormatOpts) {
    if a.passwd.is_none() {
        return;
    }
    if opts.secure {
        b.esc(" passwd='%s'", a.passwd.as_deref());
    }
    if let Some((y, mo, d, h, mi, s)) = a.valid_to {
        b.add(&format!(
            " passwdValidTo='{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}'"
        ));
    }
    if let Some(c) = a.connected {
        b.add(&format!(" connected='{}'", c.as_str()));
    }
}

fn listen_addr_attr(b: &mut Buf, l: Option<&GraphicsListen>, opts: FormatOpts) {
    let Some(l) = l else { return };
    if l.type_ == ListenType::Network && (opts.inactive || opts.migratable) {
        return;
    }
    if let Some(a) = &l.address {
        b.add(&format!(" listen='{a}'"));
    }
}

pub(super) fn format(b: &mut Buf, g: &Graphics, opts: FormatOpts) {
    let first = g.listens.first();
    b.add(&format!("<graphics type='{}'", g.type_.as_str()));
    let mut children = false;
    let open = |b: &mut Buf, children: &mut bool| {
        if !*children {
            b.add(">\n");
            b.adjust(2);
            *children = true;
        }
    };
    match g.type_ {
        GraphicsType::Vnc => {
            match first.map(|l| l.type_) {
                Some(ListenType::Socket) => {
                    b.esc(" socket='%s'", first.and_then(|l| l.socket.as_deref()));
                }
                Some(ListenType::Address | ListenType::Network) => {
                    if g.port != 0 && (!g.autoport || !opts.inactive) {
                        b.add(&format!(" port='{}'", g.port));
                    } else if g.autoport {
                        b.add(" port='-1'");
                    }
                    b.add(&format!(" autoport='{}'", yes_no(g.autoport)));
                    if g.websocket != 0 {
                        b.add(&format!(" websocket='{}'", g.websocket));
                    }
                    listen_addr_attr(b, first, opts);
                }
                _ => {}
            }
            b.esc(" keymap='%s'", g.keymap.as_deref());
            if let Some(p) = g.share_policy.filter(|p| *p != SharePolicy::Default) {
                b.add(&format!(" sharePolicy='{}'", p.as_str()));
            }
            if let Some(p) = g.power_control {
                b.add(&format!(" powerControl='{}'", yes_no(p)));
            }
            format_auth(b, &g.auth, opts);
        }
        GraphicsType::Sdl => {
            b.esc(" display='%s'", g.display.as_deref());
            b.esc(" xauth='%s'", g.xauth.as_deref());
            if g.fullscreen {
                b.add(" fullscreen='yes'");
            }
            if let Some(gl) = g.sdl_gl {
                open(b, &mut children);
                b.add(&format!("<gl enable='{}'/>\n", yes_no(gl)));
            }
        }
        GraphicsType::Spice => {
            match first.map(|l| l.type_) {
                Some(ListenType::Address | ListenType::Network) => {
                    if g.port != 0 {
                        b.add(&format!(" port='{}'", g.port));
                    }
                    if g.spice.tls_port != 0 {
                        b.add(&format!(" tlsPort='{}'", g.spice.tls_port));
                    }
                    b.add(&format!(" autoport='{}'", yes_no(g.autoport)));
                    listen_addr_attr(b, first, opts);
                }
                Some(ListenType::None) if opts.migratable => b.add(" autoport='no'"),
                _ => {}
            }
            b.esc(" keymap='%s'", g.keymap.as_deref());
            if let Some(m) = g.spice.default_mode.filter(|m| *m != SpiceChannelMode::Any) {
                b.add(&format!(" defaultMode='{}'", m.as_str()));
            }
            format_auth(b, &g.auth, opts);
        }
        GraphicsType::EglHeadless => {
            if let Some(r) = &g.egl_rendernode {
                open(b, &mut children);
                b.add("<gl");
                b.esc(" rendernode='%s'", Some(r));
                b.add("/>\n");
            }
        }
        GraphicsType::Rdp => {
            if g.port != 0 {
                b.add(&format!(" port='{}'", g.port));
            } else if g.autoport {
                b.add(" port='0'");
            }
            if g.autoport {
                b.add(" autoport='yes'");
            }
            if g.replace_user {
                b.add(" replaceUser='yes'");
            }
            if g.multi_user {
                b.add(" multiUser='yes'");
            }
            listen_addr_attr(b, first, opts);
        }
        GraphicsType::Desktop => {
            b.esc(" display='%s'", g.display.as_deref());
            if g.fullscreen {
                b.add(" fullscreen='yes'");
            }
        }
        GraphicsType::Dbus => {
            if g.p2p {
                b.add(" p2p='yes'");
            }
            if let Some(a) = &g.dbus_address {
                b.add(&format!(" address='{a}'"));
            }
            if g.dbus_gl.is_some() || g.audio_id > 0 {
                open(b, &mut children);
            }
            if let Some((enable, rendernode)) = &g.dbus_gl {
                b.add(&format!("<gl enable='{}'", yes_no(*enable)));
                b.esc(" rendernode='%s'", rendernode.as_deref());
                b.add("/>\n");
            }
            if g.audio_id > 0 {
                b.add(&format!("<audio id='{}'/>\n", g.audio_id as i32));
            }
        }
    }
    for l in &g.listens {
        if opts.migratable && g.type_ == GraphicsType::Vnc && l.type_ == ListenType::Socket {
            continue;
        }
        if opts.migratable && g.type_ == GraphicsType::Spice && l.type_ == ListenType::None {
            continue;
        }
        open(b, &mut children);
        b.add(&format!("<listen type='{}'", l.type_.as_str()));
        if let Some(a) = &l.address {
            b.add(&format!(" address='{a}'"));
        }
        if l.type_ == ListenType::Network {
            b.esc(" network='%s'", l.network.as_deref());
        }
        if l.type_ == ListenType::Socket {
            b.esc(" socket='%s'", l.socket.as_deref());
        }
        b.add("/>\n");
    }
    if g.type_ == GraphicsType::Spice {
        let s = &g.spice;
        for (name, mode) in &s.channels {
            if *mode == SpiceChannelMode::Any {
                continue;
            }
            open(b, &mut children);
            b.add(&format!(
                "<channel name='{}' mode='{}'/>\n",
                name.as_str(),
                mode.as_str()
            ));
        }
        if s.image.is_some()
            || s.jpeg.is_some()
            || s.zlib.is_some()
            || s.playback.is_some()
            || s.streaming.is_some()
            || s.copypaste.is_some()
            || s.mouse.is_some()
            || s.filetransfer.is_some()
            || s.gl.is_some()
        {
            open(b, &mut children);
        }
        if let Some(v) = s.image {
            b.add(&format!("<image compression='{}'/>\n", v.as_str()));
        }
        if let Some(v) = s.jpeg {
            b.add(&format!("<jpeg compression='{}'/>\n", v.as_str()));
        }
        if let Some(v) = s.zlib {
            b.add(&format!("<zlib compression='{}'/>\n", v.as_str()));
        }
        if let Some(v) = s.playback {
            b.add(&format!(
                "<playback compression='{}'/>\n",
                super::super::xml::on_off(v)
            ));
        }
        if let Some(v) = s.streaming {
            b.add(&format!("<streaming mode='{}'/>\n", v.as_str()));
        }
        if let Some(v) = s.mouse {
            b.add(&format!("<mouse mode='{}'/>\n", v.as_str()));
        }
        if let Some(v) = s.copypaste {
            b.add(&format!("<clipboard copypaste='{}'/>\n", yes_no(v)));
        }
        if let Some(v) = s.filetransfer {
            b.add(&format!("<filetransfer enable='{}'/>\n", yes_no(v)));
        }
        if let Some(v) = s.gl {
            b.add(&format!("<gl enable='{}'", yes_no(v)));
            b.esc(" rendernode='%s'", s.rendernode.as_deref());
            b.add("/>\n");
        }
    }
    if g.type_ == GraphicsType::Vnc {
        open(b, &mut children);
        if g.audio_id > 0 {
            b.add(&format!("<audio id='{}'/>\n", g.audio_id));
        }
    }
    if children {
        b.adjust(-2);
        b.add("</graphics>\n");
    } else {
        b.add("/>\n");
    }
}
