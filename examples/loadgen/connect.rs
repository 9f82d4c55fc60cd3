//! `--connect-rate`: sessions opened (and closed) per second, against one
//! server or, with `--versus`, two in turns.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout};

use super::versus::{Turn, coordinate, next_turn};
use super::{
    Histogram, OPEN_TIMEOUT, Options, Shared, Window, millis, open_session, seconds, warn,
};

/// What connect-rate workers counted.
struct ChurnStats {
    /// Sessions whose WELCOME arrived inside the measurement window.
    sessions: u64,
    /// Sessions that could not be opened.
    errors: u64,
    /// Time from starting the TCP connect to WELCOME, per counted session.
    latency: Histogram,
}

impl ChurnStats {
    fn new() -> Self {
        ChurnStats {
            sessions: 0,
            errors: 0,
            latency: Histogram::new(),
        }
    }

    fn add(&mut self, other: &ChurnStats) {
        self.sessions += other.sessions;
        self.errors += other.errors;
        self.latency.merge(&other.latency);
    }
}

/// Opens and closes sessions one after another until the window ends; a
/// session being opened as it ends is still opened (and not counted).
async fn churn(shared: &Shared, window: Window, stats: &mut ChurnStats) {
    loop {
        let started = Instant::now();
        if started >= window.end {
            return;
        }
        match timeout(OPEN_TIMEOUT, open_session(shared)).await {
            Ok(Ok(mut ws)) => {
                let welcomed = Instant::now();
                // A Close frame, then the socket is dropped: no wait for
                // the server's reply.
                let _ = ws.close(None).await;
                drop(ws);
                if welcomed >= window.record_from && welcomed < window.end {
                    stats.sessions += 1;
                    let nanos = u64::try_from(welcomed.duration_since(started).as_nanos())
                        .unwrap_or(u64::MAX);
                    stats.latency.record(nanos);
                }
            }
            Ok(Err(e)) => {
                if stats.errors < 3 {
                    warn(&format!("could not open a session: {e}"));
                }
                stats.errors += 1;
            }
            Err(_) => stats.errors += 1,
        }
    }
}

/// `--connect-rate`: `--concurrency` workers open and close sessions for
/// `--warmup` + `--duration` seconds; with `--versus`, as many workers per
/// server, the two servers taking turns.
pub(super) async fn run_connect_rate(options: &Options, shared: Arc<Shared>) -> Result<(), String> {
    if let Some(versus) = &options.versus {
        let other = Arc::new(super::shared_state(options, versus)?);
        return run_in_turns(options, [shared, other], versus).await;
    }
    let duration = seconds("duration", options.duration, 0.1)?;
    let warmup = seconds("warmup", options.warmup, 0.0)?;
    let start = Instant::now();
    let window = Window {
        record_from: start + warmup,
        end: start + warmup + duration,
    };
    let mut tasks = JoinSet::new();
    for _ in 0..options.open_concurrency {
        let shared = Arc::clone(&shared);
        tasks.spawn(async move {
            let mut stats = ChurnStats::new();
            churn(&shared, window, &mut stats).await;
            stats
        });
    }
    let mut stats = ChurnStats::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(worker) => stats.add(&worker),
            Err(e) => {
                warn(&format!("worker task failed: {e}"));
                stats.errors += 1;
            }
        }
    }
    print_churn(options, &options.url, &stats, duration.as_secs_f64());
    opened_any(&stats)
}

/// Both servers in turns: one line per server, then the ratio line.
async fn run_in_turns(
    options: &Options,
    shared: [Arc<Shared>; 2],
    versus: &str,
) -> Result<(), String> {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<u64>();
    let mut tasks = JoinSet::new();
    let turns = [(); 2].map(|()| watch::Sender::new(Turn::Wait));
    for (side, shared) in shared.into_iter().enumerate() {
        for _ in 0..options.open_concurrency {
            let shared = Arc::clone(&shared);
            let mut turns = turns[side].subscribe();
            let done = done_tx.clone();
            tasks.spawn(async move {
                let mut stats = ChurnStats::new();
                while let Some(window) = next_turn(&mut turns).await {
                    let before = stats.sessions;
                    churn(&shared, window, &mut stats).await;
                    if done.send(stats.sessions - before).is_err() {
                        break;
                    }
                }
                (side, stats)
            });
        }
    }
    drop(done_tx);
    let workers = [options.open_concurrency; 2];
    let measured = coordinate(options, &turns, workers, &mut done_rx).await?;
    let mut stats = [ChurnStats::new(), ChurnStats::new()];
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((side, worker)) => stats[side].add(&worker),
            Err(e) => {
                // The join error does not say which side's task it was.
                warn(&format!("worker task failed: {e}"));
                stats[0].errors += 1;
                stats[1].errors += 1;
            }
        }
    }
    for (side, url) in [options.url.as_str(), versus].into_iter().enumerate() {
        print_churn(
            options,
            url,
            &stats[side],
            measured.measured[side].as_secs_f64(),
        );
    }
    super::print_ratio(options, versus, &measured);
    stats.iter().try_for_each(opened_any)
}

/// Fails a run in which no session was opened inside the window.
fn opened_any(stats: &ChurnStats) -> Result<(), String> {
    if stats.sessions == 0 {
        return Err("no session was opened inside the window".to_owned());
    }
    Ok(())
}

/// Prints what a connect-rate run counted against `url` over `seconds`
/// of measurement: one line, or one JSON object.
#[allow(clippy::print_stdout)] // reason: printing the results is this program's purpose
fn print_churn(options: &Options, url: &str, stats: &ChurnStats, seconds: f64) {
    let rate = stats.sessions as f64 / seconds;
    let p50 = stats.latency.percentile(5_000);
    let p99 = stats.latency.percentile(9_900);
    if options.json {
        let micros = |nanos: u64| nanos as f64 / 1_000.0;
        let object = serde_json::json!({
            "mode": "connect-rate",
            "url": url,
            "serializer": options.serializer.serialization().name(),
            "concurrency": options.open_concurrency,
            "warmup_s": options.warmup,
            "duration_s": seconds,
            "sessions": stats.sessions,
            "sessions_per_s": rate,
            "p50_us": micros(p50),
            "p99_us": micros(p99),
            "errors": stats.errors,
        });
        println!("{object}");
    } else {
        println!(
            "connect-rate url={url} concurrency={} serializer={} sessions={} sessions/s={rate:.0} \
             p50={} p99={} errors={}",
            options.open_concurrency,
            options.serializer.serialization().name(),
            stats.sessions,
            millis(p50),
            millis(p99),
            stats.errors,
        );
    }
}
