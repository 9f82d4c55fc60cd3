//! Transcript tests of publish & subscribe, once per serializer and batched
//! variant.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use serverwamp::protocol::{Dict, Value};
use serverwamp::pubsub::{SlowSubscriberPolicy, Teardown, Topic, TopicRouteSet};
use serverwamp::rpc::{Args, RpcRouteSet, State, WampError};
use serverwamp::{Application, Session};
use support::{Client, SUBPROTOCOLS};

#[derive(Clone, Default)]
struct Counts {
    teardowns: Arc<AtomicUsize>,
    subscribed: Arc<AtomicUsize>,
    unsubscribed: Arc<AtomicUsize>,
    reports: Arc<AtomicUsize>,
}

async fn publish(session: Session, Args((topic, message)): Args<(String, Value)>) -> u64 {
    session
        .publish(&topic, vec![message], Dict::new())
        .delivered as u64
}

async fn publish_many(session: Session, Args((topic, count)): Args<(String, u64)>) -> u64 {
    for i in 0..count {
        session.publish(&topic, vec![Value::UInt(i)], Dict::new());
    }
    count
}

fn app() -> (Application, Counts) {
    let counts = Counts::default();
    let mut topics = TopicRouteSet::new();
    topics
        .subscribe("hourly_updates", |State(c): State<Counts>| async move {
            c.subscribed.fetch_add(1, Ordering::SeqCst);
            Teardown::new(move || async move {
                c.teardowns.fetch_add(1, Ordering::SeqCst);
            })
        })
        .subscribe(
            "docs.changes",
            |session: Session, topic: Topic| async move {
                // Sent before SUBSCRIBED is out: held until after it.
                assert!(session.send_event(
                    topic.uri(),
                    vec!["Thanks for subscribing!".into()],
                    Dict::new()
                ));
            },
        )
        .subscribe_prefix("news", || async {})
        .subscribe_prefix("private", || async {
            Err::<(), _>(
                WampError::new("wamp.error.not_authorized").arg("private topics are private"),
            )
        })
        .publish(
            "reports.upload",
            |State(c): State<Counts>, Args(args): Args<Vec<Value>>| async move {
                c.reports.fetch_add(args.len(), Ordering::SeqCst);
            },
        )
        .publish("reports.bad", || async {
            Err::<(), _>(WampError::new("app.error.rejected"))
        });
    let mut routes = RpcRouteSet::new();
    routes
        .route("publish", publish)
        .route("publish_many", publish_many);
    let mut app = Application::new();
    app.add_topics(topics);
    app.add_routes(routes);
    app.set_state(counts.clone());
    app.add_unsubscribe_handler(|State(c): State<Counts>| async move {
        c.unsubscribed.fetch_add(1, Ordering::SeqCst);
    });
    app.realm("open").set_open_broker(true);
    (app, counts)
}

fn id_at(message: &Value, index: usize) -> u64 {
    message
        .as_list()
        .and_then(|l| l[index].as_u64())
        .expect("an ID")
}

#[tokio::test]
async fn welcome_announces_the_broker_features() {
    let (app, _) = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        c.send(json!([1, "realm1", {"roles": {"subscriber": {}}}]))
            .await;
        c.expect(json!([2, "<id>", {"roles": {"broker": {"features": {
            "pattern_based_subscription": true,
            "publisher_exclusion": true,
            "publisher_identification": true,
            "subscriber_blackwhite_listing": true
        }}}}]))
        .await;
    }
}

