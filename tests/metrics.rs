//! Metrics through the `metrics` facade: exact counts after calls, errors,
//! sessions and an authentication failure, read from a debugging recorder.
//!
//! One test only: the recorder is global to this test binary.

#![cfg(feature = "metrics")]

mod support;

use std::collections::HashMap;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::{CompositeKey, MetricKind};
use serde::Deserialize;
use serde_json::json;
use serverwamp::Application;
use serverwamp::auth::{Authenticated, NewSession};
use serverwamp::rpc::{Params, RpcRouteSet, WampError};
use support::Client;

#[derive(Deserialize)]
struct AddParams {
    number1: f64,
    number2: f64,
}

fn app() -> Application {
    let mut math = RpcRouteSet::new();
    math.route("math.add", |Params(p): Params<AddParams>| async move {
        p.number1 + p.number2
    });
    math.route("app.fail", || async {
        Err::<(), _>(WampError::new("app.error.oops"))
    });
    let mut app = Application::new();
    app.add_routes(math);
    app.set_outbound_queue_limit(16 * 1024);
    app.realm("open").set_open_broker(true);
    app.realm("tickets")
        .set_ticket_authenticator(|_s: NewSession, ticket: String| async move {
            (ticket == "secret123").then(|| Authenticated::anonymous().authid("alice"))
        });
    app
}

/// Every metric as (name, labels) → value.
fn read(recorder: &metrics_util::debugging::Snapshotter) -> HashMap<String, DebugValue> {
    recorder
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value): (CompositeKey, _, _, DebugValue)| {
            let (kind, key) = key.into_parts();
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            let kind = match kind {
                MetricKind::Counter => "counter",
                MetricKind::Gauge => "gauge",
                MetricKind::Histogram => "histogram",
            };
            (
                format!("{kind} {}{{{}}}", key.name(), labels.join(",")),
                value,
            )
        })
        .collect()
}

fn counter(metrics: &HashMap<String, DebugValue>, key: &str) -> u64 {
    match metrics.get(&format!("counter {key}")) {
        Some(DebugValue::Counter(n)) => *n,
        None => 0,
        Some(other) => panic!("{key} is {other:?}"),
    }
}

fn gauge(metrics: &HashMap<String, DebugValue>, key: &str) -> f64 {
    match metrics.get(&format!("gauge {key}")) {
        Some(DebugValue::Gauge(n)) => n.into_inner(),
        None => 0.0,
        Some(other) => panic!("{key} is {other:?}"),
    }
}

