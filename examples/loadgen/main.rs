//! A WAMP RPC load generator for benchmarking servers on this machine.
//!
//! It opens `--connections` WebSocket sessions (HELLO `realm1` → WELCOME),
//! then keeps `--depth` CALLs to `bench.echo` in flight on each: a new CALL
//! leaves as soon as a RESULT arrives. Every RESULT is checked against its
//! request ID and the echoed payload; per-call latency goes into a
//! log-linear histogram (64 sub-buckets per power of two, about 1.6 %
//! resolution) that each connection keeps for itself and that is merged at
//! the end. Messages are built and parsed with `serverwamp::protocol`.
//!
//! ```text
//! cargo run --release --example loadgen -- --url ws://127.0.0.1:8080/ws \
//!     --connections 64 --depth 8 --warmup 2 --duration 10
//! ```
//!
//! prints one line such as
//! `connections=64 depth=8 … calls=123456 calls/s=41152 p50=1.200ms
//! p99=4.800ms errors=0` (or a JSON object with `--json`). On stderr it
//! marks `loadgen: window started` and `loadgen: window ended`, for tools
//! that measure the server over the window alone.
//!
//! `--idle N --hold SECS` instead opens N sessions that stay idle, prints
//! `idle sessions open: N` once they all are, holds them for SECS and
//! closes them: a server's memory per idle session can be read meanwhile.
//!
//! `--connect-rate` instead measures session churn: `--concurrency`
//! workers each open a session (TCP connect, WebSocket upgrade, HELLO →
//! WELCOME), close it (a WebSocket Close frame, then the TCP socket) and
//! start over, for `--warmup` + `--duration` seconds; it prints the
//! sessions opened per second inside the measured window.
//!
//! `--subscribers N --events E` instead measures fan-out against a broker
//! that serves `bench.fanout` (the demo app): N sessions SUBSCRIBE to
//! `bench.events` (all SUBSCRIBED before anything is timed), one more
//! session CALLs `bench.fanout` with `count` = E, and the time runs from
//! that CALL until every subscriber has received all E events, checked to
//! arrive in order 0..E-1. It prints delivered events/s (N × E ÷ seconds),
//! the median over `--bursts` bursts, with the client's own CPU time
//! beside the wall time: a share near 1.0 means the client (one core when
//! pinned) was the bottleneck, not the server. Each EVENT's index is read
//! straight from the frame for JSON and MsgPack (anything unusual falls
//! back to a full decode), so the client's cost per event stays small.
//!
//! `--versus URL2` compares two servers under the same load: each gets
//! `--connections` sessions, and the two take turns of `--slice` seconds
//! (A B B A, repeated), the other side's sessions waiting idle meanwhile.
//! A turn ends by letting its calls in flight come back, uncounted, before
//! the next begins. Each server is measured for `--warmup` + `--duration`
//! seconds of turns. It prints one line per server, then
//! `first=… second=… turns=N slice=0.1s ratio=R`: the second server's
//! calls/s ÷ the first's, the median over pairs of adjacent turns. On a
//! shared machine whose speed swings by tens of percent from one tenth of
//! a second to the next, that ratio holds within a few percent from run
//! to run where back-to-back runs of several seconds each do not.
//!
//! Only loopback targets are accepted, and every run is bounded in
//! connections, depth and time.

use std::collections::HashMap;
use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Parser, ValueEnum};
use futures_util::{FutureExt, SinkExt, StreamExt};
use serverwamp::protocol::message::{
    Call, CallOptions, Hello, HelloDetails, Payload, Subscribe, SubscribeOptions, ValidationRules,
};
use serverwamp::protocol::{Codec, Dict, Id, Message, Serialization, Value};
use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, Uri, header::SEC_WEBSOCKET_PROTOCOL};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Bytes, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

mod connect;
mod versus;

/// Most connections one run may open.
const MAX_CONNECTIONS: usize = 10_000;
/// Most idle sessions one run may open.
const MAX_IDLE: usize = 20_000;
/// Most calls in flight per connection.
const MAX_DEPTH: usize = 1024;
/// Longest measurement, warm-up or hold, in seconds.
const MAX_SECONDS: f64 = 600.0;
/// How long opening one session (TCP, WebSocket, HELLO → WELCOME) may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(20);
/// The procedure every call goes to.
const PROCEDURE: &str = "bench.echo";
/// The realm every session joins.
const REALM: &str = "realm1";
/// The procedure that starts a fan-out burst (`--subscribers`).
const FANOUT_PROCEDURE: &str = "bench.fanout";
/// The topic fan-out events go to.
const FANOUT_TOPIC: &str = "bench.events";
/// Most events per fan-out burst.
const MAX_EVENTS: u64 = 1_000_000;
/// Most fan-out bursts per run.
const MAX_BURSTS: usize = 100;
/// How long one fan-out burst may take before the run gives up.
const BURST_TIMEOUT: Duration = Duration::from_secs(120);