#[tokio::test]
async fn subscribers_of_a_topic_share_one_subscription_and_get_the_same_event() {
    let (app, _) = app();
    for sp in SUBPROTOCOLS {
        let mut a = Client::connect(&app, sp).await;
        let mut b = Client::connect(&app, "wamp.2.msgpack").await;
        a.join("realm1").await;
        b.join("realm1").await;
        a.send(json!([32, 1, {}, "hourly_updates"])).await;
        let sub = id_at(&a.expect(json!([33, 1, "<id>"])).await, 2);
        b.send(json!([32, 7, {}, "hourly_updates"])).await;
        assert_eq!(
            id_at(&b.expect(json!([33, 7, "<id>"])).await, 2),
            sub,
            "[{sp}] one ID per topic"
        );
        // A repeated SUBSCRIBE answers the existing subscription.
        a.send(json!([32, 2, {}, "hourly_updates"])).await;
        assert_eq!(id_at(&a.expect(json!([33, 2, "<id>"])).await, 2), sub);

        a.send(json!([
            48,
            3,
            {},
            "publish",
            ["hourly_updates", "It is noon"]
        ]))
        .await;
        let event_a = a.expect(json!([36, sub, "<id>", {}, ["It is noon"]])).await;
        a.expect(json!([50, 3, {}, [2]])).await;
        let event_b = b.expect(json!([36, sub, "<id>", {}, ["It is noon"]])).await;
        assert_eq!(
            event_a, event_b,
            "[{sp}] the same publication ID for every subscriber"
        );
    }
}

#[tokio::test]
async fn events_sent_while_subscribing_arrive_after_subscribed() {
    let (app, _) = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        c.join("realm1").await;
        c.send(json!([32, 1, {}, "docs.changes"])).await;
        let sub = id_at(&c.expect(json!([33, 1, "<id>"])).await, 2);
        c.expect(json!([36, sub, "<id>", {}, ["Thanks for subscribing!"]]))
            .await;
    }
}

#[tokio::test]
async fn events_arrive_in_publish_order() {
    let (app, _) = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        c.join("realm1").await;
        c.send(json!([32, 1, {}, "hourly_updates"])).await;
        let sub = id_at(&c.expect(json!([33, 1, "<id>"])).await, 2);
        c.send(json!([48, 2, {}, "publish_many", ["hourly_updates", 100]]))
            .await;
        for i in 0..100 {
            c.expect(json!([36, sub, "<id>", {}, [i]])).await;
        }
        c.expect(json!([50, 2, {}, [100]])).await;
    }
}

#[tokio::test]
async fn unsubscribe_runs_the_teardown_and_stops_events() {
    let (app, counts) = app();
    for sp in SUBPROTOCOLS {
        let before = counts.teardowns.load(Ordering::SeqCst);
        let unsubscribed = counts.unsubscribed.load(Ordering::SeqCst);
        let mut c = Client::connect(&app, sp).await;
        c.join("realm1").await;
        c.send(json!([32, 1, {}, "hourly_updates"])).await;
        let sub = id_at(&c.expect(json!([33, 1, "<id>"])).await, 2);
        c.send(json!([34, 2, sub])).await;
        c.expect(json!([35, 2])).await;
        assert_eq!(
            counts.teardowns.load(Ordering::SeqCst),
            before + 1,
            "[{sp}]"
        );
        assert_eq!(
            counts.unsubscribed.load(Ordering::SeqCst),
            unsubscribed + 1,
            "[{sp}]"
        );
        c.send(json!([34, 3, sub])).await;
        c.expect(json!([
            8,
            34,
            3,
            {},
            "wamp.error.no_such_subscription",
            "*"
        ]))
        .await;
        c.send(json!([
            48,
            4,
            {},
            "publish",
            ["hourly_updates", "nobody hears this"]
        ]))
        .await;
        c.expect(json!([50, 4, {}, [0]])).await;
    }
}

