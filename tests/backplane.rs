//! Several nodes as one cluster, on a real NATS server and a real Redis
//! server (`nats-server` and `redis-server` on the PATH: `.ci/run` installs
//! them; every test fails, never skips, without them).
//!
//! Each node is an `Application` in this process with its own backplane
//! connection; clients talk to each node through its WebSocket service.

#![cfg(all(feature = "nats", feature = "redis"))]

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use serverwamp::Application;
use serverwamp::backplane::{NatsBackplane, RedisBackplane};
use serverwamp::protocol::{Dict, Value};
use support::Client;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Nats,
    Redis,
}

/// A backplane server process on a port of 127.0.0.1, killed when dropped.
struct Server {
    kind: Kind,
    port: u16,
    child: Child,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Server {
    async fn start(kind: Kind) -> Server {
        Server::start_on(kind, free_port()).await
    }

    async fn start_on(kind: Kind, port: u16) -> Server {
        let mut command = match kind {
            Kind::Nats => {
                let mut c = Command::new("nats-server");
                c.args(["-a", "127.0.0.1", "-p", &port.to_string()]);
                c
            }
            Kind::Redis => {
                let mut c = Command::new("redis-server");
                c.args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ]);
                c
            }
        };
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{kind:?} server cannot start (is it installed?): {e}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "{kind:?} server never listened");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Server { kind, port, child }
    }

    /// Kills the server (as a crash would).
    fn kill(mut self) -> (Kind, u16) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        (self.kind, self.port)
    }

    /// A node of the cluster: an application with an open-broker realm
    /// `r1`, on this backplane.
    async fn node(&self) -> Application {
        let mut app = Application::new();
        app.realm("r1").set_open_broker(true);
        match self.kind {
            Kind::Nats => {
                let url = format!("nats://127.0.0.1:{}", self.port);
                app.set_backplane(NatsBackplane::connect(&url).await.expect("NATS connects"))
            }
            Kind::Redis => {
                let url = format!("redis://127.0.0.1:{}/", self.port);
                app.set_backplane(RedisBackplane::connect(&url).await.expect("Redis connects"))
            }
        };
        app
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Subscribes and returns the subscription ID.
async fn subscribe(
    client: &mut Client,
    request: u64,
    topic: &str,
    options: serde_json::Value,
) -> u64 {
    client.send(json!([32, request, options, topic])).await;
    let subscribed = client.expect(json!([33, request, "<id>"])).await;
    subscribed
        .as_list()
        .and_then(|l| l[2].as_u64())
        .expect("an ID")
}

async fn joined(app: &Application) -> Client {
    let mut client = Client::connect(app, "wamp.2.json").await;
    client.join("r1").await;
    client
}

fn publication_of(event: &Value) -> u64 {
    event
        .as_list()
        .and_then(|l| l[2].as_u64())
        .expect("a publication ID")
}

async fn publications_reach_every_node(kind: Kind) {
    let server = Server::start(kind).await;
    let (a, b, c) = (
        server.node().await,
        server.node().await,
        server.node().await,
    );
    let mut on_b = joined(&b).await;
    let mut on_c = joined(&c).await;
    let exact = subscribe(&mut on_b, 1, "news.sports", json!({})).await;
    let prefix = subscribe(&mut on_c, 1, "news", json!({"match": "prefix"})).await;
    let wildcard = subscribe(&mut on_c, 2, "news..scores", json!({"match": "wildcard"})).await;

    // From the application on node A.
    let report = a.publish("r1", "news.sports", vec!["goal".into()], Dict::new());
    assert_eq!(report.delivered, 0, "node A has no subscriber of its own");
    let on_b_event = on_b.expect(json!([36, exact, "<id>", {}, ["goal"]])).await;
    let on_c_event = on_c
        .expect(json!([36, prefix, "<id>", {"topic": "news.sports"}, ["goal"]]))
        .await;
    let id = report.publication.get();
    assert_eq!(
        publication_of(&on_b_event),
        id,
        "one publication ID on every node"
    );
    assert_eq!(publication_of(&on_c_event), id);

    // A pattern subscription gets the concrete topic; one EVENT per
    // subscription, never two for one node.
    a.publish(
        "r1",
        "news.x.scores",
        vec![],
        Dict::from_iter([("n".to_owned(), Value::UInt(3))]),
    );
    let mut got = Vec::new();
    for _ in 0..2 {
        let event = on_c.recv().await.expect("an event");
        got.push(event.as_list().expect("a list")[1].as_u64().expect("an ID"));
    }
    got.sort_unstable();
    let mut want = vec![prefix, wildcard];
    want.sort_unstable();
    assert_eq!(got, want);

    // A client's publication in an open-broker realm, with the publisher
    // disclosed and one authrole excluded on every node.
    let mut publisher = joined(&a).await;
    publisher
        .send(json!([16, 7, {"acknowledge": true, "disclose_me": true}, "news.sports", ["hello"], {"k": 1}]))
        .await;
    let published = publisher.expect(json!([17, 7, "<id>"])).await;
    let event = on_b
        .expect(json!([36, exact, "<id>", {"publisher": "<id>", "publisher_authrole": "anonymous"}, ["hello"], {"k": 1}]))
        .await;
    assert_eq!(
        publication_of(&event),
        published
            .as_list()
            .and_then(|l| l[2].as_u64())
            .expect("an ID"),
        "PUBLISHED names the ID subscribers on other nodes see"
    );
    on_c
        .expect(json!([36, prefix, "<id>", {"publisher": "<id>", "topic": "news.sports"}, ["hello"], {"k": 1}]))
        .await;
    publisher
        .send(json!([16, 8, {"exclude_authrole": ["anonymous"]}, "news.sports", ["nobody"]]))
        .await;
    a.publish("r1", "news.sports", vec!["after".into()], Dict::new());
    // The excluded event never arrives: the next one does.
    on_b.expect(json!([36, exact, "<id>", {}, ["after"]])).await;
    on_c.expect(json!([36, prefix, "<id>", {"topic": "news.sports"}, ["after"]]))
        .await;

    // Order is kept, and every event arrives.
    for i in 0..2_000u64 {
        a.publish_wait("r1", "news.sports", vec![Value::UInt(i)], Dict::new())
            .await;
    }
    for i in 0..2_000u64 {
        on_b.expect(json!([36, exact, "<id>", {}, [i]])).await;
        on_c.expect(json!([36, prefix, "<id>", {"topic": "news.sports"}, [i]]))
            .await;
    }

    // A burst larger than the backplane's queue crosses whole when the
    // publisher waits for room.
    for i in 0..70_000u64 {
        a.publish_wait("r1", "news.sports", vec![Value::UInt(i)], Dict::new())
            .await;
    }
    for i in 0..70_000u64 {
        let event = on_b.recv().await.expect("every event of the burst");
        assert_eq!(
            event.as_list().expect("a list")[4],
            Value::List(vec![Value::UInt(i)])
        );
        let event = on_c.recv().await.expect("every event of the burst");
        assert_eq!(
            event.as_list().expect("a list")[4],
            Value::List(vec![Value::UInt(i)])
        );
    }

    // After UNSUBSCRIBE nothing more comes; other nodes' subscriptions
    // still get theirs.
    on_b.send(json!([34, 9, exact])).await;
    on_b.expect(json!([35, 9])).await;
    a.publish("r1", "news.sports", vec!["late".into()], Dict::new());
    on_c.expect(json!([36, prefix, "<id>", {"topic": "news.sports"}, ["late"]]))
        .await;
    assert!(
        tokio::time::timeout(Duration::from_millis(300), on_b.recv())
            .await
            .is_err(),
        "no event after UNSUBSCRIBED"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_publications_reach_every_node() {
    publications_reach_every_node(Kind::Nats).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_publications_reach_every_node() {
    publications_reach_every_node(Kind::Redis).await;
}

async fn backplane_down_and_back(kind: Kind) {
    let server = Server::start(kind).await;
    let (a, b) = (server.node().await, server.node().await);
    let mut local = joined(&a).await;
    let mut remote = joined(&b).await;
    let local_sub = subscribe(&mut local, 1, "t", json!({})).await;
    let remote_sub = subscribe(&mut remote, 1, "t", json!({})).await;
    a.publish("r1", "t", vec!["before".into()], Dict::new());
    local
        .expect(json!([36, local_sub, "<id>", {}, ["before"]]))
        .await;
    remote
        .expect(json!([36, remote_sub, "<id>", {}, ["before"]]))
        .await;

    let (kind, port) = server.kill();
    // Local delivery goes on without the backplane.
    for i in 0..100u64 {
        let report = a.publish("r1", "t", vec![Value::UInt(i)], Dict::new());
        assert_eq!(report.delivered, 1);
        local.expect(json!([36, local_sub, "<id>", {}, [i]])).await;
    }

    // The backplane back on the same port: cross-node delivery resumes by
    // itself (the nodes reconnect and listen again).
    let _server = Server::start_on(kind, port).await;
    // Publications made while it was down may still arrive (those the
    // backplane client held), in order; then the probes do.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut n = 0u64;
    let mut held = None;
    'resumed: loop {
        n += 1;
        a.publish(
            "r1",
            "t",
            vec![Value::Str(format!("probe {n}"))],
            Dict::new(),
        );
        local
            .recv()
            .await
            .expect("the local subscriber gets every probe");
        while let Ok(Some(event)) =
            tokio::time::timeout(Duration::from_millis(200), remote.recv()).await
        {
            let first = event.as_list().expect("a list")[4].as_list().expect("args")[0].clone();
            match first {
                Value::UInt(i) => {
                    assert!(held.is_none_or(|h| h < i), "held publications in order");
                    held = Some(i);
                }
                Value::Str(probe) if probe.starts_with("probe") => break 'resumed,
                other => panic!("unexpected event {other}"),
            }
        }
        assert!(
            Instant::now() < deadline,
            "cross-node delivery never resumed"
        );
    }
    // Drain probes that were in flight, then check the flow is whole again.
    while tokio::time::timeout(Duration::from_millis(300), remote.recv())
        .await
        .is_ok()
    {}
    for i in 0..100u64 {
        a.publish_wait("r1", "t", vec![Value::UInt(i)], Dict::new())
            .await;
    }
    for i in 0..100u64 {
        remote
            .expect(json!([36, remote_sub, "<id>", {}, [i]]))
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_down_then_back() {
    backplane_down_and_back(Kind::Nats).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_then_back() {
    backplane_down_and_back(Kind::Redis).await;
}

async fn sessions_are_counted_across_nodes(kind: Kind) {
    let server = Server::start(kind).await;
    let (a, b) = (server.node().await, server.node().await);
    let _a1 = joined(&a).await;
    let _a2 = joined(&a).await;
    let _b1 = joined(&b).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.cluster_session_count("r1") != 3 || b.cluster_session_count("r1") != 3 {
        assert!(
            Instant::now() < deadline,
            "counts stayed {} / {}",
            a.cluster_session_count("r1"),
            b.cluster_session_count("r1")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(a.cluster_node_count(), 2);
    assert_eq!(a.cluster_session_count("other"), 0);
    // A node that leaves stops counting.
    drop((_b1, b));
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.cluster_session_count("r1") != 2 || a.cluster_node_count() != 1 {
        assert!(Instant::now() < deadline, "the gone node still counts");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_sessions_are_counted_across_nodes() {
    sessions_are_counted_across_nodes(Kind::Nats).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_sessions_are_counted_across_nodes() {
    sessions_are_counted_across_nodes(Kind::Redis).await;
}

/// Calls across nodes: node S shares procedures, node C has none of its
/// own; C's clients call them as if they were local.
mod calls {
    use super::*;
    use serverwamp::Session;
    use serverwamp::rpc::{Params, Progress, RpcResult, RpcRouteSet};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(serde::Deserialize)]
    struct Pair {
        a: i64,
        b: i64,
    }

    /// Counts handlers dropped before they finished (canceled).
    #[derive(Clone, Default)]
    struct Dropped(Arc<AtomicUsize>);

    struct CountOnDrop(Dropped, bool);

    impl Drop for CountOnDrop {
        fn drop(&mut self) {
            if !self.1 {
                (self.0).0.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    fn serving(app: &mut Application, dropped: &Dropped) {
        let mut routes = RpcRouteSet::new();
        routes
            .route(
                "report.add",
                |Params(p): Params<Pair>| async move { p.a + p.b },
            )
            .route("report.whoami", |session: Session| async move {
                RpcResult::new()
                    .kwarg("session", session.id().get())
                    .kwarg("realm", session.realm())
                    .kwarg("authrole", session.authrole())
            })
            .route("report.countdown", |progress: Progress| async move {
                for left in [3u64, 2, 1] {
                    progress.send(RpcResult::new().arg(left)).await;
                }
                "liftoff"
            })
            .route("report.fail", || async {
                Err::<(), _>(serverwamp::WampError::new("report.error.nope").arg("no"))
            })
            .route("report.hidden", || async { 1 });
        let dropped = dropped.clone();
        routes.route("report.slow", move || {
            let dropped = dropped.clone();
            async move {
                let mut guard = CountOnDrop(dropped, false);
                tokio::time::sleep(Duration::from_secs(30)).await;
                guard.1 = true;
                "slept"
            }
        });
        app.add_routes(routes);
        for p in [
            "report.add",
            "report.whoami",
            "report.countdown",
            "report.fail",
            "report.slow",
        ] {
            app.share_procedure(p);
        }
    }

    /// Calls until the caller's node has heard the procedure is shared.
    async fn call_when_known(
        client: &mut Client,
        request: u64,
        procedure: &str,
        args: serde_json::Value,
    ) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            client.send(json!([48, request, {}, procedure, args])).await;
            let answer = client.recv().await.expect("an answer");
            let list = answer.as_list().expect("a list");
            let unknown = list[0].as_u64() == Some(8)
                && list[4].as_str() == Some("wamp.error.no_such_procedure");
            if !unknown {
                return answer;
            }
            assert!(Instant::now() < deadline, "{procedure} never became known");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn calls_cross_nodes(kind: Kind) {
        let server = Server::start(kind).await;
        let dropped = Dropped::default();
        let mut s = server.node().await;
        serving(&mut s, &dropped);
        // Services are made after the configuration, as always.
        let s_engine = serverwamp::Engine::from(&s);
        let c = server.node().await;
        let mut caller = Client::connect(&c, "wamp.2.json").await;
        let caller_id = caller.join("r1").await;
        let answer = call_when_known(&mut caller, 1, "report.add", json!([2, 40])).await;
        assert!(
            support::matches(&json!([50, 1, {}, [42]]), &answer),
            "got {answer}"
        );

        // Keyword arguments, the caller's identity on the serving node.
        caller
            .send(json!([48, 2, {}, "report.add", [], {"a": 1, "b": 2}]))
            .await;
        caller.expect(json!([50, 2, {}, [3]])).await;
        caller.send(json!([48, 3, {}, "report.whoami"])).await;
        caller
            .expect(json!([50, 3, {}, [], {"session": caller_id, "realm": "r1", "authrole": "anonymous"}]))
            .await;

        // Progressive results reach callers that ask, and only them.
        caller
            .send(json!([48, 4, {"receive_progress": true}, "report.countdown"]))
            .await;
        for left in [3, 2, 1] {
            caller
                .expect(json!([50, 4, {"progress": true}, [left]]))
                .await;
        }
        caller.expect(json!([50, 4, {}, ["liftoff"]])).await;
        caller.send(json!([48, 5, {}, "report.countdown"])).await;
        caller.expect(json!([50, 5, {}, ["liftoff"]])).await;

        // Errors come back as they were raised.
        caller.send(json!([48, 6, {}, "report.fail"])).await;
        caller
            .expect(json!([8, 48, 6, {}, "report.error.nope", ["no"]]))
            .await;
        caller
            .send(json!([48, 7, {}, "report.add", ["x", 1]]))
            .await;
        caller
            .expect(json!([8, 48, 7, {}, "wamp.error.invalid_argument", "*"]))
            .await;
        // A route S has but does not share is not callable from C.
        caller.send(json!([48, 8, {}, "report.hidden"])).await;
        caller
            .expect(json!([8, 48, 8, {}, "wamp.error.no_such_procedure", "*"]))
            .await;

        // CANCEL stops the handler on the serving node.
        caller.send(json!([48, 9, {}, "report.slow"])).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        caller.send(json!([49, 9, {"mode": "kill"}])).await;
        caller
            .expect(json!([8, 48, 9, {}, "wamp.error.canceled"]))
            .await;
        let deadline = Instant::now() + Duration::from_secs(5);
        while dropped.0.load(Ordering::SeqCst) != 1 {
            assert!(
                Instant::now() < deadline,
                "the serving node's handler was not stopped"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // The caller's timeout too.
        caller
            .send(json!([48, 10, {"timeout": 200}, "report.slow"]))
            .await;
        caller
            .expect(json!([8, 48, 10, {}, "wamp.error.timeout"]))
            .await;
        let deadline = Instant::now() + Duration::from_secs(5);
        while dropped.0.load(Ordering::SeqCst) != 2 {
            assert!(
                Instant::now() < deadline,
                "the timed-out handler was not stopped"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // Many calls in flight at once, each answered once, in any order.
        for i in 0..200u64 {
            caller
                .send(json!([48, 100 + i, {}, "report.add", [i, 1]]))
                .await;
        }
        let mut answered = std::collections::BTreeMap::new();
        for _ in 0..200 {
            let answer = caller.recv().await.expect("an answer");
            let list = answer.as_list().expect("a list").clone();
            answered.insert(list[1].as_u64().expect("a request"), list[3].clone());
        }
        for i in 0..200u64 {
            assert_eq!(
                answered[&(100 + i)],
                Value::List(vec![Value::Int(i as i64 + 1)])
            );
        }
        drop(s_engine);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nats_calls_cross_nodes() {
        calls_cross_nodes(Kind::Nats).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_calls_cross_nodes() {
        calls_cross_nodes(Kind::Redis).await;
    }

    /// The serving node leaves (its backplane connection closed) while a
    /// call runs there: the caller is answered
    /// `serverwamp.error.node_unavailable` and its session goes on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_serving_node_lost_mid_call() {
        let server = Server::start(Kind::Nats).await;
        let url = format!("nats://127.0.0.1:{}", server.port);
        let client = async_nats::connect(&url).await.expect("NATS connects");
        let mut s = Application::new();
        s.realm("r1").set_open_broker(true);
        s.set_backplane(NatsBackplane::from_client(client.clone()));
        serving(&mut s, &Dropped::default());
        let _s_engine = serverwamp::Engine::from(&s);
        let c = server.node().await;
        let mut caller = joined(&c).await;
        call_when_known(&mut caller, 1, "report.add", json!([1, 1])).await;
        caller.send(json!([48, 2, {}, "report.slow"])).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        client.drain().await.expect("the serving node leaves");
        let started = Instant::now();
        caller
            .expect(json!([
                8,
                48,
                2,
                {},
                "serverwamp.error.node_unavailable",
                "*"
            ]))
            .await;
        assert!(started.elapsed() < Duration::from_secs(5));
        // The session is fine, and the procedure is gone from the cluster.
        caller.send(json!([48, 3, {}, "report.add", [1, 2]])).await;
        caller
            .expect(json!([8, 48, 3, {}, "wamp.error.no_such_procedure", "*"]))
            .await;
    }
}

/// Whatever else is published on the backplane's subjects (garbage,
/// truncated envelopes, messages of another version) is dropped: the nodes
/// go on delivering and serving calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_backplane_harms_nothing() {
    let server = Server::start(Kind::Nats).await;
    let url = format!("nats://127.0.0.1:{}", server.port);
    let intruder = async_nats::connect(&url).await.expect("NATS connects");
    let (a, b) = (server.node().await, server.node().await);
    let mut sub = joined(&b).await;
    let subscription = subscribe(&mut sub, 1, "t", json!({})).await;
    let garbage: [&[u8]; 6] = [
        b"",
        b"\xff\xff\xff",
        b"\x9a\x01",
        b"\x91\x02",
        // An envelope whose topic is a number.
        b"\x9a\x01\x01\x01\x05\x00\x00\x80\x80\x90\x80",
        b"\x94\x0a\x01\x01\x97",
    ];
    for bytes in garbage {
        for subject in ["serverwamp.pub.r1.t", "serverwamp.nodes"] {
            intruder
                .publish(subject, bytes::Bytes::from_static(bytes))
                .await
                .expect("published");
        }
    }
    // The nodes' own subjects too: their IDs are in their announcements.
    let mut presence = intruder
        .subscribe("serverwamp.nodes")
        .await
        .expect("subscribed");
    let mut nodes = std::collections::BTreeSet::new();
    while nodes.len() < 2 {
        let message = tokio::time::timeout(Duration::from_secs(5), presence.next())
            .await
            .expect("the nodes announce themselves")
            .expect("a message");
        let announced = serverwamp::protocol::Serialization::MsgPack
            .decode_value(&message.payload)
            .expect("an announcement");
        nodes.insert(
            announced.as_list().expect("a list")[0]
                .as_u64()
                .expect("an ID"),
        );
    }
    for node in &nodes {
        for bytes in garbage {
            intruder
                .publish(
                    format!("serverwamp.node.{node}"),
                    bytes::Bytes::from_static(bytes),
                )
                .await
                .expect("published");
        }
    }
    intruder.flush().await.expect("flushed");
    a.publish("r1", "t", vec!["still fine".into()], Dict::new());
    sub.expect(json!([36, subscription, "<id>", {}, ["still fine"]]))
        .await;
}