/// Command line of the load generator.
#[derive(Parser, Debug)]
#[command(
    about = "WAMP load generator: calls to bench.echo, connect rate, fan-out, idle sessions; loopback targets only"
)]
struct Options {
    /// WebSocket URL of the WAMP endpoint, e.g. ws://127.0.0.1:8080/ws
    /// (loopback addresses only).
    #[arg(long)]
    url: String,
    /// Concurrent sessions.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Calls in flight per session.
    #[arg(long, default_value_t = 8)]
    depth: usize,
    /// Seconds measured, after the warm-up.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of calls that are made but not counted, before measuring.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// WAMP serialization (WebSocket subprotocol `wamp.2.<serializer>`).
    #[arg(long, value_enum, default_value_t = SerializerArg::Json)]
    serializer: SerializerArg,
    /// Call payload: `small` (a few scalars in args and kwargs), `1k` or
    /// `4k` (one string argument of 1024 or 4096 characters). With
    /// `--subscribers`, the fan-out payload: `small` is a 16-character
    /// string, `1k`/`4k` the same strings as for calls.
    #[arg(long, value_enum, default_value_t = PayloadArg::Small)]
    payload: PayloadArg,
    /// Sessions being opened at the same time; with `--connect-rate`, the
    /// workers that each open and close sessions one after another.
    #[arg(long, visible_alias = "concurrency", default_value_t = 64)]
    open_concurrency: usize,
    /// Tokio worker threads (default: the CPUs this process may use).
    #[arg(long)]
    threads: Option<usize>,
    /// Print the results as one JSON object instead of `key=value` pairs.
    #[arg(long)]
    json: bool,
    /// Instead of calling: open this many idle sessions and hold them.
    #[arg(long)]
    idle: Option<usize>,
    /// Seconds to hold the idle sessions open (with `--idle`).
    #[arg(long, default_value_t = 10.0)]
    hold: f64,
    /// Instead of calling: open and close sessions as fast as
    /// `--concurrency` workers can, for `--warmup` + `--duration` seconds,
    /// and print sessions opened per second.
    #[arg(long, conflicts_with_all = ["idle", "subscribers"])]
    connect_rate: bool,
    /// Instead of calling: fan-out with this many subscribers to
    /// `bench.events`, driven by CALLs to `bench.fanout` (the demo app).
    #[arg(long, conflicts_with = "idle")]
    subscribers: Option<usize>,
    /// Events per fan-out burst, sent to every subscriber (with
    /// `--subscribers`).
    #[arg(long, default_value_t = 100)]
    events: u64,
    /// Fan-out bursts, one after another on the same subscribers; the
    /// median is reported (with `--subscribers`).
    #[arg(long, default_value_t = 3)]
    bursts: usize,
    /// Calls to (or, with `--connect-rate`, sessions opened on) this
    /// second server too, taking turns with `--url` in slices of `--slice`
    /// seconds; one result line per server, then their ratio.
    #[arg(long, conflicts_with_all = ["idle", "subscribers"])]
    versus: Option<String>,
    /// Seconds of one turn (with `--versus`).
    #[arg(long, default_value_t = 0.1)]
    slice: f64,
    /// Print each measured turn's calls/s on stderr (with `--versus`).
    #[arg(long)]
    show_turns: bool,
}

/// The `--serializer` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SerializerArg {
    /// `wamp.2.json`
    Json,
    /// `wamp.2.msgpack`
    Msgpack,
    /// `wamp.2.cbor`
    Cbor,
}

impl SerializerArg {
    fn serialization(self) -> Serialization {
        match self {
            SerializerArg::Json => Serialization::Json,
            SerializerArg::Msgpack => Serialization::MsgPack,
            SerializerArg::Cbor => Serialization::Cbor,
        }
    }
}

/// The `--payload` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PayloadArg {
    /// args `[42, "hello", true, 1.5]`, kwargs `{"key": "value", "n": 7}`.
    Small,
    /// args `["xxxx…"]`, one string of 1024 characters.
    #[value(name = "1k")]
    OneK,
    /// args `["xxxx…"]`, one string of 4096 characters.
    #[value(name = "4k")]
    FourK,
}

impl PayloadArg {
    fn name(self) -> &'static str {
        match self {
            PayloadArg::Small => "small",
            PayloadArg::OneK => "1k",
            PayloadArg::FourK => "4k",
        }
    }

    /// The fan-out payload: one string.
    fn fanout_value(self) -> Value {
        match self {
            PayloadArg::Small => Value::Str("0123456789abcdef".to_owned()),
            PayloadArg::OneK => Value::Str("x".repeat(1024)),
            PayloadArg::FourK => Value::Str("x".repeat(4096)),
        }
    }

    fn payload(self) -> Payload {
        match self {
            PayloadArg::Small => {
                let mut kwargs = Dict::new();
                kwargs.insert("key".to_owned(), Value::Str("value".to_owned()));
                kwargs.insert("n".to_owned(), Value::UInt(7));
                Payload::new(
                    vec![
                        Value::UInt(42),
                        Value::Str("hello".to_owned()),
                        Value::Bool(true),
                        Value::Float(1.5),
                    ],
                    kwargs,
                )
            }
            PayloadArg::OneK | PayloadArg::FourK => Payload::from_args(vec![self.fanout_value()]),
        }
    }
}

/// A log-linear latency histogram over nanoseconds: exact below 128 ns,
/// then 64 buckets per power of two, up to about 137 s (larger values land
/// in the last bucket). 2048 `u32` counters: 8 KiB.
#[derive(Clone)]
struct Histogram {
    counts: Vec<u32>,
    total: u64,
    max: u64,
}

impl Histogram {
    /// Bits of sub-bucket resolution per power of two.
    const SUB_BITS: u32 = 6;
    /// Sub-buckets per power of two.
    const SUB: u64 = 1 << Self::SUB_BITS;
    /// Highest most-significant bit recorded exactly (2^37 ns ≈ 137 s).
    const MAX_MSB: u32 = 36;
    /// Number of buckets.
    const BUCKETS: usize = 2048;

    fn new() -> Self {
        Histogram {
            counts: vec![0; Self::BUCKETS],
            total: 0,
            max: 0,
        }
    }

    /// The bucket of a value.
    fn index(value: u64) -> usize {
        let value = value.min((1 << (Self::MAX_MSB + 1)) - 1);
        let index = if value < 2 * Self::SUB {
            value
        } else {
            let msb = 63 - value.leading_zeros();
            let shift = msb - Self::SUB_BITS;
            let top = value >> shift;
            2 * Self::SUB + u64::from(shift - 1) * Self::SUB + (top - Self::SUB)
        };
        usize::try_from(index).map_or(Self::BUCKETS - 1, |i| i.min(Self::BUCKETS - 1))
    }

    /// A representative value (the middle) of a bucket.
    fn value_of(index: usize) -> u64 {
        let index = u64::try_from(index).unwrap_or(u64::MAX);
        if index < 2 * Self::SUB {
            return index;
        }
        let rest = index - 2 * Self::SUB;
        let shift = rest / Self::SUB + 1;
        let top = rest % Self::SUB + Self::SUB;
        let low = top << shift;
        let high = ((top + 1) << shift) - 1;
        low + (high - low) / 2
    }