#[tokio::test]
async fn session_end_runs_teardowns_and_unsubscribe_handlers() {
    let (app, counts) = app();
    for sp in SUBPROTOCOLS {
        let before = counts.teardowns.load(Ordering::SeqCst);
        let mut c = Client::connect(&app, sp).await;
        c.join("realm1").await;
        c.send(json!([32, 1, {}, "hourly_updates"])).await;
        c.expect(json!([33, 1, "<id>"])).await;
        c.send(json!([6, {}, "wamp.close.normal"])).await;
        c.expect(json!([6, {}, "wamp.close.goodbye_and_out"])).await;
        assert_eq!(
            counts.teardowns.load(Ordering::SeqCst),
            before + 1,
            "[{sp}] GOODBYE"
        );
        c.join("realm1").await;
        c.send(json!([32, 1, {}, "hourly_updates"])).await;
        c.expect(json!([33, 1, "<id>"])).await;
        drop(c);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            counts.teardowns.load(Ordering::SeqCst),
            before + 2,
            "[{sp}] disconnect"
        );
    }
    assert_eq!(
        counts.subscribed.load(Ordering::SeqCst),
        counts.unsubscribed.load(Ordering::SeqCst)
    );
    assert_eq!(
        app.publish("realm1", "hourly_updates", vec![], Dict::new())
            .delivered,
        0
    );
}

#[tokio::test]
async fn topics_without_a_route_or_refused_by_theirs_answer_not_authorized() {
    let (app, _) = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        c.join("realm1").await;
        c.send(json!([32, 1, {}, "private.diary"])).await;
        c.expect(json!([
            8,
            32,
            1,
            {},
            "wamp.error.not_authorized",
            ["private topics are private"]
        ]))
        .await;
        c.send(json!([32, 2, {}, "unrouted.topic"])).await;
        c.expect(json!([
            8,
            32,
            2,
            {},
            "wamp.error.not_authorized",
            ["no subscriptions to \"unrouted.topic\" are served"]
        ]))
        .await;
        // The refused subscription left nothing behind.
        c.send(json!([48, 3, {}, "publish", ["private.diary", "x"]]))
            .await;
        c.expect(json!([50, 3, {}, [0]])).await;
    }
}

#[tokio::test]
async fn pattern_subscriptions_get_the_concrete_topic() {
    let (app, _) = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        c.join("realm1").await;
        c.send(json!([32, 1, {"match": "prefix"}, "news"])).await;
        let prefix = id_at(&c.expect(json!([33, 1, "<id>"])).await, 2);
        c.send(json!([32, 2, {"match": "wildcard"}, "news..scores"]))
            .await;
        let wildcard = id_at(&c.expect(json!([33, 2, "<id>"])).await, 2);
        c.send(json!([32, 3, {}, "news.sport.scores"])).await;
        let exact = id_at(&c.expect(json!([33, 3, "<id>"])).await, 2);
        assert!(prefix != wildcard && wildcard != exact && prefix != exact);
        c.send(json!([48, 4, {}, "publish", ["news.sport.scores", "3-1"]]))
            .await;
        // One event per matching subscription (spec); the order among them
        // is not fixed.
        let mut seen = Vec::new();
        for _ in 0..3 {
            let event = c.expect(json!([36, "<id>", "<id>", "*", ["3-1"]])).await;
            let list = event.as_list().unwrap();
            let details = list[3].as_dict().unwrap();
            let topic = details
                .get("topic")
                .and_then(Value::as_str)
                .map(str::to_owned);
            seen.push((list[1].as_u64().unwrap(), topic));
        }
        seen.sort();
        let mut expected = vec![
            (prefix, Some("news.sport.scores".to_owned())),
            (wildcard, Some("news.sport.scores".to_owned())),
            (exact, None),
        ];
        expected.sort();
        assert_eq!(seen, expected, "[{sp}]");
        c.expect(json!([50, 4, {}, [3]])).await;
    }
}

