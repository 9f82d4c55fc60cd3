//! The checks behind the fuzz targets in `fuzz_targets/`.
//!
//! The decoder targets feed arbitrary bytes to a decoder of
//! `serverwamp-protocol`; `session` drives the session state machine
//! (see [`session`]), `rawsocket` the RawSocket framing.
//! Decoding may fail (most inputs are not WAMP messages), but it must never
//! panic, and whatever *does* decode must survive a round trip: encoding the
//! message again in the same format succeeds, and decoding that encoding
//! gives back an equal message. A violation panics with the message and the
//! bytes involved, which libFuzzer reports as a crash.

pub mod rawsocket;
pub mod session;

pub use rawsocket::check_rawsocket;
pub use session::check_session;

use serverwamp_protocol::codec::batched::{
    push_length_prefixed_record, split_length_prefixed_batch,
};
use serverwamp_protocol::message::ValidationRules;
use serverwamp_protocol::value::to_value;
use serverwamp_protocol::{Codec, DecodeError, Message, Serialization, Value};

/// Decodes `data` as one message in `serialization` and, if it decodes,
/// checks that the message round-trips.
///
/// # Panics
/// When a decoded message cannot be re-encoded, when the re-encoding does
/// not decode, or when it decodes to a different message.
pub fn check_single(serialization: Serialization, data: &[u8]) {
    let rules = ValidationRules::default();
    let message = match serialization.decode(data, &rules) {
        Ok(message) => message,
        Err(error) => {
            exercise_error(&error);
            return;
        }
    };
    let encoded = serialization.encode(&message).unwrap_or_else(|error| {
        panic!(
            "{serialization}: a decoded message does not re-encode: {error}\nmessage: {message:?}"
        )
    });
    let again = serialization
        .decode(&encoded, &rules)
        .unwrap_or_else(|error| {
            panic!(
                "{serialization}: the re-encoding of a decoded message does not decode: {error}\n\
             message: {message:?}\nre-encoding: {}",
                hex(&encoded)
            )
        });
    assert_same(serialization, &message, &again, &encoded);
}

/// Reads the first byte of `data` as the choice of a batched codec (JSON,
/// MsgPack or CBOR, modulo 3) and the rest as one frame; decodes the frame
/// and checks that the messages it holds round-trip as a batch.
///
/// # Panics
/// When the decoded messages cannot be framed again, when that frame does
/// not decode, or when it decodes to different messages; also when a
/// length-prefixed frame that splits cleanly is not rebuilt byte for byte by
/// framing its records again.
pub fn check_batched(data: &[u8]) {
    let Some((&selector, frame)) = data.split_first() else {
        return;
    };
    let serialization = Serialization::ALL[usize::from(selector) % Serialization::ALL.len()];
    let rules = ValidationRules::default();

    if serialization != Serialization::Json {
        check_length_prefixed_framing(frame);
    }

    let mut codec = Codec::batched(serialization);
    let mut messages = Vec::new();
    if let Err(error) = codec.decode_frame(frame, &rules, &mut messages) {
        // The messages before the bad record are in `messages`: check them.
        exercise_error(&error);
    }
    if messages.is_empty() {
        // A batch of zero messages is illegal, so there is nothing to frame.
        return;
    }

    // Answer as a server would: with the codec that read the frame (it has
    // learned the peer's JSON separator).
    let mut encoded = Vec::new();
    for message in &messages {
        codec
            .encode_frame(message, &mut encoded)
            .unwrap_or_else(|error| {
                panic!(
                    "{}: a decoded message does not re-encode: {error}\nmessage: {message:?}",
                    codec.subprotocol()
                )
            });
    }
    let mut again = Vec::new();
    Codec::batched(serialization)
        .decode_frame(&encoded, &rules, &mut again)
        .unwrap_or_else(|error| {
            panic!(
                "{}: the re-encoding of {} decoded messages does not decode: {error}\n\
                 messages: {messages:?}\nre-encoding: {}",
                codec.subprotocol(),
                messages.len(),
                hex(&encoded)
            )
        });
    assert_eq!(
        messages.len(),
        again.len(),
        "{}: {} messages re-encoded, {} decoded back\nmessages: {messages:?}\n\
         decoded back: {again:?}\nre-encoding: {}",
        codec.subprotocol(),
        messages.len(),
        again.len(),
        hex(&encoded)
    );
    for (message, back) in messages.iter().zip(&again) {
        assert_same(serialization, message, back, &encoded);
    }
}

/// Splitting a length-prefixed frame and framing its records again must give
/// the same bytes, when the frame splits without error.
fn check_length_prefixed_framing(frame: &[u8]) {
    let Ok(records) = split_length_prefixed_batch(frame).collect::<Result<Vec<_>, _>>() else {
        return;
    };
    let mut rebuilt = Vec::with_capacity(frame.len());
    for record in &records {
        push_length_prefixed_record(&mut rebuilt, record).unwrap_or_else(|error| {
            panic!("a record split from a frame cannot be framed again: {error}")
        });
    }
    assert!(
        rebuilt == frame,
        "splitting a length-prefixed frame into {} records and framing them again \
         changes it\nframe:   {}\nrebuilt: {}",
        records.len(),
        hex(frame),
        hex(&rebuilt)
    );
}

/// Formats the error, so its `Display` code runs on fuzzed input too.
fn exercise_error(error: &DecodeError) {
    let text = error.to_string();
    assert!(!text.is_empty(), "a decode error has an empty message");
}

/// Asserts that `back`, decoded from `encoded`, equals `message`.
///
/// Equality is the messages' own `PartialEq`, except that NaN floats (which
/// MsgPack and CBOR carry, and which are never equal to themselves) count as
/// equal to each other.
fn assert_same(serialization: Serialization, message: &Message, back: &Message, encoded: &[u8]) {
    if message == back {
        return;
    }
    let same_with_nans = match (to_value(message), to_value(back)) {
        (Ok(a), Ok(b)) => nan_equal(&a, &b),
        _ => false,
    };
    assert!(
        same_with_nans,
        "{serialization}: a message does not survive re-encoding\n\
         decoded:      {message:?}\ndecoded back: {back:?}\nre-encoding: {}",
        hex(encoded)
    );
}

/// `Value` equality, except that two NaN floats are equal.
fn nan_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Value::List(xs), Value::List(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| nan_equal(x, y))
        }
        (Value::Dict(xs), Value::Dict(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .all(|(key, x)| ys.get(key).is_some_and(|y| nan_equal(x, y)))
        }
        _ => a == b,
    }
}

/// Lowercase hex, for panic messages.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}