    fn record(&mut self, value: u64) {
        let slot = &mut self.counts[Self::index(value)];
        *slot = slot.saturating_add(1);
        self.total += 1;
        self.max = self.max.max(value);
    }

    fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine = mine.saturating_add(*theirs);
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// The value below which `per_10k` ten-thousandths of the samples lie
    /// (5000: the median), or 0 without samples.
    fn percentile(&self, per_10k: u64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = (self.total * per_10k).div_ceil(10_000).max(1);
        let mut seen = 0u64;
        for (index, count) in self.counts.iter().enumerate() {
            seen += u64::from(*count);
            if seen >= rank {
                return Self::value_of(index).min(self.max);
            }
        }
        self.max
    }
}

/// What one connection measured.
struct ConnectionStats {
    /// Calls answered correctly inside the measurement window.
    calls: u64,
    /// Calls answered correctly at any time, warm-up included.
    answered: u64,
    /// Wrong or failed answers, and connections lost while calling.
    errors: u64,
    latency: Histogram,
}

/// The client's WebSocket.
type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What every connection shares.
struct Shared {
    request: tungstenite::http::Request<()>,
    codec: Codec,
    depth: usize,
    payload: Payload,
    open_slots: Semaphore,
}

/// Client WebSocket buffers: small, so that thousands of idle sessions
/// stay cheap on the client side too.
fn client_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .write_buffer_size(16 * 1024)
}

/// Encodes one message as a WebSocket message of the codec's kind.
fn ws_message(codec: &Codec, message: &Message) -> Result<tungstenite::Message, String> {
    let mut out = Vec::with_capacity(128);
    codec
        .encode_frame(message, &mut out)
        .map_err(|e| e.to_string())?;
    if codec.serialization().is_text() {
        let text = String::from_utf8(out).map_err(|e| e.to_string())?;
        Ok(tungstenite::Message::Text(Utf8Bytes::from(text)))
    } else {
        Ok(tungstenite::Message::Binary(Bytes::from(out)))
    }
}

/// The data bytes of a WebSocket message; `None` for control messages.
fn data_of(message: &tungstenite::Message) -> Option<&[u8]> {
    match message {
        tungstenite::Message::Text(text) => Some(text.as_bytes()),
        tungstenite::Message::Binary(data) => Some(data),
        _ => None,
    }
}

/// Opens one session: WebSocket with the WAMP subprotocol, HELLO, WELCOME.
async fn open_session(shared: &Shared) -> Result<Ws, String> {
    let request = shared.request.clone();
    let (mut ws, _response) =
        tokio_tungstenite::connect_async_with_config(request, Some(client_config()), true)
            .await
            .map_err(|e| format!("connect: {e}"))?;
    let mut roles = Dict::new();
    roles.insert("caller".to_owned(), Value::Dict(Dict::new()));
    roles.insert("subscriber".to_owned(), Value::Dict(Dict::new()));
    let hello = Message::Hello(Hello {
        realm: REALM.to_owned(),
        details: HelloDetails {
            roles: Some(roles),
            agent: Some("serverwamp-loadgen".to_owned()),
            ..HelloDetails::default()
        },
    });
    ws.send(ws_message(&shared.codec, &hello)?)
        .await
        .map_err(|e| format!("send HELLO: {e}"))?;
    let mut codec = shared.codec;
    let rules = ValidationRules::default();
    let mut inbox = Vec::new();
    loop {
        let frame = match ws.next().await {
            Some(Ok(frame)) => frame,
            Some(Err(e)) => return Err(format!("waiting for WELCOME: {e}")),
            None => return Err("connection closed before WELCOME".to_owned()),
        };
        let Some(bytes) = data_of(&frame) else {
            continue;
        };
        codec
            .decode_frame(bytes, &rules, &mut inbox)
            .map_err(|e| format!("decoding WELCOME: {e}"))?;
        match inbox.pop() {
            Some(Message::Welcome(_)) => return Ok(ws),
            Some(other) => return Err(format!("expected WELCOME, got {}", other.message_type())),
            None => {}
        }
    }
}

/// Opens a session, holding one of the shared opening slots meanwhile.
async fn open_bounded(shared: &Shared) -> Result<Ws, String> {
    let _slot = shared
        .open_slots
        .acquire()
        .await
        .map_err(|e| e.to_string())?;
    match timeout(OPEN_TIMEOUT, open_session(shared)).await {
        Ok(result) => result,
        Err(_) => Err("opening the session timed out".to_owned()),
    }
}

/// The measurement window every connection shares: calls start at
/// `start`, count from `record_from`, and stop at `end`.
#[derive(Debug, Clone, Copy)]
struct Window {
    record_from: Instant,
    end: Instant,
}

/// Per-connection calling state.
struct Caller {
    codec: Codec,
    /// The CALL message, reused: only its request ID changes.
    call: Message,
    expected: Payload,
    next_request: u64,
    in_flight: HashMap<u64, Instant>,
    stats: ConnectionStats,
}

impl Caller {
    /// Queues the next CALL in the socket's write buffer (no flush).
    async fn feed_call(&mut self, ws: &mut Ws) -> Result<(), String> {
        let request = self.next_request;
        self.next_request += 1;
        if let Message::Call(call) = &mut self.call {
            call.request = Id::new(request).ok_or("request ID out of range")?;
        }
        let frame = ws_message(&self.codec, &self.call)?;
        self.in_flight.insert(request, Instant::now());
        ws.feed(frame).await.map_err(|e| format!("send CALL: {e}"))
    }