#[tokio::test]
async fn client_publications_go_to_their_handlers() {
    let (app, counts) = app();
    for sp in SUBPROTOCOLS {
        let before = counts.reports.load(Ordering::SeqCst);
        let mut c = Client::connect(&app, sp).await;
        c.join("realm1").await;
        c.send(json!([16, 1, {"acknowledge": true}, "reports.upload", [1, 2, 3]]))
            .await;
        c.expect(json!([17, 1, "<id>"])).await;
        c.send(json!([16, 2, {}, "reports.upload", [4]])).await;
        c.send(json!([16, 3, {"acknowledge": true}, "reports.bad"]))
            .await;
        c.expect(json!([8, 16, 3, {}, "app.error.rejected"])).await;
        c.send(json!([16, 4, {"acknowledge": true}, "no.handler"]))
            .await;
        c.expect(json!([8, 16, 4, {}, "wamp.error.not_authorized", "*"]))
            .await;
        // Unacknowledged and refused: nothing comes back.
        c.send(json!([16, 5, {}, "no.handler"])).await;
        c.send(json!([48, 6, {}, "publish", ["x", 1]])).await;
        c.expect(json!([50, 6, {}, [0]])).await;
        assert_eq!(counts.reports.load(Ordering::SeqCst), before + 4, "[{sp}]");
    }
}

#[tokio::test]
async fn an_open_broker_forwards_publications_with_exclusion_and_listing() {
    let (app, _) = app();
    for sp in SUBPROTOCOLS {
        let mut a = Client::connect(&app, sp).await;
        let mut b = Client::connect(&app, sp).await;
        let a_id = a.join("open").await;
        let b_id = b.join("open").await;
        a.send(json!([32, 1, {}, "chat"])).await;
        let sub = id_at(&a.expect(json!([33, 1, "<id>"])).await, 2);
        b.send(json!([32, 1, {}, "chat"])).await;
        b.expect(json!([33, 1, sub])).await;

        // Publisher exclusion is on by default.
        a.send(json!([16, 2, {"acknowledge": true}, "chat", ["hi"]]))
            .await;
        let published = a.expect(json!([17, 2, "<id>"])).await;
        let event = b.expect(json!([36, sub, "<id>", {}, ["hi"]])).await;
        assert_eq!(
            id_at(&published, 2),
            id_at(&event, 2),
            "[{sp}] PUBLISHED names the publication"
        );

        // exclude_me: false, disclose_me: true.
        a.send(json!([16, 3, {"exclude_me": false, "disclose_me": true}, "chat", ["both"]]))
            .await;
        for c in [&mut a, &mut b] {
            c.expect(json!([36, sub, "<id>", {"publisher": a_id, "publisher_authrole": "anonymous"}, ["both"]]))
                .await;
        }
        // Blacklisting and whitelisting by session.
        a.send(json!([16, 4, {"exclude_me": false, "exclude": [b_id]}, "chat", ["only a"]]))
            .await;
        a.expect(json!([36, sub, "<id>", {}, ["only a"]])).await;
        a.send(json!([16, 5, {"exclude_me": false, "eligible": [b_id]}, "chat", ["only b"]]))
            .await;
        b.expect(json!([36, sub, "<id>", {}, ["only b"]])).await;
        a.send(json!([16, 6, {"exclude_me": false, "eligible_authrole": ["admin"]}, "chat", ["nobody"]]))
            .await;
        a.send(
            json!([16, 7, {"exclude_me": false, "exclude_authrole": ["admin"]}, "chat", ["all"]]),
        )
        .await;
        a.expect(json!([36, sub, "<id>", {}, ["all"]])).await;
        b.expect(json!([36, sub, "<id>", {}, ["all"]])).await;
        // Any topic may be subscribed in an open broker.
        b.send(json!([32, 8, {}, "anything.goes"])).await;
        b.expect(json!([33, 8, "<id>"])).await;
    }
}

#[tokio::test]
async fn a_slow_subscriber_loses_events_not_the_publisher_its_pace() {
    let (app, _) = app();
    let mut slow = Client::connect(&app, "wamp.2.json").await;
    slow.join("realm1").await;
    slow.send(json!([32, 1, {}, "hourly_updates"])).await;
    slow.expect(json!([33, 1, "<id>"])).await;
    // The client reads nothing while 20,000 events are published.
    let big = "x".repeat(1024);
    let started = std::time::Instant::now();
    let mut dropped = 0;
    for _ in 0..20_000 {
        dropped += app
            .publish(
                "realm1",
                "hourly_updates",
                vec![big.as_str().into()],
                Dict::new(),
            )
            .dropped;
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "publishing never waits for a subscriber"
    );
    assert!(dropped > 0, "a bounded queue drops what does not fit");
    let session = app.sessions().pop().expect("the session");
    assert_eq!(session.dropped_events(), dropped as u64);
}

