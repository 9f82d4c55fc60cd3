//! Framing for WAMP-over-Batched-WebSocket: several WAMP messages in one
//! WebSocket message.
//!
//! The spec (advanced profile, "Message Batching") defines two framings,
//! negotiated by the subprotocols `wamp.2.json.batched`,
//! `wamp.2.msgpack.batched` and `wamp.2.cbor.batched`:
//!
//! * JSON: each serialized message is followed by a separator byte
//!   ([`split_json_batch`], [`push_json_record`]);
//! * MsgPack and CBOR: each serialized message is preceded by its length as
//!   a 4-byte big-endian unsigned integer ([`split_length_prefixed_batch`],
//!   [`push_length_prefixed_record`], [`begin_length_prefixed_record`]).
//!
//! Even a single message is sent as a batch of one, and a batch of zero
//! messages is illegal: the peer "MUST fail the transport". This module only
//! cuts frames into records and glues records into frames; it knows nothing
//! about what the records contain.

use std::iter::FusedIterator;

/// The byte that ends each record of a batched JSON frame.
///
/// The spec says `0x1E` (ASCII record separator), but Autobahn|Python, the
/// reference implementation, writes `0x18` (ASCII cancel). Neither byte can
/// occur raw in valid JSON text (control characters must be escaped inside
/// strings, and only whitespace may appear between tokens), so a reader can
/// accept both; a writer should answer each peer with the one it uses (see
/// [`JsonRecords::separator`] and [`detect_json_separator`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum JsonSeparator {
    /// `0x1E`, ASCII record separator, as the spec says.
    #[default]
    RecordSeparator,
    /// `0x18`, ASCII cancel, what Autobahn|Python writes.
    Cancel,
}

impl JsonSeparator {
    /// The separator byte: `0x1E` or `0x18`.
    #[must_use]
    pub const fn byte(self) -> u8 {
        match self {
            JsonSeparator::RecordSeparator => 0x1E,
            JsonSeparator::Cancel => 0x18,
        }
    }

    /// The separator that `byte` is, if it is one.
    #[must_use]
    pub const fn from_byte(byte: u8) -> Option<JsonSeparator> {
        match byte {
            0x1E => Some(JsonSeparator::RecordSeparator),
            0x18 => Some(JsonSeparator::Cancel),
            _ => None,
        }
    }
}

/// Why a batched frame cannot be split into records, or a record cannot be
/// added to one.
///
/// Byte offsets count from the start of the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The frame holds no record at all, which the spec forbids.
    #[error("batched frame is empty: a batch must hold at least one message")]
    EmptyFrame,
    /// A record has no bytes: two JSON separators in a row, or a length
    /// prefix of 0.
    #[error("batched frame: record at byte {offset} is empty")]
    EmptyRecord {
        /// Where the record starts (for a length-prefixed record, where its
        /// prefix starts).
        offset: usize,
    },
    /// The last JSON record is not followed by a separator.
    #[error(
        "batched frame: record at byte {offset} is not terminated: \
         its {len} bytes are not followed by a separator"
    )]
    UnterminatedRecord {
        /// Where the record starts.
        offset: usize,
        /// How many bytes follow, without a separator.
        len: usize,
    },
    /// Fewer than 4 bytes are left where a length prefix should be.
    #[error(
        "batched frame: record at byte {offset} needs a 4-byte length prefix \
         but only {remaining} bytes remain"
    )]
    TruncatedLengthPrefix {
        /// Where the length prefix starts.
        offset: usize,
        /// How many bytes are left (1 to 3).
        remaining: usize,
    },
    /// A length prefix announces more bytes than the frame has left.
    #[error(
        "batched frame: record at byte {offset} announces {announced} bytes \
         but only {remaining} remain"
    )]
    LengthExceedsFrame {
        /// Where the length prefix starts.
        offset: usize,
        /// The length it announces.
        announced: u32,
        /// How many bytes follow the prefix.
        remaining: usize,
    },
    /// A record is too long for a 4-byte length prefix.
    #[error("batched frame: a record of {len} bytes is too long for a 32-bit length prefix")]
    RecordTooLong {
        /// The record's length.
        len: usize,
    },
    /// [`finish_length_prefixed_record`] was given a start that
    /// [`begin_length_prefixed_record`] did not return for this buffer.
    #[error(
        "batched frame: no length prefix is reserved at byte {start} \
         of a {len}-byte buffer"
    )]
    NoReservedPrefix {
        /// The start that was passed.
        start: usize,
        /// The buffer's length.
        len: usize,
    },
}