    /// Handles one received WebSocket frame (what `next()` gave); returns
    /// how many calls it finished. `inbox` is scratch space, empty between
    /// frames.
    fn on_frame(
        &mut self,
        frame: Option<Result<tungstenite::Message, tungstenite::Error>>,
        rules: &ValidationRules,
        inbox: &mut Vec<Message>,
        window: Window,
    ) -> Result<usize, String> {
        let frame = match frame {
            Some(Ok(frame)) => frame,
            Some(Err(e)) => return Err(format!("receive: {e}")),
            None => return Err("server closed the connection".to_owned()),
        };
        if let tungstenite::Message::Close(_) = frame {
            return Err("server closed the connection".to_owned());
        }
        let Some(bytes) = data_of(&frame) else {
            return Ok(0);
        };
        if let Err(e) = self.codec.decode_frame(bytes, rules, inbox) {
            self.stats.errors += 1;
            warn(&format!("undecodable frame: {e}"));
        }
        let mut finished = 0;
        for message in inbox.drain(..) {
            if self.on_message(message, window) {
                finished += 1;
            }
        }
        Ok(finished)
    }

    /// Handles one received WAMP message; returns whether a call finished
    /// (so that another should be sent).
    fn on_message(&mut self, message: Message, window: Window) -> bool {
        let now = Instant::now();
        let counted = now >= window.record_from && now < window.end;
        let (request, correct) = match message {
            Message::Result(result) => (result.request, result.payload == self.expected),
            Message::Error(error) => (error.request, false),
            _ => {
                self.stats.errors += 1;
                return false;
            }
        };
        let Some(sent) = self.in_flight.remove(&request.get()) else {
            // An answer to no call of ours.
            self.stats.errors += 1;
            return false;
        };
        if !correct {
            self.stats.errors += 1;
            return true;
        }
        self.stats.answered += 1;
        if counted {
            self.stats.calls += 1;
            let nanos = u64::try_from(now.duration_since(sent).as_nanos()).unwrap_or(u64::MAX);
            self.stats.latency.record(nanos);
        }
        true
    }
}

impl Caller {
    /// A caller of `bench.echo` with the shared payload, nothing sent yet.
    fn new(shared: &Shared) -> Self {
        Caller {
            codec: shared.codec,
            call: Message::Call(Call {
                request: Id::new(1).expect("1 is a valid ID"),
                options: CallOptions::default(),
                procedure: PROCEDURE.to_owned(),
                payload: shared.payload.clone(),
            }),
            expected: shared.payload.clone(),
            next_request: 1,
            in_flight: HashMap::with_capacity(shared.depth * 2),
            stats: ConnectionStats {
                calls: 0,
                answered: 0,
                errors: 0,
                latency: Histogram::new(),
            },
        }
    }
}

/// Keeps `depth` calls in flight on one session until the window ends.
async fn run_calls(mut ws: Ws, shared: &Shared, window: Window) -> ConnectionStats {
    let mut caller = Caller::new(shared);
    if let Err(e) = calling_loop(&mut ws, &mut caller, shared.depth, window).await {
        warn(&format!("connection failed: {e}"));
        caller.stats.errors += 1;
    }
    // Calls still in flight are abandoned; the server sees the close.
    let _ = timeout(Duration::from_secs(2), ws.close(None)).await;
    caller.stats
}

/// The calling loop proper: send, receive, check, send again. Calls are
/// fed into the write buffer and flushed only when no received frame is
/// waiting, so a burst of RESULTs is answered by one write.
async fn calling_loop(
    ws: &mut Ws,
    caller: &mut Caller,
    depth: usize,
    window: Window,
) -> Result<(), String> {
    let rules = ValidationRules::default();
    let mut inbox = Vec::new();
    for _ in 0..depth {
        caller.feed_call(ws).await?;
    }
    let mut unflushed = true;
    let mut ready = None;
    loop {
        let frame = match ready.take() {
            Some(frame) => frame,
            None => {
                if unflushed {
                    ws.flush().await.map_err(|e| format!("flush: {e}"))?;
                    unflushed = false;
                }
                match timeout_at(window.end, ws.next()).await {
                    Err(_) => return Ok(()),
                    Ok(next) => next,
                }
            }
        };
        let finished = caller.on_frame(frame, &rules, &mut inbox, window)?;
        if Instant::now() >= window.end {
            return Ok(());
        }
        for _ in 0..finished {
            caller.feed_call(ws).await?;
            unflushed = true;
        }
        if unflushed {
            // Another frame already here? Handle it before flushing.
            ready = ws.next().now_or_never();
        }
    }
}

/// Checks that the URL is `ws://` to a loopback address.
fn check_url(url: &str) -> Result<(), String> {
    let uri: Uri = url.parse().map_err(|e| format!("bad --url {url:?}: {e}"))?;
    if uri.scheme_str() != Some("ws") {
        return Err(format!("--url must start with ws:// (got {url:?})"));
    }
    let host = uri.host().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return Err(format!(
            "--url must name a loopback address such as 127.0.0.1 (got {host:?})"
        ));
    }
    Ok(())
}

/// Checks a number of seconds given on the command line.
fn seconds(name: &str, value: f64, minimum: f64) -> Result<Duration, String> {
    if !(minimum..=MAX_SECONDS).contains(&value) {
        return Err(format!(
            "--{name} must be between {minimum} and {MAX_SECONDS} seconds"
        ));
    }
    Duration::try_from_secs_f64(value).map_err(|e| format!("--{name}: {e}"))
}

/// Checks the options and builds what the connections to `url` share.
fn shared_state(options: &Options, url: &str) -> Result<Shared, String> {
    check_url(url)?;
    if options.open_concurrency == 0 || options.open_concurrency > 1024 {
        return Err("--open-concurrency must be between 1 and 1024".to_owned());
    }
    let codec = Codec::new(options.serializer.serialization());
    let mut request = url
        .into_client_request()
        .map_err(|e| format!("bad --url: {e}"))?;
    request.headers_mut().insert(
        SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(codec.subprotocol()),
    );
    Ok(Shared {
        request,
        codec,
        depth: options.depth,
        payload: options.payload.payload(),
        open_slots: Semaphore::new(options.open_concurrency),
    })
}

/// The results of a calling run.
struct Report {
    opened: usize,
    failed: usize,
    calls: u64,
    answered: u64,
    errors: u64,
    measured: Duration,
    latency: Histogram,
}

impl Report {
    /// Adds one connection's figures.
    fn add(&mut self, stats: &ConnectionStats) {
        self.calls += stats.calls;
        self.answered += stats.answered;
        self.errors += stats.errors;
        self.latency.merge(&stats.latency);
    }
}

