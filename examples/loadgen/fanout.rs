//! `--subscribers N --events E`: fan-out from one CALL to N subscribers,
//! timed until the last one has every event.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use serverwamp::protocol::message::{
    Call, CallOptions, Payload, Subscribe, SubscribeOptions, ValidationRules,
};
use serverwamp::protocol::{Codec, Id, Message, Serialization, Value};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout, timeout_at};

use super::{
    MAX_CONNECTIONS, OPEN_TIMEOUT, OpenFailures, Options, Shared, Ws, data_of, millis,
    next_message, open_bounded, send, warn,
};

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
    send(ws, codec, &subscribe).await?;
    match next_message(ws, codec, "SUBSCRIBED").await? {
        Message::Subscribed(_) => Ok(()),
        other => Err(format!("expected SUBSCRIBED, got {}", other.message_type())),
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
    send(ws, codec, &call).await?;
    loop {
        match next_message(ws, codec, "RESULT").await? {
            Message::Result(_) => return Ok(()),
            Message::Error(error) => {
                return Err(format!("{FANOUT_PROCEDURE} failed: {}", error.error));
            }
            _ => {}
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
pub(super) async fn run_fanout(
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
    let mut failed = OpenFailures::default();
    while let Some(joined) = opening.join_next().await {
        if let Some((ws, codec)) = failed.check(joined) {
            receivers.spawn(receive_events(ws, codec, Arc::clone(&fan), stop_rx.clone()));
        }
    }
    let failed = failed.0;
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
