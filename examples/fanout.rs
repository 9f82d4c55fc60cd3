//! Fan-out benchmark: one publication to N subscribers.
//!
//! N WAMP clients connect in process to the real WebSocket service (hyper
//! over in-memory pipes, tokio-tungstenite clients), each subscribes to one
//! topic, then publications go out with `Application::publish`. For each
//! publication it measures the time until the last subscriber has decoded
//! its EVENT, and reports events/s. Beside it, the cost of what the broker
//! avoids: encoding the EVENT once per subscriber instead of once per
//! serialization, timed on the same machine in the same run.
//!
//! ```text
//! cargo run --release --example fanout -- --subscribers 1000 --subscribers 10000
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serverwamp::Application;
use serverwamp::protocol::message::{Event, EventDetails, Message, Payload};
use serverwamp::protocol::{Codec, Dict, Id, Serialization, Value};
use serverwamp::pubsub::TopicRouteSet;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Command line.
#[derive(Parser, Debug)]
struct Options {
    /// Subscriber counts to measure (repeat the flag).
    #[arg(long = "subscribers", default_values_t = [1000, 10000])]
    subscribers: Vec<usize>,
    /// Publications per measurement.
    #[arg(long, default_value_t = 20)]
    publications: usize,
    /// Payload size of each event in bytes.
    #[arg(long, default_value_t = 64)]
    payload: usize,
}

/// Counts EVENTs received across all subscribers.
#[derive(Default)]
struct Tally {
    received: AtomicUsize,
    target: AtomicUsize,
    done: Notify,
}

impl Tally {
    fn record(&self) {
        let now = self.received.fetch_add(1, Ordering::AcqRel) + 1;
        if now == self.target.load(Ordering::Acquire) {
            self.done.notify_one();
        }
    }
}

/// Connects one subscriber and keeps reading its events.
async fn subscriber(app: &Application, tally: Arc<Tally>, ready: Arc<AtomicUsize>) {
    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    let service = TowerToHyperService::new(app.websocket_service());
    tokio::spawn(async move {
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(server_io), service)
            .with_upgrades()
            .await;
    });
    let mut request = "ws://localhost/ws"
        .into_client_request()
        .expect("a request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "wamp.2.msgpack".parse().expect("a header"),
    );
    let (mut ws, _) = tokio_tungstenite::client_async(request, client_io)
        .await
        .expect("the handshake");
    let codec = Serialization::MsgPack;
    let send = |v: serde_json::Value| {
        let mut out = Vec::new();
        codec.encode_into(&to_value(&v), &mut out).expect("encodes");
        WsMessage::binary(out)
    };
    ws.send(send(
        serde_json::json!([1, "bench", {"roles": {"subscriber": {}}}]),
    ))
    .await
    .expect("HELLO");
    let _welcome = ws.next().await;
    ws.send(send(serde_json::json!([32, 1, {}, "bench.events"])))
        .await
        .expect("SUBSCRIBE");
    let _subscribed = ws.next().await;
    ready.fetch_add(1, Ordering::AcqRel);
    tokio::spawn(async move {
        while let Some(Ok(frame)) = ws.next().await {
            if let WsMessage::Binary(bytes) = frame {
                // Decode like a real client would.
                if codec.decode_value(&bytes).is_ok() {
                    tally.record();
                }
            }
        }
    });
}

fn to_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => n.as_u64().map_or(Value::Null, Value::UInt),
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(a) => Value::List(a.iter().map(to_value).collect()),
        serde_json::Value::Object(o) => {
            Value::Dict(o.iter().map(|(k, v)| (k.clone(), to_value(v))).collect())
        }
    }
}

/// Time to encode the event once per subscriber, what a broker without
/// shared encodings would do per publication.
fn encode_per_subscriber(subscribers: usize, payload: &str) -> Duration {
    let message = Message::Event(Event {
        subscription: Id::new(1).expect("an ID"),
        publication: Id::new(2).expect("an ID"),
        details: EventDetails::default(),
        payload: Payload::from_args(vec![payload.into()]),
    });
    let codec = Codec::new(Serialization::MsgPack);
    let started = Instant::now();
    for _ in 0..subscribers {
        let mut out = Vec::with_capacity(64);
        codec.encode_frame(&message, &mut out).expect("encodes");
        std::hint::black_box(out);
    }
    started.elapsed()
}

#[tokio::main]
#[allow(clippy::print_stdout, clippy::cast_precision_loss)] // a report tool; float math for rates
async fn main() {
    let options = Options::parse();
    let payload = "x".repeat(options.payload);
    println!(
        "fan-out of one publication ({} B payload, msgpack), {} publications per row",
        options.payload, options.publications
    );
    println!(
        "{:>11} {:>12} {:>14} {:>16} {:>20}",
        "subscribers", "p50 to last", "events/s", "encode once", "encode per sub."
    );
    for &n in &options.subscribers {
        let mut topics = TopicRouteSet::new();
        topics.subscribe("bench.events", || async {});
        let mut app = Application::new();
        app.add_topics(topics);
        let tally = Arc::new(Tally::default());
        let ready = Arc::new(AtomicUsize::new(0));
        let mut joins = Vec::new();
        for chunk in 0..n.div_ceil(500) {
            let start = chunk * 500;
            for _ in start..n.min(start + 500) {
                let (app, tally, ready) = (app.clone(), tally.clone(), ready.clone());
                joins.push(tokio::spawn(
                    async move { subscriber(&app, tally, ready).await },
                ));
            }
            for join in joins.drain(..) {
                join.await.expect("a subscriber connects");
            }
        }
        assert_eq!(ready.load(Ordering::Acquire), n);
        let mut times = Vec::with_capacity(options.publications);
        for i in 0..options.publications {
            tally.received.store(0, Ordering::Release);
            tally.target.store(n, Ordering::Release);
            let started = Instant::now();
            let report = app.publish(
                "bench",
                "bench.events",
                vec![payload.as_str().into(), (i as u64).into()],
                Dict::new(),
            );
            assert_eq!(report.delivered, n, "every subscriber had room");
            tokio::time::timeout(Duration::from_secs(30), tally.done.notified())
                .await
                .expect("every subscriber got the event");
            times.push(started.elapsed());
        }
        times.sort();
        let median = times[times.len() / 2];
        let per_sub = encode_per_subscriber(n, &payload);
        let once = encode_per_subscriber(1, &payload);
        println!(
            "{:>11} {:>12.2?} {:>14.0} {:>16.2?} {:>20.2?}",
            n,
            median,
            n as f64 / median.as_secs_f64(),
            once,
            per_sub,
        );
    }
}
