//! Scale-out benchmark: publications from one node to a subscriber on
//! another, through a NATS or Redis backplane.
//!
//! Two nodes (applications) in this process, each with its own backplane
//! connection; one WAMP client (MsgPack, over the real WebSocket service in
//! memory) subscribed on node B. It measures
//!
//! - **latency** from `Application::publish` on node A to the EVENT decoded
//!   by the client on node B, at a steady rate (default 10,000 events/s);
//! - **throughput**: a burst of events published as fast as node A takes
//!   them, and the rate at which they reach the client on B;
//! - **cost per publication** on the publishing node: `Application::publish`
//!   to a topic with one local subscriber, on a node alone and on a node
//!   with the backplane, in the same run.
//!
//! ```text
//! scripts/bench-backplane            # starts nats-server and redis-server, runs both
//! cargo run --release --features nats,redis --example backplane -- --nats nats://127.0.0.1:4222
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serverwamp::Application;
use serverwamp::protocol::{Dict, Serialization, Value};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Command line.
#[derive(Parser, Debug)]
struct Options {
    /// The NATS server to use (`nats://host:port`).
    #[arg(long, conflicts_with = "redis", required_unless_present = "redis")]
    nats: Option<String>,
    /// The Redis server to use (`redis://host:port/`).
    #[arg(long)]
    redis: Option<String>,
    /// Events per second in the latency phase.
    #[arg(long, default_value_t = 10_000)]
    rate: u64,
    /// Length of the latency phase, in seconds (at most 60).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Events in the throughput burst (at most 1,000,000).
    #[arg(long, default_value_t = 200_000)]
    burst: u64,
}

/// When the process started: publication times are nanoseconds since.
static EPOCH: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);