/// Checks `--connections` and `--depth` of a calling run.
fn check_shape(options: &Options) -> Result<(), String> {
    if !(1..=MAX_CONNECTIONS).contains(&options.connections) {
        return Err(format!(
            "--connections must be between 1 and {MAX_CONNECTIONS}"
        ));
    }
    if !(1..=MAX_DEPTH).contains(&options.depth) {
        return Err(format!("--depth must be between 1 and {MAX_DEPTH}"));
    }
    Ok(())
}

/// Opens every connection, then runs the calls in one shared window.
async fn run_load(options: &Options, shared: Arc<Shared>) -> Result<Report, String> {
    check_shape(options)?;
    let duration = seconds("duration", options.duration, 0.1)?;
    let warmup = seconds("warmup", options.warmup, 0.0)?;

    let (start_tx, start_rx) = watch::channel(None::<Window>);
    let (opened_tx, mut opened_rx) = mpsc::channel(options.connections);
    let mut tasks = JoinSet::new();
    for _ in 0..options.connections {
        let shared = Arc::clone(&shared);
        let opened = opened_tx.clone();
        let mut start = start_rx.clone();
        tasks.spawn(async move {
            let ws = match open_bounded(&shared).await {
                Ok(ws) => ws,
                Err(e) => {
                    let _ = opened.send(Err(e)).await;
                    return None;
                }
            };
            let _ = opened.send(Ok(())).await;
            drop(opened);
            let window = match start.wait_for(Option::is_some).await {
                Ok(window) => window.expect("waited for Some"),
                Err(_) => return None,
            };
            Some(run_calls(ws, &shared, window).await)
        });
    }
    drop(opened_tx);

    let mut opened = 0;
    let mut failed = 0;
    while let Some(result) = opened_rx.recv().await {
        match result {
            Ok(()) => opened += 1,
            Err(e) => {
                if failed < 5 {
                    warn(&format!("could not open a session: {e}"));
                }
                failed += 1;
            }
        }
    }
    if opened == 0 {
        return Err("no session could be opened".to_owned());
    }
    let start = Instant::now();
    let window = Window {
        record_from: start + warmup,
        end: start + warmup + duration,
    };
    let _ = start_tx.send(Some(window));
    // Marks on stderr for tools that measure the server over exactly the
    // window (scripts/bench-callgrind --settle).
    tokio::spawn(async move {
        tokio::time::sleep_until(window.record_from).await;
        mark("window started");
        tokio::time::sleep_until(window.end).await;
        mark("window ended");
    });

    let mut report = Report {
        opened,
        failed,
        calls: 0,
        answered: 0,
        errors: 0,
        measured: duration,
        latency: Histogram::new(),
    };
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Some(stats)) => report.add(&stats),
            Ok(None) => {}
            Err(e) => {
                warn(&format!("connection task failed: {e}"));
                report.errors += 1;
            }
        }
    }
    Ok(report)
}

/// Reports a problem on stderr.
#[allow(clippy::print_stderr)] // reason: diagnostics of a command-line tool
fn warn(message: &str) {
    eprintln!("loadgen: {message}");
}

/// Marks progress on stderr (the measured window's start and end).
#[allow(clippy::print_stderr)] // reason: progress of a command-line tool
fn mark(message: &str) {
    eprintln!("loadgen: {message}");
}

/// Formats nanoseconds as milliseconds with microsecond precision.
fn millis(nanos: u64) -> String {
    format!("{}.{:03}ms", nanos / 1_000_000, (nanos / 1_000) % 1_000)
}

/// Prints the results of a calling run against `url`: one line, or one
/// JSON object.
#[allow(clippy::print_stdout)] // reason: printing the results is this program's purpose
fn print_report(options: &Options, url: &str, report: &Report) {
    let rate = report.calls as f64 / report.measured.as_secs_f64();
    let p50 = report.latency.percentile(5_000);
    let p90 = report.latency.percentile(9_000);
    let p99 = report.latency.percentile(9_900);
    let p999 = report.latency.percentile(9_990);
    if options.json {
        let micros = |nanos: u64| nanos as f64 / 1_000.0;
        let object = serde_json::json!({
            "url": url,
            "serializer": options.serializer.serialization().name(),
            "payload": options.payload.name(),
            "connections": options.connections,
            "opened": report.opened,
            "failed_connections": report.failed,
            "depth": options.depth,
            "warmup_s": options.warmup,
            "duration_s": report.measured.as_secs_f64(),
            "calls": report.calls,
            "answered": report.answered,
            "calls_per_s": rate,
            "p50_us": micros(p50),
            "p90_us": micros(p90),
            "p99_us": micros(p99),
            "p999_us": micros(p999),
            "max_us": micros(report.latency.max),
            "errors": report.errors,
        });
        println!("{object}");
    } else {
        println!(
            "url={url} connections={} depth={} serializer={} payload={} failed_connections={} \
             calls={} calls/s={rate:.0} p50={} p90={} p99={} p999={} max={} errors={} answered={}",
            options.connections,
            options.depth,
            options.serializer.serialization().name(),
            options.payload.name(),
            report.failed,
            report.calls,
            millis(p50),
            millis(p90),
            millis(p99),
            millis(p999),
            millis(report.latency.max),
            report.errors,
            report.answered,
        );
    }
}

/// Prints the comparison of a run in `turns` turns per server: the
/// second server's rate ÷ the first's, as one line or one JSON object.
#[allow(clippy::print_stdout)] // reason: printing the results is this program's purpose
fn print_ratio(options: &Options, versus: &str, turns: usize, ratio: Option<f64>) {
    let shown = ratio.map_or("NA".to_owned(), |r| format!("{r:.4}"));
    if options.json {
        let object = serde_json::json!({
            "first": options.url,
            "second": versus,
            "turns": turns,
            "slice_s": options.slice,
            "ratio": ratio,
        });
        println!("{object}");
    } else {
        println!(
            "first={} second={versus} turns={turns} slice={}s ratio={shown}",
            options.url, options.slice
        );
    }
}

