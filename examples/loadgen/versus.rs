//! `--versus`: two servers measured in turns under the same load.
//!
//! Each server gets its own workers (sessions that call, or workers that
//! open and close sessions). A coordinator gives the turn to one side at a
//! time for `--slice` seconds: that side's workers work until the turn's
//! window ends, finish what they started (calls in flight come back,
//! uncounted; a session being opened is opened) and report what they
//! counted; only then does the next turn begin, so the two servers never
//! work at once. The warm-up turns alternate A B A B; the measured ones go
//! A B B A, so a steady drift of the machine weighs on both sides alike.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serverwamp::protocol::message::ValidationRules;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout, timeout_at};

use super::{
    Caller, ConnectionStats, Histogram, OpenFailures, Options, Report, Shared, Window, Ws,
    calling_loop, check_shape, mark, open_bounded, seconds, warn,
};

/// How long the calls in flight at the end of a turn may take to come
/// back before their session counts as failed.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// What one side's workers are told to do.
#[derive(Debug, Clone, Copy)]
pub(super) enum Turn {
    /// Nothing yet: the workers are getting ready.
    Wait,
    /// Work within this window, finish what was started, report.
    Go(Window),
    /// Stop.
    Stop,
}

/// The order of the turns: `warm` turns per side alternating, then
/// `measured` (even) turns per side in A B B A order.
fn schedule(warm: usize, measured: usize) -> impl Iterator<Item = (usize, bool)> {
    let warming = (0..2 * warm).map(|i| (i % 2, false));
    let measuring = (0..2 * measured).map(|i| ([0, 1, 1, 0][i % 4], true));
    warming.chain(measuring)
}

/// How many turns of `slice` make up `total` (at least `minimum`).
fn turns_in(total: Duration, slice: Duration, minimum: usize) -> usize {
    let turns = total.as_nanos().div_ceil(slice.as_nanos().max(1));
    usize::try_from(turns).unwrap_or(usize::MAX).max(minimum)
}

/// What the turns measured.
pub(super) struct Turns {
    /// Measured time per server: its measured turns' total length.
    pub(super) measured: [Duration; 2],
    /// Measured turns per server.
    pub(super) count: usize,
    /// The second server's rate ÷ the first's, from adjacent turns (see
    /// [`adjacent_ratio`]).
    pub(super) ratio: Option<f64>,
}

/// Gives the turn to one side at a time through its sender in `turns`
/// (`--warmup` then `--duration` seconds of turns per side, `--slice`
/// each) and waits, each turn, for every one of that side's `workers` to
/// report the count it made inside the window; then tells both sides to
/// stop.
pub(super) async fn coordinate(
    options: &Options,
    turns: &[watch::Sender<Turn>; 2],
    workers: [usize; 2],
    done: &mut mpsc::UnboundedReceiver<u64>,
) -> Result<Turns, String> {
    let duration = seconds("duration", options.duration, 0.1)?;
    let warmup = seconds("warmup", options.warmup, 0.0)?;
    let slice = seconds("slice", options.slice, 0.01)?;
    let warm_turns = turns_in(warmup, slice, 0);
    // An even number, so that A B B A ends where it began.
    let count = turns_in(duration, slice, 2).next_multiple_of(2);
    let mut measured = [Duration::ZERO; 2];
    // Each measured turn's rate, in order.
    let mut rates = Vec::with_capacity(2 * count);
    for (side, counted) in schedule(warm_turns, count) {
        let start = Instant::now();
        let end = start + slice;
        let record_from = if counted { start } else { end };
        turns[side].send_replace(Turn::Go(Window { record_from, end }));
        let mut total = 0;
        for _ in 0..workers[side] {
            match done.recv().await {
                Some(made) => total += made,
                None => return Err("a worker ended in the middle of a turn".to_owned()),
            }
        }
        if counted {
            measured[side] += slice;
            let rate = total as f64 / slice.as_secs_f64();
            if options.show_turns {
                mark(&format!("turn server={} rate={rate:.0}/s", side + 1));
            }
            rates.push((side, rate));
        }
    }
    for sender in turns {
        sender.send_replace(Turn::Stop);
    }
    Ok(Turns {
        measured,
        count,
        ratio: adjacent_ratio(&rates),
    })
}

