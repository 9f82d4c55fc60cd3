//! Soak and fault load for the demo app, driven by `scripts/soak` (which
//! also samples the server's memory and task count). Loopback only.
//!
//! ```text
//! soak churn     --url ws://127.0.0.1:PORT/ws --sessions 10000 --duration 600
//! soak slowloris --url ws://127.0.0.1:PORT/ws --attackers 1000 --sessions 100 --duration 60
//! soak stalled   --url ws://127.0.0.1:PORT/ws --sessions 10 --duration 60
//! ```
//!
//! - `churn`: each of N workers loops, holding one session at a time: it
//!   connects, says HELLO, and then, in turn, makes a call and says GOODBYE;
//!   subscribes and takes a progressive call to its end; starts a slow call
//!   and vanishes mid-call (no GOODBYE, no close frame); or subscribes and
//!   vanishes. Between steps it holds its session for `--hold` seconds.
//! - `slowloris`: N normal sessions call `math.add` in a loop, first alone,
//!   then while M attackers each send an HTTP request one header byte at a
//!   time (reconnecting whenever the server closes them); prints both
//!   latency distributions.
//! - `stalled`: one subscriber of `bench.events` that stops reading, N that
//!   read, and a caller of `bench.fanout` (1 KiB events) for the duration;
//!   prints what the readers received.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

#[derive(Parser)]
struct Options {
    /// The demo's WebSocket URL (loopback only).
    #[arg(long, global = true, default_value = "ws://127.0.0.1:8080/ws")]
    url: String,
    /// Seconds to run.
    #[arg(long, global = true, default_value_t = 60.0)]
    duration: f64,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Sessions that come and go, some abruptly mid-call.
    Churn {
        /// Concurrent workers, each holding one session at a time.
        #[arg(long, default_value_t = 10_000)]
        sessions: usize,
        /// Seconds a worker holds its session between steps.
        #[arg(long, default_value_t = 5.0)]
        hold: f64,
    },
    /// Slow, never-finished HTTP requests beside normal sessions.
    Slowloris {
        /// Slow connections.
        #[arg(long, default_value_t = 1_000)]
        attackers: usize,
        /// Normal sessions calling in a loop.
        #[arg(long, default_value_t = 100)]
        sessions: usize,
    },
    /// A subscriber that stops reading while events flow.
    Stalled {
        /// Subscribers that keep reading.
        #[arg(long, default_value_t = 10)]
        sessions: usize,
    },
}

#[derive(Default)]
struct Counts {
    steps: AtomicU64,
    vanished: AtomicU64,
    errors: AtomicU64,
}

#[allow(clippy::print_stdout)]
#[tokio::main]
async fn main() {
    let options = Options::parse();
    let addr = loopback(&options.url);
    let duration = Duration::from_secs_f64(options.duration.clamp(1.0, 7_200.0));
    match options.scenario {
        Scenario::Churn { sessions, hold } => {
            let counts = churn(&options.url, sessions.min(20_000), hold, duration).await;
            println!(
                "churn: {} steps, {} sessions vanished mid-call or subscribed, {} errors",
                counts.steps.load(Ordering::Relaxed),
                counts.vanished.load(Ordering::Relaxed),
                counts.errors.load(Ordering::Relaxed)
            );
        }
        Scenario::Slowloris {
            attackers,
            sessions,
        } => {
            slowloris(
                &options.url,
                addr,
                attackers.min(10_000),
                sessions,
                duration,
            )
            .await;
        }
        Scenario::Stalled { sessions } => stalled(&options.url, sessions, duration).await,
    }
}

fn loopback(url: &str) -> SocketAddr {
    let authority = url
        .strip_prefix("ws://")
        .and_then(|rest| rest.split('/').next())
        .expect("a ws:// URL");
    let addr: SocketAddr = authority.parse().expect("an IP address and port");
    assert!(addr.ip().is_loopback(), "soak only drives loopback servers");
    addr
}

async fn connect(url: &str) -> Option<Ws> {
    let mut request = url.into_client_request().ok()?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "wamp.2.json".parse().ok()?);
    let connecting = tokio_tungstenite::connect_async(request);
    Some(
        tokio::time::timeout(Duration::from_secs(10), connecting)
            .await
            .ok()?
            .ok()?
            .0,
    )
}

