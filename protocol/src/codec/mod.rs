//! Codecs: messages to bytes and back, in every WAMP serialization.
//!
//! [`Serialization`] turns one message into JSON, MsgPack or CBOR bytes and
//! back. [`Codec`] is what a connection negotiated: a serialization, batched
//! or not, named by its WebSocket subprotocol (`wamp.2.json.batched`, …);
//! it splits incoming frames into messages and frames outgoing ones.

pub mod batched;
mod cbor;
mod json;
mod msgpack;

use std::fmt;

use serde::Serialize;
use thiserror::Error;

use self::batched::{BatchError, JsonSeparator};
use crate::message::{Message, ProtocolViolation, ValidationRules};
use crate::value::Value;

/// Received values nesting this deep or deeper are refused before they can
/// exhaust the stack; the limit serde_json has built in, applied to every
/// codec alike.
const MAX_NESTING: usize = 128;

/// A WAMP serialization format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Serialization {
    /// JSON, binary as `"\0"` + base64 strings.
    Json,
    /// MessagePack.
    MsgPack,
    /// CBOR.
    Cbor,
}

impl Serialization {
    /// Every serialization.
    pub const ALL: [Serialization; 3] = [
        Serialization::Json,
        Serialization::MsgPack,
        Serialization::Cbor,
    ];

    /// The serialization's name in subprotocols: `json`, `msgpack`, `cbor`.
    pub fn name(self) -> &'static str {
        match self {
            Serialization::Json => "json",
            Serialization::MsgPack => "msgpack",
            Serialization::Cbor => "cbor",
        }
    }

    /// Decodes one value.
    ///
    /// # Errors
    /// [`DecodeError::is_malformed`] when the bytes are not valid in this
    /// serialization, or nest 128 levels deep or more.
    pub fn decode_value(self, bytes: &[u8]) -> Result<Value, DecodeError> {
        let result = match self {
            Serialization::Json => json::decode_value(bytes),
            Serialization::MsgPack => msgpack::decode_value(bytes),
            Serialization::Cbor => cbor::decode_value(bytes),
        };
        result.map_err(|reason| DecodeError::Malformed {
            serialization: self,
            reason,
        })
    }

    /// Decodes and validates one message.
    ///
    /// # Errors
    /// Malformed bytes, or a [`ProtocolViolation`].
    pub fn decode(self, bytes: &[u8], rules: &ValidationRules) -> Result<Message, DecodeError> {
        let value = self.decode_value(bytes)?;
        Message::from_value(value, rules).map_err(DecodeError::Violation)
    }

    /// Appends the encoding of anything serializable (a [`Message`], a
    /// [`Value`]) to `out`.
    ///
    /// # Errors
    /// Only for values the format cannot represent, such as a NaN float in
    /// JSON; `out` may then hold a partial encoding.
    pub fn encode_into<T: Serialize + ?Sized>(
        self,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        let result = match self {
            Serialization::Json => json::encode(value, out),
            Serialization::MsgPack => msgpack::encode(value, out),
            Serialization::Cbor => cbor::encode(value, out),
        };
        result.map_err(|reason| EncodeError {
            serialization: self,
            reason,
        })
    }

    /// Encodes a message into a new buffer.
    ///
    /// # Errors
    /// As [`Serialization::encode_into`].
    pub fn encode(self, message: &Message) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(64);
        self.encode_into(message, &mut out)?;
        Ok(out)
    }

    /// Whether this serialization's frames are text (WebSocket text frames).
    pub fn is_text(self) -> bool {
        self == Serialization::Json
    }
}

impl fmt::Display for Serialization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The wire format of one connection: a serialization, batched or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Codec {
    serialization: Serialization,
    batched: bool,
    /// The record separator written in batched JSON: the spec's 0x1E until
    /// the peer is seen using another.
    json_separator: JsonSeparator,
}

