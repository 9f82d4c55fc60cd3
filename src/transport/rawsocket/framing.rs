//! Frames after the handshake: a 4-octet prefix, then the payload (spec,
//! "RawSocket Transport", "Framing").
//!
//! ```text
//! RRRR XTTT LLLL LLLL LLLL LLLL LLLL LLLL
//! ```
//!
//! `R` are reserved bits (zero), `TTT` the frame type (0 a WAMP message,
//! 1 PING, 2 PONG, 3–7 reserved), `L` the payload length and `X` its 25th
//! bit, set only for a payload of exactly 2^24 octets.

use std::io;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// The length of a frame's prefix.
const PREFIX_LEN: usize = 4;

/// The `X` bit of the first octet: 2^24 added to the length.
const X_BIT: u8 = 0x08;

/// The reserved `RRRR` bits of the first octet.
const RESERVED_BITS: u8 = 0xF0;

/// The most the decoder reserves ahead of the bytes of a payload that has
/// not arrived yet: a peer that announces a large frame and sends nothing
/// must not make us allocate all of it. Bytes that do arrive grow the
/// buffer as usual.
const MAX_RESERVE_AHEAD: usize = 64 * 1024;

/// The type of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FrameType {
    /// A serialized WAMP message.
    Message,
    /// A PING: the peer must answer with a PONG echoing the payload.
    Ping,
    /// A PONG, answering a PING.
    Pong,
}

impl FrameType {
    fn bits(self) -> u8 {
        match self {
            FrameType::Message => 0,
            FrameType::Ping => 1,
            FrameType::Pong => 2,
        }
    }

    fn from_bits(bits: u8) -> Option<Self> {
        match bits {
            0 => Some(FrameType::Message),
            1 => Some(FrameType::Ping),
            2 => Some(FrameType::Pong),
            _ => None,
        }
    }
}

/// One frame: its type and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Frame {
    pub(super) kind: FrameType,
    pub(super) payload: Bytes,
}

impl Frame {
    pub(super) fn new(kind: FrameType, payload: Bytes) -> Self {
        Frame { kind, payload }
    }
}

/// Why a frame cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub(super) enum FrameError {
    /// The payload is longer than the receiver accepts.
    #[error("a frame of {length} octets is over the negotiated maximum of {max} octets")]
    TooLong { length: usize, max: usize },
    /// The prefix sets reserved bits.
    #[error("a frame prefix sets reserved bits (first octet {0:#04x})")]
    ReservedBits(u8),
    /// The prefix names a reserved frame type (3 to 7).
    #[error("a frame has the reserved type {0}")]
    ReservedType(u8),
    /// Reading or writing the connection failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Reads or writes frames of at most `max_length` octets of payload.
///
/// A connection has two: the reader's with the router's own maximum (the
/// one it announced in its handshake reply), the writer's with the
/// client's.
#[derive(Debug, Clone, Copy)]
pub(super) struct FrameCodec {
    max_length: usize,
}

impl FrameCodec {
    pub(super) fn new(max_length: usize) -> Self {
        FrameCodec { max_length }
    }

    /// The longest payload this codec reads or writes.
    pub(super) fn max_length(&self) -> usize {
        self.max_length
    }
}

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        let Some(&[first, a, b, c]) = src.get(..PREFIX_LEN) else {
            return Ok(None);
        };
        if first & RESERVED_BITS != 0 {
            return Err(FrameError::ReservedBits(first));
        }
        let kind =
            FrameType::from_bits(first & 0x07).ok_or(FrameError::ReservedType(first & 0x07))?;
        let low = (usize::from(a) << 16) | (usize::from(b) << 8) | usize::from(c);
        let length = if first & X_BIT != 0 {
            low + (1 << 24)
        } else {
            low
        };
        // Checked on the prefix alone, before any payload is buffered: the
        // spec has a peer fail the connection on a message over the limit.
        if length > self.max_length {
            return Err(FrameError::TooLong {
                length,
                max: self.max_length,
            });
        }
        let missing = (PREFIX_LEN + length).saturating_sub(src.len());
        if missing > 0 {
            src.reserve(missing.min(MAX_RESERVE_AHEAD));
            return Ok(None);
        }
        src.advance(PREFIX_LEN);
        let payload = src.split_to(length).freeze();
        Ok(Some(Frame { kind, payload }))
    }
}

