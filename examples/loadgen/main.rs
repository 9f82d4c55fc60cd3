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
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use futures_util::{FutureExt, SinkExt, StreamExt};
use serverwamp::protocol::message::{
    Call, CallOptions, Hello, HelloDetails, Payload, ValidationRules,
};
use serverwamp::protocol::{Codec, Dict, Id, Message, Serialization, Value};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, Uri, header::SEC_WEBSOCKET_PROTOCOL};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Bytes, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

mod connect;
mod fanout;
mod idle;
mod versus;

/// Most connections one run may open.
const MAX_CONNECTIONS: usize = 10_000;
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
    let mut codec = shared.codec;
    send(&mut ws, &codec, &hello).await?;
    match next_message(&mut ws, &mut codec, "WELCOME").await? {
        Message::Welcome(_) => Ok(ws),
        other => Err(format!("expected WELCOME, got {}", other.message_type())),
    }
}

/// Sends one message in a frame of its own, flushed.
async fn send(ws: &mut Ws, codec: &Codec, message: &Message) -> Result<(), String> {
    ws.send(ws_message(codec, message)?)
        .await
        .map_err(|e| format!("send {}: {e}", message.message_type()))
}

/// The next WAMP message from the peer (control frames skipped); `awaited`
/// names what the caller waits for, in errors.
async fn next_message(ws: &mut Ws, codec: &mut Codec, awaited: &str) -> Result<Message, String> {
    let rules = ValidationRules::default();
    let mut inbox = Vec::new();
    loop {
        let frame = match ws.next().await {
            Some(Ok(frame)) => frame,
            Some(Err(e)) => return Err(format!("waiting for {awaited}: {e}")),
            None => return Err(format!("connection closed before {awaited}")),
        };
        let Some(bytes) = data_of(&frame) else {
            continue;
        };
        codec
            .decode_frame(bytes, &rules, &mut inbox)
            .map_err(|e| format!("decoding {awaited}: {e}"))?;
        if let Some(message) = inbox.drain(..).next() {
            return Ok(message);
        }
    }
}

/// Counts sessions that could not be opened, and reports the first few.
#[derive(Debug, Default)]
struct OpenFailures(usize);

impl OpenFailures {
    /// How many reports at most; the rest are only counted.
    const REPORTED: usize = 5;

    fn note(&mut self, error: &str) {
        if self.0 < Self::REPORTED {
            warn(&format!("could not open a session: {error}"));
        }
        self.0 += 1;
    }

    /// A spawned opening's outcome: the session, or the failure noted.
    fn check<T>(&mut self, joined: Result<Result<T, String>, tokio::task::JoinError>) -> Option<T> {
        match joined {
            Ok(Ok(opened)) => Some(opened),
            Ok(Err(e)) => {
                self.note(&e);
                None
            }
            Err(e) => {
                self.note(&format!("its task failed: {e}"));
                None
            }
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
    let mut failed = OpenFailures::default();
    while let Some(result) = opened_rx.recv().await {
        match result {
            Ok(()) => opened += 1,
            Err(e) => failed.note(&e),
        }
    }
    let failed = failed.0;
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

/// Prints the comparison of a run in turns: the second server's rate ÷
/// the first's, as one line or one JSON object.
#[allow(clippy::print_stdout)] // reason: printing the results is this program's purpose
fn print_ratio(options: &Options, versus: &str, turns: &versus::Turns) {
    let ratio = turns.ratio;
    let shown = ratio.map_or("NA".to_owned(), |r| format!("{r:.4}"));
    if options.json {
        let object = serde_json::json!({
            "first": options.url,
            "second": versus,
            "turns": turns.count,
            "slice_s": options.slice,
            "ratio": ratio,
        });
        println!("{object}");
    } else {
        println!(
            "first={} second={versus} turns={} slice={}s ratio={shown}",
            options.url, turns.count, options.slice
        );
    }
}

async fn run(options: Options) -> Result<(), String> {
    let shared = Arc::new(shared_state(&options, &options.url)?);
    if let Some(count) = options.idle {
        return idle::run_idle(&options, shared, count).await;
    }
    if options.connect_rate {
        return connect::run_connect_rate(&options, shared).await;
    }
    if let Some(subscribers) = options.subscribers {
        return fanout::run_fanout(&options, shared, subscribers).await;
    }
    if let Some(versus) = &options.versus {
        let other = Arc::new(shared_state(&options, versus)?);
        let outcome = versus::run_versus(&options, [shared, other]).await?;
        let [first, second] = &outcome.reports;
        print_report(&options, &options.url, first);
        print_report(&options, versus, second);
        print_ratio(&options, versus, &outcome.turns);
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