impl Codec {
    /// Every WebSocket subprotocol a codec exists for, in order of preference.
    pub const SUBPROTOCOLS: [&'static str; 6] = [
        "wamp.2.json",
        "wamp.2.msgpack",
        "wamp.2.cbor",
        "wamp.2.json.batched",
        "wamp.2.msgpack.batched",
        "wamp.2.cbor.batched",
    ];

    /// A codec for one message per frame.
    pub fn new(serialization: Serialization) -> Self {
        Codec {
            serialization,
            batched: false,
            json_separator: JsonSeparator::RecordSeparator,
        }
    }

    /// A codec for batched frames (spec, "Message Batching").
    pub fn batched(serialization: Serialization) -> Self {
        Codec {
            batched: true,
            ..Codec::new(serialization)
        }
    }

    /// The codec a WebSocket subprotocol names, e.g. `wamp.2.msgpack.batched`.
    pub fn from_subprotocol(name: &str) -> Option<Self> {
        let rest = name.strip_prefix("wamp.2.")?;
        let (format, batched) = match rest.strip_suffix(".batched") {
            Some(format) => (format, true),
            None => (rest, false),
        };
        let serialization = match format {
            "json" => Serialization::Json,
            "msgpack" => Serialization::MsgPack,
            "cbor" => Serialization::Cbor,
            _ => return None,
        };
        Some(if batched {
            Codec::batched(serialization)
        } else {
            Codec::new(serialization)
        })
    }