#[tokio::test]
async fn a_burst_waits_for_a_reading_subscriber_and_arrives_whole() {
    let (app, _) = app();
    for sp in SUBPROTOCOLS {
        let mut reader = Client::connect(&app, sp).await;
        reader.join("realm1").await;
        reader.send(json!([32, 1, {}, "hourly_updates"])).await;
        let subscribed = reader.expect(json!([33, 1, "<id>"])).await;
        let sub = subscribed.as_list().unwrap()[2].as_u64().unwrap();
        // 4,000 events of 1 KiB: four times the outbound queue.
        let big = "x".repeat(1024);
        let publisher = {
            let app = app.clone();
            let big = big.clone();
            tokio::spawn(async move {
                let mut delivered = 0;
                for i in 0..4_000u64 {
                    let args = vec![Value::UInt(i), big.as_str().into()];
                    let report = app
                        .publish_wait("realm1", "hourly_updates", args, Dict::new())
                        .await;
                    assert_eq!(report.dropped, 0);
                    delivered += report.delivered;
                }
                delivered
            })
        };
        for i in 0..4_000u64 {
            reader
                .expect(json!([36, sub, "<id>", {}, [i, big.as_str()]]))
                .await;
        }
        assert_eq!(publisher.await.unwrap(), 4_000, "[{sp}]");
        let session = app.sessions().pop().expect("the session");
        assert_eq!(session.dropped_events(), 0);
        reader.send(json!([6, {}, "wamp.close.close_realm"])).await;
        reader
            .expect(json!([6, {}, "wamp.close.goodbye_and_out"]))
            .await;
    }
}

#[tokio::test]
async fn the_outbound_queue_is_bounded_in_bytes() {
    let (mut app, _) = app();
    app.set_outbound_queue_limit(64 * 1024);
    let mut slow = Client::connect(&app, "wamp.2.msgpack").await;
    slow.join("realm1").await;
    slow.send(json!([32, 1, {}, "hourly_updates"])).await;
    slow.expect(json!([33, 1, "<id>"])).await;
    // The client reads nothing: its pipe (256 KiB), the WebSocket buffer and
    // the 64 KiB queue fill, then events are dropped. 1,000 events of 1 KiB
    // are far more than all of those together.
    let big = "x".repeat(1024);
    let mut report = (0, 0);
    for _ in 0..1_000 {
        let r = app.publish(
            "realm1",
            "hourly_updates",
            vec![big.as_str().into()],
            Dict::new(),
        );
        report = (report.0 + r.delivered, report.1 + r.dropped);
    }
    let (delivered, dropped) = report;
    assert_eq!(delivered + dropped, 1_000);
    assert!(dropped > 0, "a bounded queue drops what does not fit");
    assert!(
        delivered < 400,
        "at most the pipe and 64 KiB are queued: {delivered} delivered"
    );
    // The client reads again: it gets exactly the events that were queued.
    let mut received = 0;
    while received < delivered {
        slow.expect(json!([36, "<id>", "<id>", {}, [big.as_str()]]))
            .await;
        received += 1;
    }
    assert_eq!(
        app.sessions().pop().unwrap().dropped_events(),
        dropped as u64
    );
}