impl Encoder<Frame> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), FrameError> {
        let length = frame.payload.len();
        let too_long = || FrameError::TooLong {
            length,
            max: self.max_length,
        };
        if length > self.max_length {
            return Err(too_long());
        }
        // At most 2^24 here (no handshake allows more), so the top octet of
        // the 32-bit length is 0 or 1: the X bit.
        let [top, a, b, c] = u32::try_from(length).map_err(|_| too_long())?.to_be_bytes();
        if top > 1 {
            return Err(too_long());
        }
        dst.reserve(PREFIX_LEN + length);
        dst.put_u8(frame.kind.bits() | (top << 3));
        dst.put_slice(&[a, b, c]);
        dst.put_slice(&frame.payload);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB16: usize = 1 << 24;

    fn decode_all(codec: &mut FrameCodec, bytes: &[u8]) -> Result<Vec<Frame>, FrameError> {
        let mut buf = BytesMut::from(bytes);
        let mut frames = Vec::new();
        while let Some(frame) = codec.decode(&mut buf)? {
            frames.push(frame);
        }
        Ok(frames)
    }

    fn encode(codec: &mut FrameCodec, kind: FrameType, payload: &[u8]) -> Vec<u8> {
        let mut out = BytesMut::new();
        codec
            .encode(Frame::new(kind, Bytes::copy_from_slice(payload)), &mut out)
            .expect("the frame encodes");
        out.to_vec()
    }

    #[test]
    fn frames_decode_one_after_another() {
        let mut codec = FrameCodec::new(1024);
        let bytes = [
            &[0x00, 0, 0, 3][..],
            b"[1]",
            &[0x01, 0, 0, 2],
            b"hi",
            &[0x02, 0, 0, 0],
            &[0x00, 0, 1, 0],
        ]
        .concat();
        let mut bytes = bytes;
        bytes.extend(std::iter::repeat_n(b'x', 256));
        let frames = decode_all(&mut codec, &bytes).unwrap();
        assert_eq!(frames.len(), 4);
        assert_eq!(
            frames[0],
            Frame::new(FrameType::Message, Bytes::from_static(b"[1]"))
        );
        assert_eq!(
            frames[1],
            Frame::new(FrameType::Ping, Bytes::from_static(b"hi"))
        );
        assert_eq!(frames[2], Frame::new(FrameType::Pong, Bytes::new()));
        assert_eq!(frames[3].kind, FrameType::Message);
        assert_eq!(frames[3].payload.len(), 256);
    }

    #[test]
    fn a_partial_frame_waits_for_more() {
        let mut codec = FrameCodec::new(1024);
        let mut buf = BytesMut::new();
        for &byte in &[0x00, 0, 0, 3, b'[', b'2'] {
            buf.put_u8(byte);
            assert_eq!(codec.decode(&mut buf).unwrap(), None);
        }
        buf.put_u8(b']');
        let frame = codec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(frame.payload, &b"[2]"[..]);
        assert!(buf.is_empty());
    }

