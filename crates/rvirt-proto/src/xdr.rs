//! XDR (RFC 4506) encoding as libvirt's rpcgen output uses it.
//!
//! Everything on libvirt's wire is a sequence of 4-byte big-endian units. Two rules differ from what a
//! reader might expect and both are reproduced here: `char`, `unsigned char`, `short` and
//! `unsigned short` each take a whole 4-byte unit (so `Vec<u8>` is an *array of chars*, 4 bytes per
//! element; packed bytes are [`Opaque`]), and bounded strings and arrays carry their bound in the
//! type definition, which [`xdr_struct!`](crate::xdr_struct) checks on both encode and decode.
//!
//! Decoding never trusts a length word: a count larger than the bytes left in the buffer is refused
//! before anything is allocated, so a hostile 4-byte length cannot make us reserve gigabytes.

use thiserror::Error;

/// The largest string libvirt accepts (`REMOTE_STRING_MAX`, 4 MiB).
pub const STRING_MAX: usize = 4 * 1024 * 1024;

/// Why a byte sequence could not be decoded, or a value could not be encoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum XdrError {
    /// The buffer ended in the middle of a value.
    #[error("xdr data truncated: needed {needed} more bytes at offset {offset}")]
    Truncated {
        /// Offset of the value being read.
        offset: usize,
        /// Bytes that were missing.
        needed: usize,
    },
    /// A length word exceeds the bound declared for the field.
    #[error("xdr {what} length {len} exceeds maximum {max}")]
    TooLong {
        /// Kind of value (string, array, opaque).
        what: &'static str,
        /// Length found.
        len: usize,
        /// Declared bound.
        max: usize,
    },
    /// A boolean or optional-pointer word was neither 0 nor 1.
    #[error("xdr boolean at offset {offset} has invalid value {value}")]
    InvalidBool {
        /// Offset of the word.
        offset: usize,
        /// Value found.
        value: u32,
    },
    /// A discriminated union carried an unknown discriminant.
    #[error("xdr union {what} has unknown discriminant {value}")]
    InvalidDiscriminant {
        /// Union type.
        what: &'static str,
        /// Discriminant found.
        value: i32,
    },
    /// Padding bytes after a string or opaque were not zero.
    #[error("xdr padding at offset {offset} is not zero")]
    NonZeroPadding {
        /// Offset of the padding.
        offset: usize,
    },
    /// A string was not valid UTF-8.
    #[error("xdr string at offset {offset} is not valid utf-8")]
    InvalidUtf8 {
        /// Offset of the string data.
        offset: usize,
    },
    /// Bytes were left over after the whole message was decoded.
    #[error("xdr message has {0} trailing bytes")]
    TrailingBytes(usize),
    /// A `char` value does not fit in 8 bits.
    #[error("xdr char value {0} out of range")]
    CharRange(i32),
}

/// Result of decoding.
pub type XdrResult<T> = Result<T, XdrError>;

/// Appends XDR units to a byte buffer.
#[derive(Debug, Default)]
pub struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    /// A new, empty encoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// An encoder that appends to `buf`.
    pub fn with_buffer(buf: Vec<u8>) -> Self {
        Self { buf }
    }

    /// The bytes written so far.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Number of bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Writes one big-endian 32-bit unit.
    pub fn put_u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Writes one big-endian 64-bit value (`hyper`).
    pub fn put_u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Writes bytes followed by zero padding to a multiple of 4.
    pub fn put_padded(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        let pad = (4 - bytes.len() % 4) % 4;
        self.buf.extend_from_slice(&[0u8; 3][..pad]);
    }

    /// Overwrites a 32-bit unit at `offset` (used to patch the packet length).
    pub fn patch_u32(&mut self, offset: usize, v: u32) {
        self.buf[offset..offset + 4].copy_from_slice(&v.to_be_bytes());
    }
}