/// The next turn a worker's side is given; `None` once told to stop. A
/// worker must report every turn it is given, even one in which it has
/// nothing left to do (a lost connection), so that the coordinator never
/// waits in vain.
pub(super) async fn next_turn(turns: &mut watch::Receiver<Turn>) -> Option<Window> {
    while turns.changed().await.is_ok() {
        match *turns.borrow_and_update() {
            Turn::Wait => {}
            Turn::Stop => return None,
            Turn::Go(window) => return Some(window),
        }
    }
    None
}

/// What a calling run in turns measured.
pub(super) struct Versus {
    /// One report per server, in the order given.
    pub(super) reports: [Report; 2],
    /// The turns: how many, and the second server's calls/s ÷ the first's.
    pub(super) turns: Turns,
}

/// Runs the calls against both servers in turns.
pub(super) async fn run_versus(
    options: &Options,
    shared: [Arc<Shared>; 2],
) -> Result<Versus, String> {
    check_shape(options)?;
    let (opened_tx, mut opened_rx) = mpsc::channel(2 * options.connections);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<u64>();
    let turns = [(); 2].map(|()| watch::Sender::new(Turn::Wait));
    let mut tasks = JoinSet::new();
    for (side, shared) in shared.iter().enumerate() {
        for _ in 0..options.connections {
            let shared = Arc::clone(shared);
            let opened = opened_tx.clone();
            let turns = turns[side].subscribe();
            let done = done_tx.clone();
            tasks.spawn(async move {
                let ws = match open_bounded(&shared).await {
                    Ok(ws) => ws,
                    Err(e) => {
                        let _ = opened.send((side, Err(e))).await;
                        return None;
                    }
                };
                let _ = opened.send((side, Ok(()))).await;
                drop(opened);
                Some((side, call_in_turns(ws, &shared, turns, done).await))
            });
        }
    }
    drop((opened_tx, done_tx));

    let mut opened = [0; 2];
    let mut failed = [OpenFailures::default(), OpenFailures::default()];
    while let Some((side, result)) = opened_rx.recv().await {
        match result {
            Ok(()) => opened[side] += 1,
            Err(e) => failed[side].note(&e),
        }
    }
    if opened.contains(&0) {
        return Err("no session could be opened to one of the servers".to_owned());
    }
    let measured = coordinate(options, &turns, opened, &mut done_rx).await?;

    let mut reports = [0, 1].map(|side| Report {
        opened: opened[side],
        failed: failed[side].0,
        calls: 0,
        answered: 0,
        errors: 0,
        measured: measured.measured[side],
        latency: Histogram::new(),
    });
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Some((side, stats))) => reports[side].add(&stats),
            Ok(None) => {}
            Err(e) => {
                // The join error does not say which side's task it was.
                warn(&format!("connection task failed: {e}"));
                reports[0].errors += 1;
                reports[1].errors += 1;
            }
        }
    }
    Ok(Versus {
        reports,
        turns: measured,
    })
}

/// The second server's calls/s ÷ the first's: the median over the pairs
/// of adjacent measured turns (A B, B A, A B, …), each pair measured
/// within two slices of each other. `None` without a pair in which the
/// first server answered anything.
fn adjacent_ratio(rates: &[(usize, f64)]) -> Option<f64> {
    let mut ratios: Vec<f64> = rates
        .chunks_exact(2)
        .filter_map(|pair| {
            let (first, second) = match pair {
                [(0, a), (1, b)] | [(1, b), (0, a)] => (*a, *b),
                _ => return None,
            };
            (first > 0.0).then(|| second / first)
        })
        .collect();
    if ratios.is_empty() {
        return None;
    }
    ratios.sort_by(f64::total_cmp);
    let middle = ratios.len() / 2;
    Some(if ratios.len() % 2 == 1 {
        ratios[middle]
    } else {
        (ratios[middle - 1] + ratios[middle]) / 2.0
    })
}