#[tokio::test]
async fn counts_sessions_calls_errors_and_auth_failures() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this binary");
    let app = app();

    let mut client = Client::connect(&app, "wamp.2.json").await;
    client.join("realm1").await;
    let metrics = read(&snapshotter);
    assert_eq!(gauge(&metrics, "serverwamp_sessions{}"), 1.0);

    client.send(json!([48, 1, {}, "math.add", [1, 2]])).await;
    client.expect(json!([50, 1, {}, [3]])).await;
    client.send(json!([48, 2, {}, "math.add", [1]])).await;
    client
        .expect(json!([8, 48, 2, {}, "wamp.error.invalid_argument", "*"]))
        .await;
    client.send(json!([48, 3, {}, "no.such"])).await;
    client
        .expect(json!([8, 48, 3, {}, "wamp.error.no_such_procedure", "*"]))
        .await;
    client.send(json!([48, 4, {}, "app.fail"])).await;
    client.expect(json!([8, 48, 4, {}, "app.error.oops"])).await;
    client.send(json!([48, 5, {}, "no.such"])).await;
    client
        .expect(json!([8, 48, 5, {}, "wamp.error.no_such_procedure", "*"]))
        .await;

    let mut refused = Client::connect(&app, "wamp.2.json").await;
    refused
        .send(json!([1, "tickets", {"authmethods": ["ticket"], "authid": "alice"}]))
        .await;
    refused.expect(json!([4, "ticket", {}])).await;
    refused.send(json!([5, "wrong", {}])).await;
    refused
        .expect(json!([3, {}, "wamp.error.authentication_failed"]))
        .await;

    let metrics = read(&snapshotter);
    assert_eq!(counter(&metrics, "serverwamp_calls_total{}"), 5);
    assert_eq!(
        counter(
            &metrics,
            "serverwamp_call_errors_total{uri=wamp.error.no_such_procedure}"
        ),
        2
    );
    assert_eq!(
        counter(
            &metrics,
            "serverwamp_call_errors_total{uri=wamp.error.invalid_argument}"
        ),
        1
    );
    assert_eq!(
        counter(&metrics, "serverwamp_call_errors_total{uri=app.error.oops}"),
        1
    );
    assert_eq!(counter(&metrics, "serverwamp_auth_failures_total{}"), 1);
    assert_eq!(counter(&metrics, "serverwamp_events_dropped_total{}"), 0);

    client.send(json!([6, {}, "wamp.close.close_realm"])).await;
    client
        .expect(json!([6, {}, "wamp.close.goodbye_and_out"]))
        .await;
    // The session ends right after its GOODBYE is answered.
    for _ in 0..100 {
        if gauge(&read(&snapshotter), "serverwamp_sessions{}") == 0.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(gauge(&read(&snapshotter), "serverwamp_sessions{}"), 0.0);

    // Events dropped for a subscriber that reads nothing: exactly those
    // the publications reported.
    let mut subscriber = Client::connect(&app, "wamp.2.json").await;
    subscriber.join("open").await;
    subscriber.send(json!([32, 1, {}, "news"])).await;
    subscriber.expect(json!([33, 1, "<id>"])).await;
    let mut dropped = 0;
    for i in 0..2_000 {
        let report = app.publish(
            "open",
            "news",
            vec![i.into(), "x".repeat(200).into()],
            Default::default(),
        );
        dropped += report.dropped;
    }
    assert!(dropped > 0, "the queue never filled");
    let metrics = read(&snapshotter);
    assert_eq!(
        counter(&metrics, "serverwamp_events_dropped_total{}"),
        u64::try_from(dropped).expect("a count")
    );

    // Queue depth, sampled on demand: the publications above ran without
    // yielding, so the subscriber's writer has sent none of them yet and
    // its queue (16 KiB) is full but for less than one event.
    let queued = app.outbound_queues();
    assert_eq!(queued.sessions, 1);
    assert_eq!(queued.total_bytes, queued.max_bytes);
    assert!(
        queued.total_bytes > 16 * 1024 - 300 && queued.total_bytes <= 16 * 1024,
        "{queued:?}"
    );
    let metrics = read(&snapshotter);
    assert_eq!(
        gauge(&metrics, "serverwamp_outbound_queue_bytes{}"),
        queued.total_bytes as f64
    );
    assert_eq!(
        gauge(&metrics, "serverwamp_outbound_queue_max_bytes{}"),
        queued.max_bytes as f64
    );
    // The subscriber reads every event that was queued; the writer gives
    // the budget back once each is in the transport.
    for i in 0..2_000 - dropped {
        subscriber
            .expect(json!([36, "<id>", "<id>", {}, [i, "*"]]))
            .await;
    }
    for _ in 0..100 {
        if app.outbound_queues().total_bytes == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(app.outbound_queues().total_bytes, 0);
    let metrics = read(&snapshotter);
    assert_eq!(gauge(&metrics, "serverwamp_outbound_queue_bytes{}"), 0.0);
    assert_eq!(
        gauge(&metrics, "serverwamp_outbound_queue_max_bytes{}"),
        0.0
    );

    // Once it leaves, it is not counted at all.
    subscriber
        .send(json!([6, {}, "wamp.close.close_realm"]))
        .await;
    subscriber
        .expect(json!([6, {}, "wamp.close.goodbye_and_out"]))
        .await;
    for _ in 0..100 {
        if app.session_count() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(app.outbound_queues(), Default::default());
}