/// Whether `byte` ends a JSON record (either separator).
fn is_json_separator(byte: u8) -> bool {
    JsonSeparator::from_byte(byte).is_some()
}

/// Splits a batched JSON frame into its records (without their separators).
///
/// Either separator ends a record, even both in one frame. The iterator
/// yields an error and then ends if the frame is empty, if a record is empty
/// (two separators in a row, or a separator first) or if bytes follow the
/// last separator without their own.
#[must_use]
pub fn split_json_batch(frame: &[u8]) -> JsonRecords<'_> {
    JsonRecords {
        frame,
        pos: 0,
        separator: None,
        done: false,
    }
}

/// Returns the separator that ends the first record of a batched JSON frame,
/// or `None` if the frame contains no separator.
///
/// A server can use it on a connection's first frame to answer with the
/// separator its client uses.
#[must_use]
pub fn detect_json_separator(frame: &[u8]) -> Option<JsonSeparator> {
    frame
        .iter()
        .find_map(|&byte| JsonSeparator::from_byte(byte))
}

/// The records of a batched JSON frame, from [`split_json_batch`].
#[derive(Debug, Clone)]
pub struct JsonRecords<'a> {
    frame: &'a [u8],
    /// Where the next record starts.
    pos: usize,
    /// The separator after the first record, once it has been read.
    separator: Option<JsonSeparator>,
    /// Set after the last record or an error.
    done: bool,
}

impl JsonRecords<'_> {
    /// The separator that ended the first record, once the iterator has
    /// yielded it (`None` before, or if the frame has no valid record).
    #[must_use]
    pub fn separator(&self) -> Option<JsonSeparator> {
        self.separator
    }

    /// Ends the iteration with `error`.
    fn fail(&mut self, error: BatchError) -> Result<&'static [u8], BatchError> {
        self.done = true;
        Err(error)
    }
}

impl<'a> Iterator for JsonRecords<'a> {
    type Item = Result<&'a [u8], BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.frame.is_empty() {
            return Some(self.fail(BatchError::EmptyFrame));
        }
        let start = self.pos;
        let rest = self.frame.get(start..).unwrap_or_default();
        if rest.is_empty() {
            self.done = true;
            return None;
        }
        let Some(len) = rest.iter().position(|&byte| is_json_separator(byte)) else {
            return Some(self.fail(BatchError::UnterminatedRecord {
                offset: start,
                len: rest.len(),
            }));
        };
        if len == 0 {
            return Some(self.fail(BatchError::EmptyRecord { offset: start }));
        }
        if self.separator.is_none() {
            self.separator = rest
                .get(len)
                .and_then(|&byte| JsonSeparator::from_byte(byte));
        }
        self.pos = start + len + 1;
        Some(Ok(&rest[..len]))
    }
}

impl FusedIterator for JsonRecords<'_> {}

/// Splits a batched MsgPack or CBOR frame into its records (without their
/// length prefixes).
///
/// The iterator yields an error and then ends if the frame is empty, if
/// fewer than 4 bytes are left for a length prefix, if a length is 0 or if
/// it exceeds what is left of the frame. Lengths are only compared, never
/// used to allocate, so a hostile length costs nothing.
#[must_use]
pub fn split_length_prefixed_batch(frame: &[u8]) -> LengthPrefixedRecords<'_> {
    LengthPrefixedRecords {
        frame,
        pos: 0,
        done: false,
    }
}

/// The records of a batched MsgPack or CBOR frame, from
/// [`split_length_prefixed_batch`].
#[derive(Debug, Clone)]
pub struct LengthPrefixedRecords<'a> {
    frame: &'a [u8],
    /// Where the next length prefix starts.
    pos: usize,
    /// Set after the last record or an error.
    done: bool,
}

impl LengthPrefixedRecords<'_> {
    /// Ends the iteration with `error`.
    fn fail(&mut self, error: BatchError) -> Result<&'static [u8], BatchError> {
        self.done = true;
        Err(error)
    }
}