    #[test]
    fn a_frame_over_the_maximum_fails_before_its_payload_arrives() {
        let mut codec = FrameCodec::new(512);
        assert_eq!(decode_all(&mut codec, &[0, 0, 2, 0]).unwrap(), vec![]);
        let mut buf = BytesMut::from(&[0u8, 0, 2, 1][..]);
        let error = codec.decode(&mut buf).unwrap_err();
        assert!(
            matches!(
                error,
                FrameError::TooLong {
                    length: 513,
                    max: 512
                }
            ),
            "{error}"
        );
        // A ping counts as well.
        assert!(matches!(
            decode_all(&mut codec, &[1, 0, 2, 1]),
            Err(FrameError::TooLong { .. })
        ));
        // The largest length a prefix can hold: 2^25 - 1.
        let mut buf = BytesMut::from(&[0x08u8, 0xFF, 0xFF, 0xFF][..]);
        let mut codec = FrameCodec::new(MIB16);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(FrameError::TooLong { length, .. }) if length == 2 * MIB16 - 1
        ));
    }

    #[test]
    fn an_announced_large_frame_does_not_allocate_it_all() {
        let mut codec = FrameCodec::new(MIB16);
        let mut buf = BytesMut::from(&[0x08u8, 0, 0, 0][..]);
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
        assert!(
            buf.capacity() <= PREFIX_LEN + MAX_RESERVE_AHEAD,
            "{}",
            buf.capacity()
        );
    }

    #[test]
    fn reserved_bits_and_types_fail() {
        let mut codec = FrameCodec::new(1024);
        for first in [0x10, 0x80, 0xF0, 0x41] {
            assert!(
                matches!(decode_all(&mut codec, &[first, 0, 0, 0]), Err(FrameError::ReservedBits(b)) if b == first),
                "{first:#04x}"
            );
        }
        for kind in 3..=7u8 {
            assert!(
                matches!(decode_all(&mut codec, &[kind, 0, 0, 0]), Err(FrameError::ReservedType(k)) if k == kind),
                "{kind}"
            );
        }
    }

    #[test]
    fn the_x_bit_means_exactly_16_mib() {
        let mut codec = FrameCodec::new(MIB16);
        let payload = vec![7u8; MIB16];
        let encoded = encode(&mut codec, FrameType::Message, &payload);
        assert_eq!(&encoded[..4], &[0x08, 0, 0, 0]);
        let frames = decode_all(&mut codec, &encoded).unwrap();
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].payload.len(), MIB16);

        let one_less = encode(&mut codec, FrameType::Ping, &payload[1..]);
        assert_eq!(&one_less[..4], &[0x01, 0xFF, 0xFF, 0xFF]);
        assert_eq!(
            decode_all(&mut codec, &one_less).unwrap()[0].payload.len(),
            MIB16 - 1
        );
    }

    #[test]
    fn encoding_writes_the_prefix_and_checks_the_peers_maximum() {
        let mut codec = FrameCodec::new(512);
        assert_eq!(
            encode(&mut codec, FrameType::Message, b"[1]"),
            b"\x00\x00\x00\x03[1]"
        );
        assert_eq!(
            encode(&mut codec, FrameType::Ping, b""),
            b"\x01\x00\x00\x00"
        );
        assert_eq!(
            encode(&mut codec, FrameType::Pong, b"ab"),
            b"\x02\x00\x00\x02ab"
        );
        let long = encode(&mut codec, FrameType::Message, &[0; 512]);
        assert_eq!(&long[..4], &[0, 0, 2, 0]);

        let mut out = BytesMut::new();
        let error = codec
            .encode(
                Frame::new(FrameType::Message, Bytes::from(vec![0; 513])),
                &mut out,
            )
            .unwrap_err();
        assert!(matches!(
            error,
            FrameError::TooLong {
                length: 513,
                max: 512
            }
        ));
        assert!(out.is_empty(), "nothing written for a refused frame");
    }

    #[test]
    fn every_type_round_trips() {
        let mut codec = FrameCodec::new(1 << 16);
        for kind in [FrameType::Message, FrameType::Ping, FrameType::Pong] {
            for len in [0, 1, 255, 256, 65535, 65536] {
                let payload: Vec<u8> = (0..len).map(|i| u8::try_from(i % 251).unwrap()).collect();
                let encoded = encode(&mut codec, kind, &payload);
                let frames = decode_all(&mut codec, &encoded).unwrap();
                assert_eq!(frames, vec![Frame::new(kind, Bytes::from(payload))]);
            }
        }
    }
}