async fn send(ws: &mut Ws, message: Value) -> Option<()> {
    ws.send(Message::text(message.to_string())).await.ok()
}

/// The next WAMP message (10 s at most).
async fn recv(ws: &mut Ws) -> Option<Value> {
    recv_within(ws, Duration::from_secs(10)).await
}

async fn recv_within(ws: &mut Ws, within: Duration) -> Option<Value> {
    loop {
        let frame = tokio::time::timeout(within, ws.next()).await.ok()??;
        if let Message::Text(text) = frame.ok()? {
            return serde_json::from_str(&text).ok();
        }
    }
}

/// The next message of type `code`, skipping others (events).
async fn recv_type(ws: &mut Ws, code: u64) -> Option<Value> {
    loop {
        let message = recv(ws).await?;
        if message[0] == code {
            return Some(message);
        }
    }
}

async fn join(url: &str) -> Option<Ws> {
    let mut ws = connect(url).await?;
    send(
        &mut ws,
        json!([1, "realm1", {"roles": {"caller": {}, "subscriber": {}}}]),
    )
    .await?;
    recv_type(&mut ws, 2).await?;
    Some(ws)
}

async fn churn(url: &str, sessions: usize, hold: f64, duration: Duration) -> Arc<Counts> {
    let counts = Arc::new(Counts::default());
    let deadline = Instant::now() + duration;
    let hold = Duration::from_secs_f64(hold.clamp(0.0, 60.0));
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..sessions {
        let (url, counts) = (url.to_owned(), counts.clone());
        workers.spawn(async move {
            // Spread the first connections over the first hold.
            let stagger = hold.mul_f64((worker % 1000) as f64 / 1000.0);
            tokio::time::sleep(stagger).await;
            let mut step = worker;
            while Instant::now() < deadline {
                match churn_step(&url, step % 4, hold).await {
                    Some(vanished) => {
                        counts.steps.fetch_add(1, Ordering::Relaxed);
                        if vanished {
                            counts.vanished.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    None => {
                        counts.errors.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
                step += 1;
            }
        });
    }
    while workers.join_next().await.is_some() {}
    counts
}

/// One churn step; whether the session vanished without a goodbye.
async fn churn_step(url: &str, kind: usize, hold: Duration) -> Option<bool> {
    let mut ws = join(url).await?;
    tokio::time::sleep(hold).await;
    match kind {
        0 => {
            send(&mut ws, json!([48, 1, {}, "math.add", [1, 2]])).await?;
            recv_type(&mut ws, 50).await?;
            send(&mut ws, json!([6, {}, "wamp.close.close_realm"])).await?;
            recv_type(&mut ws, 6).await?;
            Some(false)
        }
        1 => {
            send(&mut ws, json!([32, 1, {}, "bench.events"])).await?;
            recv_type(&mut ws, 33).await?;
            let call = json!([48, 2, {"receive_progress": true}, "countdown.liftoff", [], {"interval": 0.01}]);
            send(&mut ws, call).await?;
            while recv_type(&mut ws, 50).await?[2].get("progress") == Some(&json!(true)) {}
            send(&mut ws, json!([6, {}, "wamp.close.close_realm"])).await?;
            recv_type(&mut ws, 6).await?;
            Some(false)
        }
        2 => {
            // A slow call, then gone: no GOODBYE, no close frame.
            send(&mut ws, json!([48, 3, {}, "app.slow", [5]])).await?;
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(ws);
            Some(true)
        }
        _ => {
            send(&mut ws, json!([32, 4, {}, "hourly_updates"])).await?;
            recv_type(&mut ws, 33).await?;
            drop(ws);
            Some(true)
        }
    }
}

/// Latency percentiles, in milliseconds, of `samples`.
fn percentiles(mut samples: Vec<Duration>) -> (f64, f64, usize) {
    samples.sort();
    let at = |per_mille: usize| {
        samples
            .get((samples.len() * per_mille / 1000).min(samples.len().saturating_sub(1)))
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    (at(500), at(990), samples.len())
}

/// Calls `math.add` in a loop on `sessions` sessions for `duration`.
async fn measure_calls(url: &str, sessions: usize, duration: Duration) -> (f64, f64, usize) {
    let deadline = Instant::now() + duration;
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..sessions {
        let url = url.to_owned();
        callers.spawn(async move {
            let mut samples = Vec::new();
            let Some(mut ws) = join(&url).await else {
                return samples;
            };
            let mut request = 0u64;
            while Instant::now() < deadline {
                request += 1;
                let started = Instant::now();
                if send(&mut ws, json!([48, request, {}, "math.add", [1, 2]]))
                    .await
                    .is_none()
                {
                    break;
                }
                if recv_type(&mut ws, 50).await.is_none() {
                    break;
                }
                samples.push(started.elapsed());
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            samples
        });
    }
    let mut all = Vec::new();
    while let Some(Ok(samples)) = callers.join_next().await {
        all.extend(samples);
    }
    percentiles(all)
}

#[allow(clippy::print_stdout)]
async fn slowloris(
    url: &str,
    addr: SocketAddr,
    attackers: usize,
    sessions: usize,
    duration: Duration,
) {
    let (p50, p99, n) = measure_calls(url, sessions, duration / 2).await;
    println!("slowloris: alone:         {n} calls, p50 {p50:.3} ms, p99 {p99:.3} ms");
    let closed = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + duration / 2 + Duration::from_secs(1);
    let mut attack = tokio::task::JoinSet::new();
    for _ in 0..attackers {
        let closed = closed.clone();
        attack.spawn(async move {
            while Instant::now() < stop {
                let Ok(mut stream) = TcpStream::connect(addr).await else {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                };
                let request = b"GET /ws HTTP/1.1\r\nHost: x\r\nX-Slow: ";
                for byte in request.iter().chain(std::iter::repeat(&b'a')) {
                    if Instant::now() >= stop || stream.write_all(&[*byte]).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                closed.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (p50, p99, n) = measure_calls(url, sessions, duration / 2).await;
    println!(
        "slowloris: with {attackers} slow: {n} calls, p50 {p50:.3} ms, p99 {p99:.3} ms \
         ({} slow connections closed by the server so far)",
        closed.load(Ordering::Relaxed)
    );
    attack.abort_all();
}

#[allow(clippy::print_stdout)]
async fn stalled(url: &str, sessions: usize, duration: Duration) {
    // The stalled subscriber: subscribes, then never reads again.
    let mut stalled = join(url).await.expect("the stalled subscriber joins");
    send(&mut stalled, json!([32, 1, {}, "bench.events"]))
        .await
        .expect("subscribe");
    recv_type(&mut stalled, 33).await.expect("subscribed");
    let received = Arc::new(AtomicU64::new(0));
    let mut readers = tokio::task::JoinSet::new();
    for _ in 0..sessions {
        let (url, received) = (url.to_owned(), received.clone());
        let mut ws = join(&url).await.expect("a reader joins");
        send(&mut ws, json!([32, 1, {}, "bench.events"]))
            .await
            .expect("subscribe");
        recv_type(&mut ws, 33).await.expect("subscribed");
        readers.spawn(async move {
            while let Some(message) = recv(&mut ws).await {
                if message[0] == 36 {
                    received.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    let mut caller = join(url).await.expect("the caller joins");
    let payload = "p".repeat(1024);
    let deadline = Instant::now() + duration;
    let (mut published, mut request) = (0u64, 0u64);
    let started = Instant::now();
    while Instant::now() < deadline {
        request += 1;
        let call =
            json!([48, request, {}, "bench.fanout", [], {"count": 1000, "payload": payload}]);
        send(&mut caller, call).await.expect("call");
        // It waits for the stalled subscriber until that one counts as slow
        // (10 s of a full queue), then no longer.
        let answer = recv_within(&mut caller, Duration::from_secs(60)).await;
        assert_eq!(answer.expect("bench.fanout returns")[0], 50);
        published += 1000;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = received.load(Ordering::Relaxed);
    println!(
        "stalled: {published} events of 1 KiB published in {:.1} s; {sessions} readers got {got} \
         of {} ({:.1} %)",
        started.elapsed().as_secs_f64(),
        published * sessions as u64,
        100.0 * got as f64 / (published * sessions as u64) as f64
    );
    readers.abort_all();
    drop(stalled);
}