impl<'a> Iterator for LengthPrefixedRecords<'a> {
    type Item = Result<&'a [u8], BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.frame.is_empty() {
            return Some(self.fail(BatchError::EmptyFrame));
        }
        let offset = self.pos;
        let rest = self.frame.get(offset..).unwrap_or_default();
        if rest.is_empty() {
            self.done = true;
            return None;
        }
        let Some((prefix, body)) = rest.split_first_chunk::<4>() else {
            return Some(self.fail(BatchError::TruncatedLengthPrefix {
                offset,
                remaining: rest.len(),
            }));
        };
        let announced = u32::from_be_bytes(*prefix);
        if announced == 0 {
            return Some(self.fail(BatchError::EmptyRecord { offset }));
        }
        let record = usize::try_from(announced)
            .ok()
            .and_then(|len| body.get(..len));
        let Some(record) = record else {
            return Some(self.fail(BatchError::LengthExceedsFrame {
                offset,
                announced,
                remaining: body.len(),
            }));
        };
        self.pos = offset + 4 + record.len();
        Some(Ok(record))
    }
}

impl FusedIterator for LengthPrefixedRecords<'_> {}

/// Appends `record` and its separator to the JSON frame `out`.
///
/// `record` must be one serialized WAMP message, which is never empty and
/// never contains a separator byte. To avoid a temporary buffer, a codec can
/// instead serialize the message straight into `out` and then push
/// `sep.byte()`.
pub fn push_json_record(out: &mut Vec<u8>, record: &[u8], sep: JsonSeparator) {
    debug_assert!(!record.is_empty(), "a batched JSON record cannot be empty");
    out.reserve(record.len() + 1);
    out.extend_from_slice(record);
    out.push(sep.byte());
}