/// One session's part: a turn of calls whenever its side is given one,
/// until told to stop. Once its connection has failed, it reports its
/// turns with nothing counted.
async fn call_in_turns(
    mut ws: Ws,
    shared: &Shared,
    mut turns: watch::Receiver<Turn>,
    done: mpsc::UnboundedSender<u64>,
) -> ConnectionStats {
    let mut caller = Caller::new(shared);
    let mut failed = false;
    while let Some(window) = next_turn(&mut turns).await {
        let before = caller.stats.calls;
        if !failed {
            let called = match calling_loop(&mut ws, &mut caller, shared.depth, window).await {
                Ok(()) => drain(&mut ws, &mut caller, window).await,
                Err(e) => Err(e),
            };
            if let Err(e) = called {
                warn(&format!("connection failed: {e}"));
                caller.stats.errors += 1;
                failed = true;
            }
        }
        if done.send(caller.stats.calls - before).is_err() {
            break;
        }
    }
    let _ = timeout(Duration::from_secs(2), ws.close(None)).await;
    caller.stats
}

/// Lets the calls still in flight after a turn's window come back; they
/// are checked but not counted.
async fn drain(ws: &mut Ws, caller: &mut Caller, window: Window) -> Result<(), String> {
    ws.flush().await.map_err(|e| format!("flush: {e}"))?;
    let rules = ValidationRules::default();
    let mut inbox = Vec::new();
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    while !caller.in_flight.is_empty() {
        let Ok(frame) = timeout_at(deadline, ws.next()).await else {
            return Err(format!(
                "{} calls still unanswered {} s after the turn",
                caller.in_flight.len(),
                DRAIN_TIMEOUT.as_secs()
            ));
        };
        caller.on_frame(frame, &rules, &mut inbox, window)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_turns_alternate_and_measured_ones_go_abba() {
        let turns: Vec<_> = schedule(2, 4).collect();
        let sides: Vec<usize> = turns.iter().map(|(side, _)| *side).collect();
        assert_eq!(sides, [0, 1, 0, 1, 0, 1, 1, 0, 0, 1, 1, 0]);
        assert!(turns[..4].iter().all(|(_, counted)| !counted));
        assert!(turns[4..].iter().all(|(_, counted)| *counted));
    }

    #[test]
    fn the_ratio_is_the_median_over_adjacent_turns() {
        // Pairs: 110/100, 90/100 (B A), 300/100 (a disturbed turn), 105/100.
        let rates = [
            (0, 100.0),
            (1, 110.0),
            (1, 90.0),
            (0, 100.0),
            (0, 100.0),
            (1, 300.0),
            (1, 105.0),
            (0, 100.0),
        ];
        let ratio = adjacent_ratio(&rates).expect("four pairs");
        assert!((ratio - 1.075).abs() < 1e-9, "{ratio}");
        assert_eq!(adjacent_ratio(&[(0, 0.0), (1, 5.0)]), None);
        assert_eq!(adjacent_ratio(&[]), None);
    }

    #[test]
    fn a_duration_becomes_whole_turns() {
        let slice = Duration::from_millis(250);
        assert_eq!(turns_in(Duration::from_secs(3), slice, 2), 12);
        assert_eq!(turns_in(Duration::from_millis(2100), slice, 0), 9);
        assert_eq!(turns_in(Duration::ZERO, slice, 0), 0);
        assert_eq!(turns_in(Duration::from_millis(100), slice, 2), 2);
    }
}