#[tokio::test]
async fn a_full_queue_is_slow_only_past_the_timeout_then_the_policy_applies() {
    let (mut app, _) = app();
    app.set_slow_subscriber_policy(SlowSubscriberPolicy::CloseSession)
        .set_slow_subscriber_timeout(Duration::from_millis(300));
    let mut slow = Client::connect(&app, "wamp.2.json").await;
    slow.join("realm1").await;
    slow.send(json!([32, 1, {}, "hourly_updates"])).await;
    slow.expect(json!([33, 1, "<id>"])).await;
    let big = "x".repeat(1024);
    let publish = |app: &Application| {
        app.publish(
            "realm1",
            "hourly_updates",
            vec![big.as_str().into()],
            Dict::new(),
        )
    };
    // A burst that overflows the queue drops events but, within the
    // timeout, is not slowness: the session stays open.
    let mut dropped = 0;
    for _ in 0..3_000 {
        dropped += publish(&app).dropped;
    }
    assert!(dropped > 0);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(app.session_count(), 1, "a burst does not close a session");
    // The writer has moved what the pipe takes; fill the queue up again.
    while publish(&app).dropped == 0 {}
    // A waiting publisher waits for the timeout, then the policy closes the
    // session that still reads nothing.
    let started = std::time::Instant::now();
    let report = app
        .publish_wait(
            "realm1",
            "hourly_updates",
            vec![big.as_str().into()],
            Dict::new(),
        )
        .await;
    assert_eq!((report.delivered, report.dropped), (0, 1));
    assert!(started.elapsed() < Duration::from_secs(2));
    // The client reads again: the queued events, then the GOODBYE that
    // says why, then the end of the connection.
    let mut events = 0;
    loop {
        let message = slow.recv().await.expect("the GOODBYE comes before the end");
        let list = message.as_list().unwrap();
        if list[0] == Value::UInt(36) {
            events += 1;
            continue;
        }
        assert!(
            support::matches(
                &json!([6, {"message": "the client did not read its events fast enough"}, "wamp.close.killed"]),
                &message
            ),
            "{message}"
        );
        break;
    }
    assert!(events > 0);
    slow.expect_closed().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(app.session_count(), 0);
}

/// The Python serverwamp library's `UpdatesWorker`: an application-wide
/// subscribe handler that admits subscriptions to topics without a route,
/// with a teardown for when they end.
#[tokio::test]
async fn an_application_subscribe_handler_admits_without_a_topic_route() {
    #[derive(Clone, Default)]
    struct Worker(Arc<std::sync::Mutex<Vec<(String, u64)>>>);
    let worker = Worker::default();
    let mut app = Application::new();
    app.set_state(worker.clone());
    app.add_subscribe_handler(
        |topic: Topic, session: Session, State(w): State<Worker>| async move {
            if topic.uri().starts_with("private.") {
                return Err(WampError::new("wamp.error.not_authorized"));
            }
            let entry = (topic.uri().to_owned(), session.id().get());
            w.0.lock().unwrap().push(entry.clone());
            Ok(Teardown::new(move || async move {
                w.0.lock().unwrap().retain(|e| *e != entry);
            }))
        },
    );
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        let id = c.join("realm1").await;
        c.send(json!([32, 1, {}, "hourly_updates"])).await;
        let sub = id_at(&c.expect(json!([33, 1, "<id>"])).await, 2);
        assert_eq!(
            *worker.0.lock().unwrap(),
            vec![("hourly_updates".to_owned(), id)]
        );
        // Admitted subscriptions get events like routed ones.
        let report = app.publish("realm1", "hourly_updates", vec!["12".into()], Dict::new());
        assert_eq!(report.delivered, 1);
        c.expect(json!([36, sub, "<id>", {}, ["12"]])).await;
        // The handler refuses what it refuses.
        c.send(json!([32, 2, {}, "private.plans"])).await;
        c.expect(json!([8, 32, 2, {}, "wamp.error.not_authorized"]))
            .await;
        // Unsubscribing runs the teardown.
        c.send(json!([34, 3, sub])).await;
        c.expect(json!([35, 3])).await;
        assert!(worker.0.lock().unwrap().is_empty(), "[{sp}] teardown ran");
    }
}