fn now_ns() -> u64 {
    u64::try_from(EPOCH.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// What the subscriber saw.
#[derive(Default)]
struct Seen {
    count: AtomicU64,
    latencies_ns: Mutex<Vec<u64>>,
    last_at_ns: AtomicU64,
}

async fn node(options: &Options) -> Application {
    let mut app = Application::new();
    app.realm("bench").set_open_broker(true);
    join(&mut app, options).await;
    app
}

async fn join(app: &mut Application, options: &Options) {
    use serverwamp::backplane::{NatsBackplane, RedisBackplane};
    if let Some(url) = &options.nats {
        app.set_backplane(NatsBackplane::connect(url).await.expect("NATS connects"));
    } else if let Some(url) = &options.redis {
        app.set_backplane(RedisBackplane::connect(url).await.expect("Redis connects"));
    }
}

/// A MsgPack client of `app`, subscribed to `topic` in realm `bench`,
/// recording the latency of every EVENT whose first argument is a
/// publication time.
async fn subscriber(app: &Application, topic: &str, seen: Arc<Seen>) {
    let (server_io, client_io) = tokio::io::duplex(256 * 1024);
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
    let protocol = "wamp.2.msgpack".parse().expect("a header");
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", protocol);
    let (mut ws, _) = tokio_tungstenite::client_async(request, client_io)
        .await
        .expect("the handshake");
    let frame = |message: Value| {
        let mut out = Vec::new();
        Serialization::MsgPack
            .encode_into(&message, &mut out)
            .expect("encodes");
        WsMessage::binary(out)
    };
    let roles = Dict::from_iter([("subscriber".to_owned(), Value::Dict(Dict::new()))]);
    let hello = vec![
        1u64.into(),
        "bench".into(),
        Value::Dict(Dict::from_iter([("roles".to_owned(), Value::Dict(roles))])),
    ];
    ws.send(frame(Value::List(hello))).await.expect("HELLO");
    let _welcome = ws.next().await;
    let subscribe = vec![
        32u64.into(),
        1u64.into(),
        Value::Dict(Dict::new()),
        topic.into(),
    ];
    ws.send(frame(Value::List(subscribe)))
        .await
        .expect("SUBSCRIBE");
    let _subscribed = ws.next().await;
    tokio::spawn(async move {
        while let Some(Ok(frame)) = ws.next().await {
            let WsMessage::Binary(bytes) = frame else {
                continue;
            };
            let Ok(Value::List(event)) = Serialization::MsgPack.decode_value(&bytes) else {
                continue;
            };
            let sent = event
                .get(4)
                .and_then(Value::as_list)
                .and_then(|a| a.first()?.as_u64());
            let at = now_ns();
            if let Some(sent) = sent {
                seen.latencies_ns
                    .lock()
                    .expect("not poisoned")
                    .push(at.saturating_sub(sent));
            }
            seen.last_at_ns.store(at, Ordering::Release);
            seen.count.fetch_add(1, Ordering::AcqRel);
        }
    });
}

async fn wait_for(seen: &Seen, count: u64, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while seen.count.load(Ordering::Acquire) < count {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    true
}

fn percentile(sorted: &[u64], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    Duration::from_nanos(sorted[index])
}

/// Nanoseconds per `Application::publish` on `app` to a topic with one
/// local subscriber (median of 5 rounds of `count`).
async fn publish_cost(app: &Application, count: u64) -> f64 {
    let seen = Arc::new(Seen::default());
    subscriber(app, "bench.cost", seen.clone()).await;
    let mut rounds = Vec::new();
    for round in 0..5u64 {
        let started = Instant::now();
        for i in 0..count {
            app.publish("bench", "bench.cost", vec![Value::UInt(i)], Dict::new());
        }
        #[allow(clippy::cast_precision_loss)]
        rounds.push(started.elapsed().as_nanos() as f64 / count as f64);
        // Let the subscriber and the backplane catch up between rounds.
        wait_for(&seen, (round + 1) * count, Duration::from_secs(30)).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    rounds.sort_by(f64::total_cmp);
    rounds[rounds.len() / 2]
}

#[tokio::main]
#[allow(clippy::print_stdout, clippy::cast_precision_loss)] // a report tool
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let options = Options::parse();
    let seconds = options.seconds.clamp(1, 60);
    let burst = options.burst.clamp(1, 1_000_000);
    let rate = options.rate.clamp(1, 1_000_000);
    let kind = if options.nats.is_some() {
        "NATS"
    } else {
        "Redis"
    };
    let (a, b) = (node(&options).await, node(&options).await);
    let seen = Arc::new(Seen::default());
    subscriber(&b, "bench.cross", seen.clone()).await;

    // Latency at a steady rate: a tick every millisecond, rate/1000 each.
    let per_tick = (rate / 1000).max(1);
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    let ticks = seconds * 1000;
    let mut sent = 0u64;
    for _ in 0..ticks {
        tick.tick().await;
        for _ in 0..per_tick {
            a.publish(
                "bench",
                "bench.cross",
                vec![Value::UInt(now_ns())],
                Dict::new(),
            );
            sent += 1;
        }
    }
    let all = wait_for(&seen, sent, Duration::from_secs(10)).await;
    let mut latencies = std::mem::take(&mut *seen.latencies_ns.lock().expect("not poisoned"));
    latencies.sort_unstable();
    println!("{kind} backplane, node A → subscriber on node B (MsgPack, in-process client)");
    println!(
        "latency at {} events/s for {seconds} s: p50 {:.1?}  p99 {:.1?}  max {:.1?}  ({} of {sent} received{})",
        per_tick * 1000,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
        latencies.len(),
        if all { "" } else { ", some lost" },
    );

    // Throughput: a burst as fast as the backplane takes it
    // (`publish_wait` waits for room in the backplane's queue).
    let before = seen.count.load(Ordering::Acquire);
    let started_ns = now_ns();
    for i in 0..burst {
        let args = vec![Value::Str(String::new()), Value::UInt(i)];
        a.publish_wait("bench", "bench.cross", args, Dict::new())
            .await;
    }
    let published_ns = now_ns() - started_ns;
    let complete = wait_for(&seen, before + burst, Duration::from_secs(60)).await;
    let received = seen.count.load(Ordering::Acquire) - before;
    let span_ns = seen
        .last_at_ns
        .load(Ordering::Acquire)
        .saturating_sub(started_ns)
        .max(1);
    println!(
        "burst of {burst}: published in {:.1?}; {received} received ({}), {:.0} events/s end to end",
        Duration::from_nanos(published_ns),
        if complete { "all" } else { "some lost" },
        received as f64 / (span_ns as f64 / 1e9),
    );

    // The publishing node's cost per publication, alone and in a cluster.
    let mut alone = Application::new();
    alone.realm("bench").set_open_broker(true);
    let single = publish_cost(&alone, 20_000).await;
    let clustered = publish_cost(&a, 20_000).await;
    println!(
        "cost per Application::publish (one local subscriber): alone {single:.0} ns, with the backplane {clustered:.0} ns ({:.2}×)",
        clustered / single
    );
}