/// Opens `count` idle sessions, reports them open, holds them, closes them.
#[allow(clippy::print_stdout)] // reason: the "open" line is what scripts wait for
async fn run_idle(options: &Options, shared: Arc<Shared>, count: usize) -> Result<(), String> {
    if !(1..=MAX_IDLE).contains(&count) {
        return Err(format!("--idle must be between 1 and {MAX_IDLE}"));
    }
    let hold = seconds("hold", options.hold, 0.0)?;
    let mut tasks = JoinSet::new();
    for _ in 0..count {
        let shared = Arc::clone(&shared);
        tasks.spawn(async move { open_bounded(&shared).await });
    }
    let mut sessions = Vec::with_capacity(count);
    let mut failed = 0usize;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(ws)) => sessions.push(ws),
            Ok(Err(e)) => {
                if failed < 5 {
                    warn(&format!("could not open a session: {e}"));
                }
                failed += 1;
            }
            Err(e) => {
                warn(&format!("opening task failed: {e}"));
                failed += 1;
            }
        }
    }
    println!(
        "idle sessions open: {} failed={failed} hold={}s",
        sessions.len(),
        hold.as_secs_f64()
    );
    use std::io::Write as _;
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    tokio::time::sleep(hold).await;
    let open = sessions.len();
    // Close in parallel, each briefly bounded; dropping is enough for the
    // rest.
    let mut closing = JoinSet::new();
    for mut ws in sessions {
        closing.spawn(async move {
            let _ = timeout(Duration::from_secs(2), ws.close(None)).await;
        });
    }
    while closing.join_next().await.is_some() {}
    println!("idle sessions closed: {open}");
    if failed > 0 {
        return Err(format!(
            "{failed} of {count} idle sessions could not be opened"
        ));
    }
    Ok(())
}

/// User + system CPU time this process has used so far, from
/// `/proc/self/stat` (clock ticks of 1/100 s, Linux's USER_HZ).
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_ascii_whitespace();
    // Fields 14 (utime) and 15 (stime); `fields` starts at field 3.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// An unsigned JSON integer at the start of `bytes`, and what follows it.
fn json_uint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 19 {
        return None;
    }
    let mut value = 0u64;
    for digit in &bytes[..digits] {
        value = value * 10 + u64::from(digit - b'0');
    }
    Some((value, &bytes[digits..]))
}

/// An unsigned MsgPack integer at the start of `bytes`, and what follows.
fn msgpack_uint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let (&tag, rest) = bytes.split_first()?;
    let width = match tag {
        0x00..=0x7f => return Some((u64::from(tag), rest)),
        0xcc => 1,
        0xcd => 2,
        0xce => 4,
        0xcf => 8,
        _ => return None,
    };
    if rest.len() < width {
        return None;
    }
    let value = rest[..width]
        .iter()
        .fold(0u64, |value, byte| (value << 8) | u64::from(*byte));
    Some((value, &rest[width..]))
}

/// The first argument of an EVENT read straight from its frame, for the
/// shape the broker sends: `[36, SUB, PUB, {}, [i, …]]` with no spaces
/// (JSON) or with an empty details map (MsgPack). `None` for anything
/// else, which is then decoded in full.
fn quick_event_index(serialization: Serialization, bytes: &[u8]) -> Option<u64> {
    match serialization {
        Serialization::Json => {
            let rest = bytes.strip_prefix(b"[36,")?;
            let (_, rest) = json_uint(rest)?;
            let (_, rest) = json_uint(rest.strip_prefix(b",")?)?;
            let (index, _) = json_uint(rest.strip_prefix(b",{},[")?)?;
            Some(index)
        }
        Serialization::MsgPack => {
            let (&array, rest) = bytes.split_first()?;
            if array != 0x95 && array != 0x96 {
                return None;
            }
            let (_, rest) = msgpack_uint(rest.strip_prefix(&[0x24])?)?;
            let (_, rest) = msgpack_uint(rest)?;
            let (&args, rest) = rest.strip_prefix(&[0x80])?.split_first()?;
            if !(0x91..=0x9f).contains(&args) {
                return None;
            }
            Some(msgpack_uint(rest)?.0)
        }
        _ => None,
    }
}

/// What the fan-out subscribers share.
struct FanState {
    /// Subscribers in the run.
    subscribers: u64,
    /// Events per burst.
    events: u64,
    /// Bursts completed by one subscriber, summed over all subscribers.
    completed: AtomicU64,
    /// When the last subscriber completed each burst.
    finished: Mutex<Vec<Instant>>,
    /// Woken when a burst is complete at every subscriber.
    all_done: Notify,
}

/// What one subscriber counted.
struct SubscriberStats {
    received: u64,
    /// Events out of order (or missing), undecodable frames, other messages.
    errors: u64,
    /// Frames that needed a full decode.
    slow_path: u64,
}

/// Subscribes one session to the fan-out topic; returns once SUBSCRIBED.
async fn subscribe(ws: &mut Ws, codec: &mut Codec) -> Result<(), String> {
    let subscribe = Message::Subscribe(Subscribe {
        request: Id::new(1).expect("1 is a valid ID"),
        options: SubscribeOptions::default(),
        topic: FANOUT_TOPIC.to_owned(),
    });
    ws.send(ws_message(codec, &subscribe)?)
        .await
        .map_err(|e| format!("send SUBSCRIBE: {e}"))?;
    let rules = ValidationRules::default();
    let mut inbox = Vec::new();
    loop {
        let frame = match ws.next().await {
            Some(Ok(frame)) => frame,
            Some(Err(e)) => return Err(format!("waiting for SUBSCRIBED: {e}")),
            None => return Err("connection closed before SUBSCRIBED".to_owned()),
        };
        let Some(bytes) = data_of(&frame) else {
            continue;
        };
        codec
            .decode_frame(bytes, &rules, &mut inbox)
            .map_err(|e| format!("decoding SUBSCRIBED: {e}"))?;
        match inbox.drain(..).next() {
            Some(Message::Subscribed(_)) => return Ok(()),
            Some(other) => {
                return Err(format!("expected SUBSCRIBED, got {}", other.message_type()));
            }
            None => {}
        }
    }
}

