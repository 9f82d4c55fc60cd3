//! Codec benchmarks: decoding and encoding CALL, RESULT and EVENT messages in
//! JSON, MsgPack and CBOR, and a batched MsgPack frame of 16 EVENTs.
//!
//! Each message comes with a small payload (`[1, "hello"]`) and a payload of
//! about 1 KiB (a list of 64 mixed values). Benchmarks are named
//! `decode/<message>/<format>` and `encode/<message>/<format>`, and report
//! throughput in bytes of the encoded message. Decoding includes validation
//! (`Serialization::decode` with the default rules); encoding appends to a
//! reused buffer (`Serialization::encode_into`), as a connection writing
//! frames would.
//!
//! Run with `cargo bench -p serverwamp-protocol --bench codec`; add a filter
//! such as `-- decode/call` to run a subset.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serverwamp_protocol::message::{
    Call, CallOptions, Event, EventDetails, Payload, ResultDetails, ResultMessage, ValidationRules,
};
use serverwamp_protocol::{Codec, Dict, Id, List, Message, Serialization, Value};

/// How many EVENTs the batched benchmark puts in one frame.
const BATCH_LEN: u64 = 16;

/// An ID that is known to be valid.
fn id(value: u64) -> Id {
    Id::new(value).expect("benchmark IDs lie in [1, 2^53]")
}

/// The small payload: `[1, "hello"]`.
fn small_payload() -> Payload {
    Payload::from_args(vec![Value::from(1_u64), Value::from("hello")])
}

/// A payload of 64 mixed values: integers, floats, strings, booleans, nulls,
/// short lists and small dicts: about 1 KiB in JSON, 700 bytes in MsgPack
/// and CBOR.
fn large_payload() -> Payload {
    let args: List = (0_u32..64)
        .map(|i| match i % 8 {
            0 => Value::from(u64::from(i) * 1_000_003),
            1 => Value::from(-i64::from(i) * 7_919),
            2 => Value::from(f64::from(i) * 1.125 + 0.0625),
            3 => Value::from(format!("item-{i:03}-payload-abcdefghijklmnopqrst")),
            4 => Value::from(i % 3 == 0),
            5 => Value::Null,
            6 => Value::List(vec![Value::from(i), Value::from(i + 1), Value::from(i + 2)]),
            _ => {
                let mut dict = Dict::new();
                dict.insert("index".to_owned(), Value::from(i));
                dict.insert("name".to_owned(), Value::from("value"));
                dict.insert("ok".to_owned(), Value::from(true));
                Value::Dict(dict)
            }
        })
        .collect();
    Payload::from_args(args)
}

/// A CALL with `payload`.
fn call(payload: Payload) -> Message {
    Message::Call(Call {
        request: id(7_814_135),
        options: CallOptions::default(),
        procedure: "com.example.compute".to_owned(),
        payload,
    })
}

/// A RESULT with `payload`.
fn result(payload: Payload) -> Message {
    Message::Result(ResultMessage {
        request: id(7_814_135),
        details: ResultDetails::default(),
        payload,
    })
}

/// An EVENT of publication `publication` with `payload`.
fn event(publication: u64, payload: Payload) -> Message {
    Message::Event(Event {
        subscription: id(5_512_315_355),
        publication: id(publication),
        details: EventDetails::default(),
        payload,
    })
}

/// The benchmarked messages, with their names.
fn cases() -> Vec<(&'static str, Message)> {
    vec![
        ("call_small", call(small_payload())),
        ("call_1k", call(large_payload())),
        ("result_small", result(small_payload())),
        ("result_1k", result(large_payload())),
        ("event_small", event(4_429_313_566, small_payload())),
        ("event_1k", event(4_429_313_566, large_payload())),
    ]
}

/// The byte count of `bytes`, as criterion's throughput wants it.
fn byte_count(bytes: &[u8]) -> u64 {
    u64::try_from(bytes.len()).expect("a benchmark message fits in u64 bytes")
}

/// `decode/<message>/<format>`: bytes to a validated message.
fn decode(c: &mut Criterion) {
    let rules = ValidationRules::default();
    let mut group = c.benchmark_group("decode");
    for (name, message) in cases() {
        for serialization in Serialization::ALL {
            let bytes = serialization
                .encode(&message)
                .expect("benchmark messages encode");
            group.throughput(Throughput::Bytes(byte_count(&bytes)));
            group.bench_with_input(
                BenchmarkId::new(name, serialization.name()),
                &bytes,
                |b, bytes| {
                    b.iter(|| {
                        serialization
                            .decode(black_box(bytes), &rules)
                            .expect("benchmark messages decode")
                    });
                },
            );
        }
    }
    group.finish();
}

/// `encode/<message>/<format>`: a message appended to a reused buffer.
fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    for (name, message) in cases() {
        for serialization in Serialization::ALL {
            let bytes = serialization
                .encode(&message)
                .expect("benchmark messages encode");
            let mut out = Vec::with_capacity(bytes.len());
            group.throughput(Throughput::Bytes(byte_count(&bytes)));
            group.bench_with_input(
                BenchmarkId::new(name, serialization.name()),
                &message,
                |b, message| {
                    b.iter(|| {
                        out.clear();
                        serialization
                            .encode_into(black_box(message), &mut out)
                            .expect("benchmark messages encode");
                        black_box(out.len())
                    });
                },
            );
        }
    }
    group.finish();
}

/// `batched/{encode,decode}_16_events/msgpack`: 16 small EVENTs framed into,
/// and split out of, one `wamp.2.msgpack.batched` frame.
fn batched(c: &mut Criterion) {
    let rules = ValidationRules::default();
    let codec = Codec::batched(Serialization::MsgPack);
    let events: Vec<Message> = (1..=BATCH_LEN)
        .map(|i| event(4_429_313_566 + i, small_payload()))
        .collect();
    let mut frame = Vec::new();
    for message in &events {
        codec
            .encode_frame(message, &mut frame)
            .expect("benchmark messages encode");
    }

    let mut group = c.benchmark_group("batched");
    group.throughput(Throughput::Bytes(byte_count(&frame)));

    let mut out = Vec::with_capacity(frame.len());
    group.bench_function(BenchmarkId::new("encode_16_events", "msgpack"), |b| {
        b.iter(|| {
            out.clear();
            for message in black_box(&events) {
                codec
                    .encode_frame(message, &mut out)
                    .expect("benchmark messages encode");
            }
            black_box(out.len())
        });
    });

    let mut messages = Vec::with_capacity(events.len());
    group.bench_function(BenchmarkId::new("decode_16_events", "msgpack"), |b| {
        b.iter(|| {
            messages.clear();
            let mut reader = codec;
            reader
                .decode_frame(black_box(&frame), &rules, &mut messages)
                .expect("benchmark frames decode");
            black_box(messages.len())
        });
    });
    group.finish();
}

/// Short runs, so the whole suite takes about two minutes on a small
/// machine: 30 samples, a lighter bootstrap and no plots. Override on the
/// command line (`-- --measurement-time 10 --sample-size 100`) for precision.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .nresamples(20_000)
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = decode, encode, batched
}
criterion_main!(benches);