    /// The codec's WebSocket subprotocol.
    pub fn subprotocol(&self) -> &'static str {
        let index = match self.serialization {
            Serialization::Json => 0,
            Serialization::MsgPack => 1,
            Serialization::Cbor => 2,
        };
        Codec::SUBPROTOCOLS[index + if self.batched { 3 } else { 0 }]
    }

    /// The serialization.
    pub fn serialization(&self) -> Serialization {
        self.serialization
    }

    /// Whether frames carry batches.
    pub fn is_batched(&self) -> bool {
        self.batched
    }

    /// Decodes every message of one frame, in order, into `out`.
    ///
    /// A batched JSON frame also teaches the codec which record separator
    /// the peer uses, so [`Codec::encode_frame`] answers with the same one.
    ///
    /// # Errors
    /// The first malformed record, broken batch framing or protocol
    /// violation; messages before it are in `out`. A receiver that answers
    /// each record on its own uses [`Codec::decode_records`] instead.
    pub fn decode_frame(
        &mut self,
        frame: &[u8],
        rules: &ValidationRules,
        out: &mut Vec<Message>,
    ) -> Result<(), DecodeError> {
        if !self.batched {
            out.push(self.serialization.decode(frame, rules)?);
            return Ok(());
        }
        let mut first_error = None;
        self.for_each_record(frame, rules, |record| match record {
            Ok(message) => {
                out.push(message);
                true
            }
            Err(error) => {
                first_error = Some(error);
                false
            }
        });
        first_error.map_or(Ok(()), Err)
    }

    /// Decodes every record of one frame, in order, into `out`, one result
    /// per record: a record that is malformed or breaks the protocol does
    /// not stop the records after it. Broken batch framing, after which no
    /// record boundary can be trusted, is the last entry.
    ///
    /// A batched JSON frame teaches the codec its separator as
    /// [`Codec::decode_frame`] does.
    pub fn decode_records(
        &mut self,
        frame: &[u8],
        rules: &ValidationRules,
        out: &mut Vec<Result<Message, DecodeError>>,
    ) {
        if !self.batched {
            out.push(self.serialization.decode(frame, rules));
            return;
        }
        self.for_each_record(frame, rules, |record| {
            out.push(record);
            true
        });
    }

    /// Decodes the records of a batched frame, handing each result to
    /// `visit` until it returns false. A framing error is handed over last.
    fn for_each_record(
        &mut self,
        frame: &[u8],
        rules: &ValidationRules,
        mut visit: impl FnMut(Result<Message, DecodeError>) -> bool,
    ) {
        let serialization = self.serialization;
        let mut decode = |record: Result<&[u8], BatchError>| match record {
            Ok(bytes) => visit(serialization.decode(bytes, rules)),
            Err(error) => {
                visit(Err(DecodeError::Batch(error)));
                false
            }
        };
        if serialization == Serialization::Json {
            if let Some(separator) = batched::detect_json_separator(frame) {
                self.json_separator = separator;
            }
            for record in batched::split_json_batch(frame) {
                if !decode(record) {
                    return;
                }
            }
        } else {
            for record in batched::split_length_prefixed_batch(frame) {
                if !decode(record) {
                    return;
                }
            }
        }
    }

    /// Appends one message, framed for this codec (a batch of one when
    /// batched), to `out`. Call it repeatedly on the same buffer to build a
    /// batch of several messages.
    ///
    /// # Errors
    /// As [`Serialization::encode_into`]; on error `out` is left as it was.
    pub fn encode_frame<T: Serialize + ?Sized>(
        &self,
        message: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        let start = out.len();
        let result = self.encode_record(message, out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn encode_record<T: Serialize + ?Sized>(
        &self,
        message: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        if !self.batched {
            return self.serialization.encode_into(message, out);
        }
        if self.serialization == Serialization::Json {
            self.serialization.encode_into(message, out)?;
            out.push(self.json_separator.byte());
            Ok(())
        } else {
            let start = batched::begin_length_prefixed_record(out);
            self.serialization.encode_into(message, out)?;
            batched::finish_length_prefixed_record(out, start).map_err(|e| EncodeError {
                serialization: self.serialization,
                reason: e.to_string(),
            })
        }
    }
}

/// Why received bytes could not become messages.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The bytes are not valid in the negotiated serialization.
    #[error("malformed {serialization} message: {reason}")]
    Malformed {
        /// The serialization in use.
        serialization: Serialization,
        /// What the decoder reported.
        reason: String,
    },
    /// The batch framing is broken.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// The message breaks the protocol.
    #[error("protocol violation: {0}")]
    Violation(#[from] ProtocolViolation),
}

impl DecodeError {
    /// Whether the bytes were not valid in the serialization.
    pub fn is_malformed(&self) -> bool {
        matches!(self, DecodeError::Malformed { .. })
    }

    /// Whether the batch framing was broken.
    pub fn is_batch(&self) -> bool {
        matches!(self, DecodeError::Batch(_))
    }

    /// The protocol violation, if the bytes decoded but broke the protocol.
    pub fn violation(&self) -> Option<&ProtocolViolation> {
        match self {
            DecodeError::Violation(v) => Some(v),
            _ => None,
        }
    }
}

/// A value the serialization cannot represent.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("cannot encode as {serialization}: {reason}")]
pub struct EncodeError {
    serialization: Serialization,
    reason: String,
}

impl EncodeError {
    /// The serialization that refused the value.
    pub fn serialization(&self) -> Serialization {
        self.serialization
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_records_answers_every_record_and_ends_at_broken_framing() {
        let rules = ValidationRules::default();
        let mut codec = Codec::batched(Serialization::Json);
        // A good call, one with an incorrect URI, a good one, then bytes
        // with no separator.
        let frame = b"[48,1,{},\"a\"]\x1e[48,2,{},\"a..b\"]\x1e[48,3,{},\"c\"]\x1e[48,4";
        let mut records = Vec::new();
        codec.decode_records(frame, &rules, &mut records);
        assert_eq!(records.len(), 4, "{records:?}");
        assert!(matches!(&records[0], Ok(Message::Call(c)) if c.procedure == "a"));
        let violation = records[1].as_ref().unwrap_err().violation().unwrap();
        assert!(violation.answerable_request().is_some(), "{violation}");
        assert!(matches!(&records[2], Ok(Message::Call(c)) if c.procedure == "c"));
        assert!(records[3].as_ref().unwrap_err().is_batch());

        // decode_frame stops at the first bad record.
        let mut messages = Vec::new();
        let error = codec
            .decode_frame(frame, &rules, &mut messages)
            .unwrap_err();
        assert!(error.violation().is_some());
        assert_eq!(messages.len(), 1);
    }
}