/// Receives events on one subscribed session until the connection ends
/// or `stop` is set, checking that each burst arrives as 0..events-1.
async fn receive_events(
    mut ws: Ws,
    mut codec: Codec,
    fan: Arc<FanState>,
    mut stop: watch::Receiver<bool>,
) -> SubscriberStats {
    let mut stats = SubscriberStats {
        received: 0,
        errors: 0,
        slow_path: 0,
    };
    let serialization = codec.serialization();
    let rules = ValidationRules::default();
    let mut inbox = Vec::new();
    let mut next = 0u64;
    loop {
        let frame = tokio::select! {
            biased;
            frame = ws.next() => frame,
            _ = stop.changed() => break,
        };
        let frame = match frame {
            Some(Ok(frame)) => frame,
            Some(Err(_)) | None => break,
        };
        let Some(bytes) = data_of(&frame) else {
            continue;
        };
        let index = match quick_event_index(serialization, bytes) {
            Some(index) => Some(index),
            None => {
                stats.slow_path += 1;
                match codec.decode_frame(bytes, &rules, &mut inbox) {
                    Ok(()) => inbox.drain(..).next().and_then(|message| match message {
                        Message::Event(event) => match event.payload.args().first() {
                            Some(Value::UInt(i)) => Some(*i),
                            Some(Value::Int(i)) => u64::try_from(*i).ok(),
                            _ => None,
                        },
                        _ => None,
                    }),
                    Err(_) => None,
                }
            }
        };
        let Some(index) = index else {
            stats.errors += 1;
            continue;
        };
        stats.received += 1;
        if index != next {
            stats.errors += 1;
        }
        next = index + 1;
        if index + 1 == fan.events {
            next = 0;
            let done = fan.completed.fetch_add(1, Ordering::AcqRel) + 1;
            if done.is_multiple_of(fan.subscribers) {
                if let Ok(mut finished) = fan.finished.lock() {
                    finished.push(Instant::now());
                }
                fan.all_done.notify_one();
            }
        }
    }
    let _ = timeout(Duration::from_secs(2), ws.close(None)).await;
    stats
}

/// Sends one CALL and waits for its RESULT (or ERROR), on the caller
/// session of a fan-out run.
async fn call_once(
    ws: &mut Ws,
    codec: &mut Codec,
    request: u64,
    payload: Payload,
) -> Result<(), String> {
    let call = Message::Call(Call {
        request: Id::new(request).ok_or("request ID out of range")?,
        options: CallOptions::default(),
        procedure: FANOUT_PROCEDURE.to_owned(),
        payload,
    });
    ws.send(ws_message(codec, &call)?)
        .await
        .map_err(|e| format!("send CALL: {e}"))?;
    let rules = ValidationRules::default();
    let mut inbox = Vec::new();
    loop {
        let frame = match ws.next().await {
            Some(Ok(frame)) => frame,
            Some(Err(e)) => return Err(format!("waiting for RESULT: {e}")),
            None => return Err("connection closed before RESULT".to_owned()),
        };
        let Some(bytes) = data_of(&frame) else {
            continue;
        };
        codec
            .decode_frame(bytes, &rules, &mut inbox)
            .map_err(|e| format!("decoding RESULT: {e}"))?;
        for message in inbox.drain(..) {
            match message {
                Message::Result(_) => return Ok(()),
                Message::Error(error) => {
                    return Err(format!("{FANOUT_PROCEDURE} failed: {}", error.error));
                }
                _ => {}
            }
        }
    }
}

/// The median of some values (the lower middle one for an even count).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
        .get(sorted.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(0.0)
}