/// Appends the length prefix of `record` and `record` itself to the MsgPack
/// or CBOR frame `out`.
///
/// `record` must be one serialized WAMP message, which is never empty.
///
/// # Errors
///
/// [`BatchError::RecordTooLong`] if `record` is longer than `u32::MAX`
/// bytes; `out` is then unchanged.
pub fn push_length_prefixed_record(out: &mut Vec<u8>, record: &[u8]) -> Result<(), BatchError> {
    debug_assert!(!record.is_empty(), "a batched record cannot be empty");
    let len =
        u32::try_from(record.len()).map_err(|_| BatchError::RecordTooLong { len: record.len() })?;
    out.reserve(4 + record.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(record);
    Ok(())
}

/// Starts a length-prefixed record in `out` without knowing its length yet:
/// reserves 4 bytes for the prefix and returns where they start.
///
/// Write the record's bytes straight after (e.g. serialize the message into
/// `out`), then call [`finish_length_prefixed_record`] with the returned
/// start to fill in the length. This builds a batch with no temporary buffer
/// per message.
#[must_use = "pass the start to finish_length_prefixed_record"]
pub fn begin_length_prefixed_record(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    start
}

/// Fills in the length prefix reserved by [`begin_length_prefixed_record`]
/// at `start`, from the bytes written to `out` since.
///
/// # Errors
///
/// * [`BatchError::RecordTooLong`] if more than `u32::MAX` bytes were
///   written;
/// * [`BatchError::NoReservedPrefix`] if `out` is shorter than `start + 4`,
///   so `start` cannot come from [`begin_length_prefixed_record`] on it.
///
/// After `RecordTooLong`, `out` is truncated back to `start`, so the
/// half-written record is gone and the frame holds only complete records.
/// After `NoReservedPrefix`, `out` is left as it is.
pub fn finish_length_prefixed_record(out: &mut Vec<u8>, start: usize) -> Result<(), BatchError> {
    let body_start = start.saturating_add(4);
    let Some(body_len) = out.len().checked_sub(body_start) else {
        return Err(BatchError::NoReservedPrefix {
            start,
            len: out.len(),
        });
    };
    debug_assert!(body_len > 0, "a batched record cannot be empty");
    let Ok(announced) = u32::try_from(body_len) else {
        out.truncate(start);
        return Err(BatchError::RecordTooLong { len: body_len });
    };
    out[start..body_start].copy_from_slice(&announced.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_records(frame: &[u8]) -> Vec<Result<&[u8], BatchError>> {
        split_json_batch(frame).collect()
    }

    fn prefixed_records(frame: &[u8]) -> Vec<Result<&[u8], BatchError>> {
        split_length_prefixed_batch(frame).collect()
    }

    #[test]
    fn separator_bytes() {
        assert_eq!(JsonSeparator::RecordSeparator.byte(), 0x1E);
        assert_eq!(JsonSeparator::Cancel.byte(), 0x18);
        assert_eq!(JsonSeparator::default(), JsonSeparator::RecordSeparator);
        assert_eq!(
            JsonSeparator::from_byte(0x1E),
            Some(JsonSeparator::RecordSeparator)
        );
        assert_eq!(JsonSeparator::from_byte(0x18), Some(JsonSeparator::Cancel));
        assert_eq!(JsonSeparator::from_byte(b'\n'), None);
    }

    #[test]
    fn json_single_record_with_either_separator() {
        for sep in [JsonSeparator::RecordSeparator, JsonSeparator::Cancel] {
            let frame = [b"[1,2]".as_slice(), &[sep.byte()]].concat();
            let mut records = split_json_batch(&frame);
            assert_eq!(records.separator(), None);
            assert_eq!(records.next(), Some(Ok(b"[1,2]".as_slice())));
            assert_eq!(records.separator(), Some(sep));
            assert_eq!(records.next(), None);
            assert_eq!(records.next(), None);
            assert_eq!(detect_json_separator(&frame), Some(sep));
        }
    }

    #[test]
    fn json_mixed_separators() {
        let frame = b"[1]\x18[2,\"a\"]\x1e[3]\x18";
        let mut records = split_json_batch(frame);
        assert_eq!(records.next(), Some(Ok(b"[1]".as_slice())));
        assert_eq!(records.next(), Some(Ok(b"[2,\"a\"]".as_slice())));
        assert_eq!(records.next(), Some(Ok(b"[3]".as_slice())));
        assert_eq!(records.next(), None);
        // The first record's separator is the one reported.
        assert_eq!(records.separator(), Some(JsonSeparator::Cancel));
        assert_eq!(detect_json_separator(frame), Some(JsonSeparator::Cancel));
        assert_eq!(detect_json_separator(b"[1]"), None);
    }

    #[test]
    fn json_empty_frame() {
        assert_eq!(json_records(b""), [Err(BatchError::EmptyFrame)]);
        assert_eq!(
            BatchError::EmptyFrame.to_string(),
            "batched frame is empty: a batch must hold at least one message"
        );
    }

    #[test]
    fn json_empty_record() {
        assert_eq!(
            json_records(b"[1]\x1e\x1e[2]\x1e"),
            [
                Ok(b"[1]".as_slice()),
                Err(BatchError::EmptyRecord { offset: 4 })
            ]
        );
        assert_eq!(
            json_records(b"\x1e"),
            [Err(BatchError::EmptyRecord { offset: 0 })]
        );
        assert_eq!(
            BatchError::EmptyRecord { offset: 4 }.to_string(),
            "batched frame: record at byte 4 is empty"
        );
    }

    #[test]
    fn json_unterminated_record() {
        assert_eq!(
            json_records(b"[1]\x1e[2]"),
            [
                Ok(b"[1]".as_slice()),
                Err(BatchError::UnterminatedRecord { offset: 4, len: 3 })
            ]
        );
        assert_eq!(
            json_records(b"[1]"),
            [Err(BatchError::UnterminatedRecord { offset: 0, len: 3 })]
        );
        assert_eq!(
            BatchError::UnterminatedRecord { offset: 4, len: 3 }.to_string(),
            "batched frame: record at byte 4 is not terminated: \
             its 3 bytes are not followed by a separator"
        );
    }

    #[test]
    fn json_roundtrip() {
        let messages: [&[u8]; 3] = [b"[1,\"realm1\",{}]", b"[2,1234,{}]", b"[70,{},\"x\"]"];
        for sep in [JsonSeparator::RecordSeparator, JsonSeparator::Cancel] {
            let mut frame = Vec::new();
            for message in messages {
                push_json_record(&mut frame, message, sep);
            }
            let records: Vec<&[u8]> = split_json_batch(&frame)
                .collect::<Result<_, _>>()
                .expect("valid frame");
            assert_eq!(records, messages);
            assert_eq!(detect_json_separator(&frame), Some(sep));
        }
    }

    #[test]
    fn prefixed_records_in_one_frame() {
        let frame = b"\x00\x00\x00\x02ab\x00\x00\x00\x01c\x00\x00\x00\x03def";
        assert_eq!(
            prefixed_records(frame),
            [
                Ok(b"ab".as_slice()),
                Ok(b"c".as_slice()),
                Ok(b"def".as_slice())
            ]
        );
        let mut records = split_length_prefixed_batch(frame);
        records.by_ref().for_each(drop);
        assert_eq!(records.next(), None);
    }

    #[test]
    fn prefixed_empty_frame() {
        assert_eq!(prefixed_records(b""), [Err(BatchError::EmptyFrame)]);
    }

    #[test]
    fn prefixed_truncated_prefix() {
        assert_eq!(
            prefixed_records(b"\x00\x00\x00\x01a\x00\x00"),
            [
                Ok(b"a".as_slice()),
                Err(BatchError::TruncatedLengthPrefix {
                    offset: 5,
                    remaining: 2
                })
            ]
        );
        assert_eq!(
            prefixed_records(b"\x00"),
            [Err(BatchError::TruncatedLengthPrefix {
                offset: 0,
                remaining: 1
            })]
        );
        assert_eq!(
            BatchError::TruncatedLengthPrefix {
                offset: 5,
                remaining: 2
            }
            .to_string(),
            "batched frame: record at byte 5 needs a 4-byte length prefix \
             but only 2 bytes remain"
        );
    }

    #[test]
    fn prefixed_length_exceeds_frame() {
        let mut frame = b"\x00\x00\x00\x08abcdefgh".to_vec();
        frame.extend_from_slice(&4096u32.to_be_bytes());
        frame.extend_from_slice(b"0123456789");
        assert_eq!(
            prefixed_records(&frame),
            [
                Ok(b"abcdefgh".as_slice()),
                Err(BatchError::LengthExceedsFrame {
                    offset: 12,
                    announced: 4096,
                    remaining: 10
                })
            ]
        );
        assert_eq!(
            BatchError::LengthExceedsFrame {
                offset: 12,
                announced: 4096,
                remaining: 10
            }
            .to_string(),
            "batched frame: record at byte 12 announces 4096 bytes but only 10 remain"
        );
        // The largest possible length is just compared, not allocated.
        assert_eq!(
            prefixed_records(b"\xff\xff\xff\xffabc"),
            [Err(BatchError::LengthExceedsFrame {
                offset: 0,
                announced: u32::MAX,
                remaining: 3
            })]
        );
    }

    #[test]
    fn prefixed_zero_length() {
        assert_eq!(
            prefixed_records(b"\x00\x00\x00\x01a\x00\x00\x00\x00\x00\x00\x00\x01b"),
            [
                Ok(b"a".as_slice()),
                Err(BatchError::EmptyRecord { offset: 5 })
            ]
        );
    }

    #[test]
    fn prefixed_roundtrip_with_push() {
        let messages: [&[u8]; 3] = [b"\x93\x01\xa6realm1\x80", b"\x93\x02\x01\x80", &[0x5a; 300]];
        let mut frame = Vec::new();
        for message in messages {
            push_length_prefixed_record(&mut frame, message).expect("short record");
        }
        assert_eq!(&frame[..4], &[0, 0, 0, 10]);
        let records: Vec<&[u8]> = split_length_prefixed_batch(&frame)
            .collect::<Result<_, _>>()
            .expect("valid frame");
        assert_eq!(records, messages);
    }

    #[test]
    fn prefixed_roundtrip_in_place() {
        let messages: [&[u8]; 3] = [b"one", b"two!", &[7; 70_000]];
        let mut frame = Vec::new();
        for message in messages {
            let start = begin_length_prefixed_record(&mut frame);
            frame.extend_from_slice(message);
            finish_length_prefixed_record(&mut frame, start).expect("short record");
        }
        let mut expected = Vec::new();
        for message in messages {
            push_length_prefixed_record(&mut expected, message).expect("short record");
        }
        assert_eq!(frame, expected);
        let records: Vec<&[u8]> = split_length_prefixed_batch(&frame)
            .collect::<Result<_, _>>()
            .expect("valid frame");
        assert_eq!(records, messages);
    }

    #[test]
    fn finish_with_a_bad_start() {
        let mut frame = b"\x00\x00\x00\x01a".to_vec();
        assert_eq!(
            finish_length_prefixed_record(&mut frame, 3),
            Err(BatchError::NoReservedPrefix { start: 3, len: 5 })
        );
        assert_eq!(frame, b"\x00\x00\x00\x01a");
        let mut frame = b"ab".to_vec();
        assert_eq!(
            finish_length_prefixed_record(&mut frame, usize::MAX),
            Err(BatchError::NoReservedPrefix {
                start: usize::MAX,
                len: 2
            })
        );
        assert_eq!(frame, b"ab");
        assert_eq!(
            BatchError::NoReservedPrefix { start: 3, len: 5 }.to_string(),
            "batched frame: no length prefix is reserved at byte 3 of a 5-byte buffer"
        );
    }

    #[test]
    fn record_too_long_message() {
        assert_eq!(
            BatchError::RecordTooLong { len: 4_294_967_296 }.to_string(),
            "batched frame: a record of 4294967296 bytes is too long for a 32-bit length prefix"
        );
    }
}