/// Reads XDR units from a byte slice.
#[derive(Debug)]
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    /// A decoder over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Current offset.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Fails unless every byte was consumed.
    pub fn finish(&self) -> XdrResult<()> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(XdrError::TrailingBytes(n)),
        }
    }

    fn take(&mut self, n: usize) -> XdrResult<&'a [u8]> {
        if self.remaining() < n {
            return Err(XdrError::Truncated {
                offset: self.pos,
                needed: n - self.remaining(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Reads one 32-bit unit.
    pub fn get_u32(&mut self) -> XdrResult<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads one 64-bit value.
    pub fn get_u64(&mut self) -> XdrResult<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// Reads `n` bytes and their zero padding.
    pub fn get_padded(&mut self, n: usize) -> XdrResult<&'a [u8]> {
        let pad = (4 - n % 4) % 4;
        if self.remaining() < n + pad {
            return Err(XdrError::Truncated {
                offset: self.pos,
                needed: n + pad - self.remaining(),
            });
        }
        let data = self.take(n)?;
        let pad_at = self.pos;
        if self.take(pad)?.iter().any(|&b| b != 0) {
            return Err(XdrError::NonZeroPadding { offset: pad_at });
        }
        Ok(data)
    }

    /// Reads a length word and checks it against `max` and against the bytes left, assuming each
    /// element takes at least `min_elem` bytes.
    pub fn get_len(&mut self, what: &'static str, max: usize, min_elem: usize) -> XdrResult<usize> {
        let len = self.get_u32()? as usize;
        if len > max {
            return Err(XdrError::TooLong { what, len, max });
        }
        if len.saturating_mul(min_elem) > self.remaining() {
            return Err(XdrError::Truncated {
                offset: self.pos,
                needed: len.saturating_mul(min_elem) - self.remaining(),
            });
        }
        Ok(len)
    }
}

/// A type with an XDR representation.
pub trait Xdr: Sized {
    /// Appends the encoding of `self`.
    fn encode(&self, e: &mut Encoder);
    /// Reads one value.
    fn decode(d: &mut Decoder<'_>) -> XdrResult<Self>;
}

/// A type whose XDR representation carries a length bounded by the field declaring it
/// (strings, variable arrays, variable opaques).
pub trait XdrBounded: Sized {
    /// Appends the encoding of `self`, which must respect `max`.
    fn encode_bounded(&self, e: &mut Encoder, max: usize);
    /// Reads one value whose length may not exceed `max`.
    fn decode_bounded(d: &mut Decoder<'_>, max: usize) -> XdrResult<Self>;
}

/// Encodes a value to a fresh byte vector.
pub fn to_bytes<T: Xdr>(v: &T) -> Vec<u8> {
    let mut e = Encoder::new();
    v.encode(&mut e);
    e.into_bytes()
}

/// Decodes a whole buffer as one value; trailing bytes are an error.
pub fn from_bytes<T: Xdr>(buf: &[u8]) -> XdrResult<T> {
    let mut d = Decoder::new(buf);
    let v = T::decode(&mut d)?;
    d.finish()?;
    Ok(v)
}

impl Xdr for () {
    fn encode(&self, _e: &mut Encoder) {}
    fn decode(_d: &mut Decoder<'_>) -> XdrResult<Self> {
        Ok(())
    }
}

impl Xdr for u32 {
    fn encode(&self, e: &mut Encoder) {
        e.put_u32(*self)
    }
    fn decode(d: &mut Decoder<'_>) -> XdrResult<Self> {
        d.get_u32()
    }
}

impl Xdr for i32 {
    fn encode(&self, e: &mut Encoder) {
        e.put_u32(*self as u32)
    }
    fn decode(d: &mut Decoder<'_>) -> XdrResult<Self> {
        Ok(d.get_u32()? as i32)
    }
}

impl Xdr for u64 {
    fn encode(&self, e: &mut Encoder) {
        e.put_u64(*self)
    }
    fn decode(d: &mut Decoder<'_>) -> XdrResult<Self> {
        d.get_u64()
    }
}

impl Xdr for i64 {
    fn encode(&self, e: &mut Encoder) {
        e.put_u64(*self as u64)
    }
    fn decode(d: &mut Decoder<'_>) -> XdrResult<Self> {
        Ok(d.get_u64()? as i64)
    }
}

impl Xdr for f64 {
    fn encode(&self, e: &mut Encoder) {
        e.put_u64(self.to_bits())
    }
    fn decode(d: &mut Decoder<'_>) -> XdrResult<Self> {
        Ok(f64::from_bits(d.get_u64()?))
    }
}

impl Xdr for f32 {
    fn encode(&self, e: &mut Encoder) {
        e.put_u32(self.to_bits())
    }
    fn decode(d: &mut Decoder<'_>) -> XdrResult<Self> {
        Ok(f32::from_bits(d.get_u32()?))
    }
}

/// XDR `bool`: a 4-byte 0 or 1. (libvirt's `int` flags are plain `i32`, not this.)
impl Xdr for bool {
    fn encode(&self, e: &mut Encoder) {
        e.put_u32(u32::from(*self))
    }
    fn decode(d: &mut Decoder<'_>) -> XdrResult<Self> {
        let offset = d.position();
        match d.get_u32()? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(XdrError::InvalidBool { offset, value }),
        }
    }
}

/// XDR `unsigned char`: one byte in a 4-byte unit.
impl Xdr for u8 {
    fn encode(&self, e: &mut Encoder) {
        e.put_u32(u32::from(*self))
    }
    fn decode(d: &mut Decoder<'_>) -> XdrResult<Self> {
        let v = d.get_u32()? as i32;
        u8::try_from(v).map_err(|_| XdrError::CharRange(v))
    }
}

/// XDR `char` (signed): one byte in a 4-byte unit, sign-extended as `xdr_char` does.
impl Xdr for i8 {
    fn encode(&self, e: &mut Encoder) {
        e.put_u32(i32::from(*self) as u32)
    }
    fn decode(d: &mut Decoder<'_>) -> XdrResult<Self> {
        let v = d.get_u32()? as i32;
        i8::try_from(v).map_err(|_| XdrError::CharRange(v))
    }
}

/// XDR `unsigned short`: a 4-byte unit.
impl Xdr for u16 {
    fn encode(&self, e: &mut Encoder) {
        e.put_u32(u32::from(*self))
    }
    fn decode(d: &mut Decoder<'_>) -> XdrResult<Self> {
        let v = d.get_u32()?;
        u16::try_from(v).map_err(|_| XdrError::CharRange(v as i32))
    }
}

/// `string<STRING_MAX>` unless a field declares a smaller bound.
impl Xdr for String {
    fn encode(&self, e: &mut Encoder) {
        self.encode_bounded(e, STRING_MAX)
    }
    fn decode(d: &mut Decoder<'_>) -> XdrResult<Self> {
        Self::decode_bounded(d, STRING_MAX)
    }
}

impl XdrBounded for String {
    fn encode_bounded(&self, e: &mut Encoder, max: usize) {
        debug_assert!(self.len() <= max, "string longer than its xdr bound");
        e.put_u32(self.len() as u32);
        e.put_padded(self.as_bytes());
    }
    fn decode_bounded(d: &mut Decoder<'_>, max: usize) -> XdrResult<Self> {
        let len = d.get_len("string", max, 1)?;
        let offset = d.position();
        let bytes = d.get_padded(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| XdrError::InvalidUtf8 { offset })
    }
}

/// Optional data (`T *` in XDR): a boolean word, then the value when present.
impl<T: Xdr> Xdr for Option<T> {
    fn encode(&self, e: &mut Encoder) {
        match self {
            None => e.put_u32(0),
            Some(v) => {
                e.put_u32(1);
                v.encode(e)
            }
        }
    }
    fn decode(d: &mut Decoder<'_>) -> XdrResult<Self> {
        if bool::decode(d)? {
            Ok(Some(T::decode(d)?))
        } else {
            Ok(None)
        }
    }
}

impl<T: XdrBounded> XdrBounded for Option<T> {
    fn encode_bounded(&self, e: &mut Encoder, max: usize) {
        match self {
            None => e.put_u32(0),
            Some(v) => {
                e.put_u32(1);
                v.encode_bounded(e, max)
            }
        }
    }
    fn decode_bounded(d: &mut Decoder<'_>, max: usize) -> XdrResult<Self> {
        if bool::decode(d)? {
            Ok(Some(T::decode_bounded(d, max)?))
        } else {
            Ok(None)
        }
    }
}

/// Variable-length array `T x<max>`. `Vec<u8>`/`Vec<i8>` are arrays of 4-byte chars; packed bytes
/// are [`Opaque`].
impl<T: Xdr> XdrBounded for Vec<T> {
    fn encode_bounded(&self, e: &mut Encoder, max: usize) {
        debug_assert!(self.len() <= max, "array longer than its xdr bound");
        e.put_u32(self.len() as u32);
        for v in self {
            v.encode(e);
        }
    }
    fn decode_bounded(d: &mut Decoder<'_>, max: usize) -> XdrResult<Self> {
        // Every XDR value takes at least 4 bytes, which bounds the allocation by the input size.
        let len = d.get_len("array", max, 4)?;
        let mut out = Vec::with_capacity(len);
        for _ in 0..len {
            out.push(T::decode(d)?);
        }
        Ok(out)
    }
}

/// An unbounded variable array (bounded only by the packet size).
impl<T: Xdr> Xdr for Vec<T> {
    fn encode(&self, e: &mut Encoder) {
        self.encode_bounded(e, u32::MAX as usize)
    }
    fn decode(d: &mut Decoder<'_>) -> XdrResult<Self> {
        Self::decode_bounded(d, u32::MAX as usize)
    }
}

/// Fixed-length array `T x[N]`: no length word. `[u8; N]` is N 4-byte chars, not opaque.
impl<T: Xdr + Copy + Default, const N: usize> Xdr for [T; N] {
    fn encode(&self, e: &mut Encoder) {
        for v in self {
            v.encode(e);
        }
    }
    fn decode(d: &mut Decoder<'_>) -> XdrResult<Self> {
        let mut out = [T::default(); N];
        for slot in out.iter_mut() {
            *slot = T::decode(d)?;
        }
        Ok(out)
    }
}

/// Variable-length `opaque x<max>`: a length word then packed bytes and padding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Opaque(pub Vec<u8>);

impl XdrBounded for Opaque {
    fn encode_bounded(&self, e: &mut Encoder, max: usize) {
        debug_assert!(self.0.len() <= max, "opaque longer than its xdr bound");
        e.put_u32(self.0.len() as u32);
        e.put_padded(&self.0);
    }
    fn decode_bounded(d: &mut Decoder<'_>, max: usize) -> XdrResult<Self> {
        let len = d.get_len("opaque", max, 1)?;
        Ok(Opaque(d.get_padded(len)?.to_vec()))
    }
}

impl Xdr for Opaque {
    fn encode(&self, e: &mut Encoder) {
        self.encode_bounded(e, u32::MAX as usize)
    }
    fn decode(d: &mut Decoder<'_>) -> XdrResult<Self> {
        Self::decode_bounded(d, u32::MAX as usize)
    }
}

/// Fixed-length `opaque x[N]` (UUIDs): N packed bytes plus padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FixedOpaque<const N: usize>(pub [u8; N]);

impl<const N: usize> Default for FixedOpaque<N> {
    fn default() -> Self {
        Self([0; N])
    }
}

impl<const N: usize> Xdr for FixedOpaque<N> {
    fn encode(&self, e: &mut Encoder) {
        e.put_padded(&self.0)
    }
    fn decode(d: &mut Decoder<'_>) -> XdrResult<Self> {
        let mut out = [0u8; N];
        out.copy_from_slice(d.get_padded(N)?);
        Ok(Self(out))
    }
}

/// Declares a struct and its XDR encoding, field by field in declaration order.
///
/// A field may carry its XDR bound in brackets after the type: `name: String [4096]`.
/// Without a bound, strings default to 4 MiB and arrays to the packet size.
#[macro_export]
macro_rules! xdr_struct {
    (
        $(#[$attr:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fattr:meta])* $fvis:vis $field:ident : $fty:ty $([$max:expr])? ),* $(,)?
        }
    ) => {
        $(#[$attr])*
        // Field names follow the protocol definition; their meaning is documented there.
        #[allow(missing_docs)]
        #[derive(Debug, Clone, PartialEq, Default)]
        $vis struct $name {
            $( $(#[$fattr])* $fvis $field : $fty ),*
        }

        impl $crate::xdr::Xdr for $name {
            #[allow(unused_variables)]
            fn encode(&self, e: &mut $crate::xdr::Encoder) {
                $( $crate::xdr_struct!(@enc e, self.$field $(, $max)?); )*
            }
            #[allow(unused_variables)]
            fn decode(d: &mut $crate::xdr::Decoder<'_>) -> $crate::xdr::XdrResult<Self> {
                Ok(Self {
                    $( $field: $crate::xdr_struct!(@dec d, $fty $(, $max)?), )*
                })
            }
        }
    };
    (@enc $e:ident, $v:expr) => { $crate::xdr::Xdr::encode(&$v, $e) };
    (@enc $e:ident, $v:expr, $max:expr) => { $crate::xdr::XdrBounded::encode_bounded(&$v, $e, $max) };
    (@dec $d:ident, $t:ty) => { <$t as $crate::xdr::Xdr>::decode($d)? };
    (@dec $d:ident, $t:ty, $max:expr) => { <$t as $crate::xdr::XdrBounded>::decode_bounded($d, $max)? };
}

#[cfg(test)]
mod tests {
    use super::*;

    xdr_struct! {
        struct Sample {
            a: i32,
            s: String [8],
            chars: Vec<u8> [4],
            model: [i8; 3],
            o: Option<String>,
            h: u64,
            blob: Opaque [16],
        }
    }

    #[test]
    fn round_trip_and_layout() {
        let v = Sample {
            a: -2,
            s: "abcde".into(),
            chars: vec![1, 2],
            model: [b'x' as i8, 0, -1],
            o: Some("z".into()),
            h: 0x0102030405060708,
            blob: Opaque(vec![9, 9, 9]),
        };
        let b = to_bytes(&v);
        let expect: Vec<u8> = [
            &[0xff, 0xff, 0xff, 0xfe][..],
            &[0, 0, 0, 5, b'a', b'b', b'c', b'd', b'e', 0, 0, 0],
            &[0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2],
            &[0, 0, 0, b'x', 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff],
            &[0, 0, 0, 1, 0, 0, 0, 1, b'z', 0, 0, 0],
            &[1, 2, 3, 4, 5, 6, 7, 8],
            &[0, 0, 0, 3, 9, 9, 9, 0],
        ]
        .concat();
        assert_eq!(b, expect);
        assert_eq!(from_bytes::<Sample>(&b).unwrap(), v);
    }

    #[test]
    fn bounds_are_enforced() {
        let mut e = Encoder::new();
        e.put_u32(9);
        e.put_padded(b"123456789");
        let mut d = Decoder::new(&e.buf);
        assert!(matches!(
            String::decode_bounded(&mut d, 8),
            Err(XdrError::TooLong { len: 9, max: 8, .. })
        ));
    }

    #[test]
    fn hostile_lengths_do_not_allocate() {
        // A claimed 1-billion-element array in an 8-byte buffer is refused before allocating.
        let buf = [0x3b, 0x9a, 0xca, 0x00, 0, 0, 0, 0];
        let mut d = Decoder::new(&buf);
        assert!(matches!(
            Vec::<u64>::decode(&mut d),
            Err(XdrError::Truncated { .. })
        ));
        let mut d = Decoder::new(&buf);
        assert!(String::decode(&mut d).is_err());
    }

    #[test]
    fn truncation_padding_bool_and_trailing() {
        assert!(matches!(
            from_bytes::<u64>(&[0, 0, 0]),
            Err(XdrError::Truncated { .. })
        ));
        assert!(matches!(
            from_bytes::<String>(&[0, 0, 0, 1, b'a', 1, 0, 0]),
            Err(XdrError::NonZeroPadding { offset: 5 })
        ));
        assert!(matches!(
            from_bytes::<Option<u32>>(&[0, 0, 0, 2, 0, 0, 0, 0]),
            Err(XdrError::InvalidBool { value: 2, .. })
        ));
        assert_eq!(
            from_bytes::<u32>(&[0, 0, 0, 1, 0, 0, 0, 0]),
            Err(XdrError::TrailingBytes(4))
        );
        assert!(from_bytes::<String>(&[0, 0, 0, 2, 0xff, 0xfe, 0, 0]).is_err());
        assert!(from_bytes::<u8>(&[0, 0, 1, 0]).is_err());
    }

    #[test]
    fn floats_and_fixed_opaque() {
        assert_eq!(to_bytes(&1.5f64), 1.5f64.to_be_bytes().to_vec());
        let u = FixedOpaque([7u8; 16]);
        let b = to_bytes(&u);
        assert_eq!(b.len(), 16);
        assert_eq!(from_bytes::<FixedOpaque<16>>(&b).unwrap(), u);
        let odd = FixedOpaque([1u8; 3]);
        assert_eq!(to_bytes(&odd), vec![1, 1, 1, 0]);
    }
}