/// `--subscribers N`: fan-out from one CALL to N subscribers.
#[allow(clippy::print_stdout)] // reason: printing the results is this program's purpose
async fn run_fanout(
    options: &Options,
    shared: Arc<Shared>,
    subscribers: usize,
) -> Result<(), String> {
    if !(1..=MAX_CONNECTIONS).contains(&subscribers) {
        return Err(format!(
            "--subscribers must be between 1 and {MAX_CONNECTIONS}"
        ));
    }
    if !(1..=MAX_EVENTS).contains(&options.events) {
        return Err(format!("--events must be between 1 and {MAX_EVENTS}"));
    }
    if !(1..=MAX_BURSTS).contains(&options.bursts) {
        return Err(format!("--bursts must be between 1 and {MAX_BURSTS}"));
    }
    let fan = Arc::new(FanState {
        subscribers: subscribers as u64,
        events: options.events,
        completed: AtomicU64::new(0),
        finished: Mutex::new(Vec::new()),
        all_done: Notify::new(),
    });
    let setup_started = Instant::now();
    // Open and subscribe every subscriber, bounded like any opening.
    let mut opening = JoinSet::new();
    for _ in 0..subscribers {
        let shared = Arc::clone(&shared);
        opening.spawn(async move {
            let mut ws = open_bounded(&shared).await?;
            let mut codec = shared.codec;
            match timeout(OPEN_TIMEOUT, subscribe(&mut ws, &mut codec)).await {
                Ok(Ok(())) => Ok((ws, codec)),
                Ok(Err(e)) => Err(e),
                Err(_) => Err("SUBSCRIBE timed out".to_owned()),
            }
        });
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut receivers = JoinSet::new();
    let mut failed = 0usize;
    while let Some(joined) = opening.join_next().await {
        match joined {
            Ok(Ok((ws, codec))) => {
                receivers.spawn(receive_events(ws, codec, Arc::clone(&fan), stop_rx.clone()));
            }
            Ok(Err(e)) => {
                if failed < 5 {
                    warn(&format!("could not open a subscriber: {e}"));
                }
                failed += 1;
            }
            Err(e) => {
                warn(&format!("subscriber task failed: {e}"));
                failed += 1;
            }
        }
    }
    if failed > 0 {
        return Err(format!(
            "{failed} of {subscribers} subscribers could not subscribe"
        ));
    }
    let setup = setup_started.elapsed();
    let mut caller = open_bounded(&shared).await?;
    let mut codec = shared.codec;
    let payload = Payload::from_args(vec![
        Value::UInt(options.events),
        options.payload.fanout_value(),
    ]);

    let mut rates = Vec::with_capacity(options.bursts);
    let mut lasts = Vec::with_capacity(options.bursts);
    let mut shares = Vec::with_capacity(options.bursts);
    let mut results = Vec::with_capacity(options.bursts);
    for burst in 0..options.bursts {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let target = fan.subscribers * (burst as u64 + 1);
        let cpu_before = process_cpu();
        let sent = Instant::now();
        call_once(&mut caller, &mut codec, burst as u64 + 1, payload.clone()).await?;
        let answered = sent.elapsed();
        let deadline = sent + BURST_TIMEOUT;
        while fan.completed.load(Ordering::Acquire) < target {
            let notified = fan.all_done.notified();
            if fan.completed.load(Ordering::Acquire) >= target {
                break;
            }
            if timeout_at(deadline, notified).await.is_err() {
                let _ = stop_tx.send(true);
                return Err(format!(
                    "burst {}: only {} of {subscribers} subscribers got every event within {}s",
                    burst + 1,
                    fan.completed.load(Ordering::Acquire) - fan.subscribers * burst as u64,
                    BURST_TIMEOUT.as_secs()
                ));
            }
        }
        let cpu_after = process_cpu();
        let last = fan
            .finished
            .lock()
            .ok()
            .and_then(|finished| finished.get(burst).copied())
            .unwrap_or_else(Instant::now);
        let wall = last.duration_since(sent);
        let cpu = match (cpu_before, cpu_after) {
            (Some(before), Some(after)) => after.saturating_sub(before),
            _ => Duration::ZERO,
        };
        let delivered = fan.subscribers * options.events;
        let rate = delivered as f64 / wall.as_secs_f64();
        let share = cpu.as_secs_f64() / wall.as_secs_f64();
        warn(&format!(
            "fan-out burst {}: {delivered} events in {} ({rate:.0} events/s), RESULT after {}, \
             client CPU {} ({share:.2} of the wall time)",
            burst + 1,
            millis(u64::try_from(wall.as_nanos()).unwrap_or(u64::MAX)),
            millis(u64::try_from(answered.as_nanos()).unwrap_or(u64::MAX)),
            millis(u64::try_from(cpu.as_nanos()).unwrap_or(u64::MAX)),
        ));
        rates.push(rate);
        lasts.push(wall.as_secs_f64() * 1000.0);
        shares.push(share);
        results.push(answered.as_secs_f64() * 1000.0);
    }
    let _ = stop_tx.send(true);
    let _ = timeout(Duration::from_secs(2), caller.close(None)).await;
    let mut received = 0;
    let mut errors = 0;
    let mut slow_path = 0;
    while let Some(joined) = receivers.join_next().await {
        match joined {
            Ok(stats) => {
                received += stats.received;
                errors += stats.errors;
                slow_path += stats.slow_path;
            }
            Err(e) => {
                warn(&format!("subscriber task failed: {e}"));
                errors += 1;
            }
        }
    }
    let expected = fan.subscribers * options.events * options.bursts as u64;
    if received != expected {
        errors += expected.abs_diff(received);
    }
    let rate = median(&rates);
    let last = median(&lasts);
    let share = median(&shares);
    let result = median(&results);
    if options.json {
        let object = serde_json::json!({
            "mode": "fanout",
            "url": options.url,
            "serializer": options.serializer.serialization().name(),
            "payload": options.payload.name(),
            "subscribers": subscribers,
            "events": options.events,
            "bursts": options.bursts,
            "setup_s": setup.as_secs_f64(),
            "events_per_s": rate,
            "events_per_s_each": rates,
            "time_to_last_ms": last,
            "result_after_ms": result,
            "client_cpu_share": share,
            "received": received,
            "slow_path": slow_path,
            "errors": errors,
        });
        println!("{object}");
    } else {
        println!(
            "fanout subscribers={subscribers} events={} bursts={} serializer={} payload={} \
             events/s={rate:.0} time_to_last={last:.1}ms result_after={result:.1}ms \
             client_cpu_share={share:.2} setup={:.1}s received={received} slow_path={slow_path} \
             errors={errors}",
            options.events,
            options.bursts,
            options.serializer.serialization().name(),
            options.payload.name(),
            setup.as_secs_f64(),
        );
    }
    if errors > 0 {
        return Err(format!(
            "{errors} events missing, out of order or undecodable"
        ));
    }
    Ok(())
}

async fn run(options: Options) -> Result<(), String> {
    let shared = Arc::new(shared_state(&options, &options.url)?);
    if let Some(count) = options.idle {
        return run_idle(&options, shared, count).await;
    }
    if options.connect_rate {
        return connect::run_connect_rate(&options, shared).await;
    }
    if let Some(subscribers) = options.subscribers {
        return run_fanout(&options, shared, subscribers).await;
    }
    if let Some(versus) = &options.versus {
        let other = Arc::new(shared_state(&options, versus)?);
        let outcome = versus::run_versus(&options, [shared, other]).await?;
        let [first, second] = &outcome.reports;
        print_report(&options, &options.url, first);
        print_report(&options, versus, second);
        print_ratio(&options, versus, outcome.turns, outcome.ratio);
        return outcome.reports.iter().try_for_each(answered_any);
    }
    let report = run_load(&options, shared).await?;
    print_report(&options, &options.url, &report);
    answered_any(&report)
}

/// Fails a calling run in which no call was answered.
fn answered_any(report: &Report) -> Result<(), String> {
    if report.opened == 0 || report.calls == 0 {
        return Err("no call was answered".to_owned());
    }
    Ok(())
}

fn main() -> ExitCode {
    let options = Options::parse();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(threads) = options.threads {
        builder.worker_threads(threads.clamp(1, 64));
    }
    let runtime = match builder.build() {
        Ok(runtime) => runtime,
        Err(e) => {
            warn(&format!("cannot start the tokio runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            warn(&e);
            ExitCode::FAILURE
        }
    }
}
