//! Transcript tests of the meta API (sessions, subscriptions, testaments)
//! and event retention, once per serializer and batched variant.

mod support;

use serde_json::json;
use serverwamp::auth::Action;
use serverwamp::protocol::{Dict, Value};
use serverwamp::rpc::{Args, RpcRouteSet};
use serverwamp::{Application, Session};
use support::{Client, SUBPROTOCOLS};

/// `meta`: the meta API in an open broker; `guarded`: the meta API behind
/// an authorizer that refuses kills; `realm1`: neither.
fn app() -> Application {
    let mut app = Application::new();
    app.realm("meta").enable_meta_api().set_open_broker(true);
    app.realm("guarded").enable_meta_api().set_authorizer(
        |_s: Session, action: Action, uri: String| async move {
            !(action == Action::Call && uri.starts_with("wamp.session.kill"))
        },
        false,
    );
    app.realm("open").set_open_broker(true);
    let mut routes = RpcRouteSet::new();
    routes.route(
        "retain",
        |session: Session, Args((topic, value)): Args<(String, Value)>| async move {
            session
                .publish_retained(&topic, vec![value], Dict::new())
                .delivered as u64
        },
    );
    app.add_routes(routes);
    app
}

fn id_at(message: &Value, index: usize) -> u64 {
    message
        .as_list()
        .and_then(|l| l[index].as_u64())
        .expect("an ID")
}

fn features<'v>(welcome: &'v Value, role: &str) -> &'v Dict {
    welcome.as_list().expect("a list")[2]
        .as_dict()
        .and_then(|d| d["roles"].as_dict())
        .and_then(|r| r[role].as_dict())
        .and_then(|r| r["features"].as_dict())
        .expect("features")
}

#[tokio::test]
async fn welcome_announces_the_meta_api_only_where_it_is_served() {
    let app = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        c.send(json!([1, "meta", {"roles": {"caller": {}}}])).await;
        let welcome = c.expect(json!([2, "<id>", {}])).await;
        let broker = features(&welcome, "broker");
        let dealer = features(&welcome, "dealer");
        for f in [
            "session_meta_api",
            "subscription_meta_api",
            "event_retention",
        ] {
            assert_eq!(broker.get(f), Some(&Value::Bool(true)), "[{sp}] {f}");
        }
        for f in ["session_meta_api", "testament_meta_api"] {
            assert_eq!(dealer.get(f), Some(&Value::Bool(true)), "[{sp}] {f}");
        }

        let mut c = Client::connect(&app, sp).await;
        c.send(json!([1, "realm1", {"roles": {"caller": {}}}]))
            .await;
        let welcome = c.expect(json!([2, "<id>", {}])).await;
        assert_eq!(
            features(&welcome, "broker").get("event_retention"),
            Some(&Value::Bool(true))
        );
        assert!(
            features(&welcome, "broker")
                .get("session_meta_api")
                .is_none()
        );
        assert!(
            features(&welcome, "dealer")
                .get("testament_meta_api")
                .is_none()
        );
        // Without the meta API, its procedures do not exist.
        c.send(json!([48, 1, {}, "wamp.session.count"])).await;
        c.expect(json!([
            8,
            48,
            1,
            {},
            "wamp.error.no_such_procedure",
            ["no procedure is registered for \"wamp.session.count\""]
        ]))
        .await;
    }
}

#[tokio::test]
async fn sessions_are_counted_listed_and_described_within_the_realm() {
    for sp in SUBPROTOCOLS {
        let app = app();
        let mut a = Client::connect(&app, sp).await;
        let mut b = Client::connect(&app, "wamp.2.json").await;
        let mut other = Client::connect(&app, "wamp.2.json").await;
        let a_id = a.join("meta").await;
        let b_id = b.join("meta").await;
        other.join("realm1").await;

        a.send(json!([48, 1, {}, "wamp.session.count"])).await;
        a.expect(json!([50, 1, {}, [2]])).await;
        a.send(json!([48, 2, {}, "wamp.session.count", [["anonymous"]]]))
            .await;
        a.expect(json!([50, 2, {}, [2]])).await;
        a.send(json!([48, 3, {}, "wamp.session.count", [["admin"]]]))
            .await;
        a.expect(json!([50, 3, {}, [0]])).await;

        a.send(json!([48, 4, {}, "wamp.session.list"])).await;
        let list = a.expect(json!([50, 4, {}, ["*"]])).await;
        let mut ids: Vec<u64> = list.as_list().unwrap()[3].as_list().unwrap()[0]
            .as_list()
            .expect("a list of IDs")
            .iter()
            .filter_map(Value::as_u64)
            .collect();
        ids.sort_unstable();
        let mut expected = vec![a_id, b_id];
        expected.sort_unstable();
        assert_eq!(ids, expected, "[{sp}]");

        a.send(json!([48, 5, {}, "wamp.session.get", [b_id]])).await;
        a.expect(json!([50, 5, {}, [{
            "session": b_id,
            "authid": "*",
            "authrole": "anonymous",
            "authmethod": "anonymous",
            "authprovider": "*",
            "transport": {"type": "websocket"}
        }]]))
        .await;
        a.send(json!([48, 6, {}, "wamp.session.get", [12345]]))
            .await;
        a.expect(json!([
            8,
            48,
            6,
            {},
            "wamp.error.no_such_session",
            ["no other session 12345 in this realm"]
        ]))
        .await;
        a.send(json!([48, 7, {}, "wamp.session.get", ["b"]])).await;
        a.expect(json!([
            8,
            48,
            7,
            {},
            "wamp.error.invalid_argument",
            ["session must be an ID"]
        ]))
        .await;
        a.send(json!([48, 8, {}, "wamp.session.count", ["admin"]]))
            .await;
        a.expect(json!([
            8,
            48,
            8,
            {},
            "wamp.error.invalid_argument",
            ["filter_authroles must be a list of strings"]
        ]))
        .await;
        a.send(json!([48, 9, {}, "wamp.session.no_such_thing"]))
            .await;
        a.expect(json!([
            8,
            48,
            9,
            {},
            "wamp.error.no_such_procedure",
            ["no procedure is registered for \"wamp.session.no_such_thing\""]
        ]))
        .await;
    }
}

#[tokio::test]
async fn a_session_kills_another_but_not_itself() {
    for sp in SUBPROTOCOLS {
        let app = app();
        let mut a = Client::connect(&app, sp).await;
        let mut b = Client::connect(&app, sp).await;
        let a_id = a.join("meta").await;
        let b_id = b.join("meta").await;

        a.send(json!([48, 1, {}, "wamp.session.kill", [a_id]]))
            .await;
        a.expect(json!([
            8,
            48,
            1,
            {},
            "wamp.error.no_such_session",
            [format!("no other session {a_id} in this realm")]
        ]))
        .await;
        a.send(json!([48, 2, {}, "wamp.session.kill", [b_id], {"reason": "not a uri!"}]))
            .await;
        a.expect(json!([8, 48, 2, {}, "wamp.error.invalid_uri", ["*"]]))
            .await;

        a.send(json!([48, 3, {}, "wamp.session.kill", [b_id], {"reason": "com.example.go", "message": "bye"}]))
            .await;
        a.expect(json!([50, 3, {}])).await;
        b.expect(json!([6, {"message": "bye"}, "com.example.go"]))
            .await;
        b.send(json!([6, {}, "wamp.close.goodbye_and_out"])).await;

        // kill_by_authrole: everyone of the role but the caller.
        let mut c = Client::connect(&app, sp).await;
        c.join("meta").await;
        a.send(json!([
            48,
            4,
            {},
            "wamp.session.kill_by_authrole",
            ["anonymous"]
        ]))
        .await;
        a.expect(json!([50, 4, {}, [1]])).await;
        c.expect(json!([6, {}, "wamp.close.killed"])).await;
    }
}

#[tokio::test]
async fn the_authorizer_guards_meta_procedures() {
    for sp in SUBPROTOCOLS {
        let app = app();
        let mut a = Client::connect(&app, sp).await;
        let mut b = Client::connect(&app, sp).await;
        a.join("guarded").await;
        let b_id = b.join("guarded").await;
        a.send(json!([48, 1, {}, "wamp.session.count"])).await;
        a.expect(json!([50, 1, {}, [2]])).await;
        a.send(json!([48, 2, {}, "wamp.session.kill", [b_id]]))
            .await;
        a.expect(json!([
            8,
            48,
            2,
            {},
            "wamp.error.not_authorized",
            ["not authorized to call \"wamp.session.kill\""]
        ]))
        .await;
        // A realm that is no open broker still serves the meta topics.
        a.send(json!([32, 3, {}, "wamp.session.on_leave"])).await;
        a.expect(json!([33, 3, "<id>"])).await;
    }
}

#[tokio::test]
async fn joins_and_leaves_are_published() {
    for sp in SUBPROTOCOLS {
        let app = app();
        let mut a = Client::connect(&app, sp).await;
        a.join("meta").await;
        a.send(json!([32, 1, {}, "wamp.session.on_join"])).await;
        let joins = id_at(&a.expect(json!([33, 1, "<id>"])).await, 2);
        a.send(json!([32, 2, {}, "wamp.session.on_leave"])).await;
        let leaves = id_at(&a.expect(json!([33, 2, "<id>"])).await, 2);

        let mut b = Client::connect(&app, "wamp.2.cbor").await;
        let b_id = b.join("meta").await;
        a.expect(json!([36, joins, "<id>", {}, [{
            "session": b_id,
            "authrole": "anonymous",
            "authmethod": "anonymous"
        }]]))
        .await;
        b.send(json!([6, {}, "wamp.close.normal"])).await;
        a.expect(json!([36, leaves, "<id>", {}, [b_id, "*", "anonymous"]]))
            .await;

        // Clients may not publish meta events themselves.
        a.send(json!([16, 3, {"acknowledge": true}, "wamp.session.on_join", [{}]]))
            .await;
        a.expect(json!([
            8,
            16,
            3,
            {},
            "wamp.error.not_authorized",
            ["not authorized to publish \"wamp.session.on_join\""]
        ]))
        .await;
    }
}

#[tokio::test]
async fn subscriptions_are_described_and_their_changes_published() {
    for sp in SUBPROTOCOLS {
        let app = app();
        let mut a = Client::connect(&app, sp).await;
        let mut b = Client::connect(&app, "wamp.2.msgpack").await;
        a.join("meta").await;
        let b_id = b.join("meta").await;
        let mut meta = Vec::new();
        for (i, topic) in [
            "wamp.subscription.on_create",
            "wamp.subscription.on_subscribe",
            "wamp.subscription.on_unsubscribe",
            "wamp.subscription.on_delete",
        ]
        .into_iter()
        .enumerate()
        {
            a.send(json!([32, i + 1, {}, topic])).await;
            meta.push(id_at(&a.expect(json!([33, i + 1, "<id>"])).await, 2));
        }

        b.send(json!([32, 1, {}, "news.sports"])).await;
        let sub = id_at(&b.expect(json!([33, 1, "<id>"])).await, 2);
        a.expect(json!([36, meta[0], "<id>", {}, [b_id, {
            "id": sub, "uri": "news.sports", "match": "exact", "created": "*"
        }]]))
        .await;
        a.expect(json!([36, meta[1], "<id>", {}, [b_id, sub]]))
            .await;
        b.send(json!([32, 2, {"match": "prefix"}, "news"])).await;
        let prefix = id_at(&b.expect(json!([33, 2, "<id>"])).await, 2);
        a.expect(json!([36, meta[0], "<id>", {}, [b_id, {"id": prefix, "match": "prefix"}]]))
            .await;
        a.expect(json!([36, meta[1], "<id>", {}, [b_id, prefix]]))
            .await;

        a.send(json!([
            48,
            10,
            {},
            "wamp.subscription.lookup",
            ["news.sports"]
        ]))
        .await;
        a.expect(json!([50, 10, {}, [sub]])).await;
        a.send(json!([48, 11, {}, "wamp.subscription.lookup", ["news", {"match": "prefix"}]]))
            .await;
        a.expect(json!([50, 11, {}, [prefix]])).await;
        a.send(json!([
            48,
            12,
            {},
            "wamp.subscription.lookup",
            ["news.weather"]
        ]))
        .await;
        a.expect(json!([50, 12, {}, [null]])).await;
        a.send(json!([
            48,
            13,
            {},
            "wamp.subscription.match",
            ["news.weather"]
        ]))
        .await;
        a.expect(json!([50, 13, {}, [[prefix]]])).await;
        a.send(json!([48, 14, {}, "wamp.subscription.match", ["sports"]]))
            .await;
        a.expect(json!([50, 14, {}, [null]])).await;
        a.send(json!([48, 15, {}, "wamp.subscription.get", [sub]]))
            .await;
        a.expect(json!([50, 15, {}, [{"id": sub, "uri": "news.sports", "match": "exact"}]]))
            .await;
        a.send(json!([48, 16, {}, "wamp.subscription.get", [999_999]]))
            .await;
        a.expect(json!([
            8,
            48,
            16,
            {},
            "wamp.error.no_such_subscription",
            ["no subscription 999999 in this realm"]
        ]))
        .await;
        a.send(json!([
            48,
            17,
            {},
            "wamp.subscription.list_subscribers",
            [sub]
        ]))
        .await;
        a.expect(json!([50, 17, {}, [[b_id]]])).await;
        a.send(json!([
            48,
            18,
            {},
            "wamp.subscription.count_subscribers",
            [sub]
        ]))
        .await;
        a.expect(json!([50, 18, {}, [1]])).await;
        a.send(json!([48, 19, {}, "wamp.subscription.list"])).await;
        let lists = a.expect(json!([50, 19, {}, ["*"]])).await;
        let lists = lists.as_list().unwrap()[3].as_list().unwrap()[0]
            .as_dict()
            .expect("a dict")
            .clone();
        assert!(
            lists["exact"]
                .as_list()
                .unwrap()
                .contains(&Value::UInt(sub))
        );
        assert_eq!(lists["prefix"], Value::List(vec![Value::UInt(prefix)]));
        assert_eq!(lists["wildcard"], Value::List(vec![]));

        b.send(json!([34, 3, sub])).await;
        b.expect(json!([35, 3])).await;
        a.expect(json!([36, meta[2], "<id>", {}, [b_id, sub]]))
            .await;
        a.expect(json!([36, meta[3], "<id>", {}, [b_id, sub]]))
            .await;
        // The session's end removes its other subscription.
        drop(b);
        a.expect(json!([36, meta[2], "<id>", {}, [b_id, prefix]]))
            .await;
        a.expect(json!([36, meta[3], "<id>", {}, [b_id, prefix]]))
            .await;
    }
}

#[tokio::test]
async fn testaments_are_published_when_the_session_ends() {
    for sp in SUBPROTOCOLS {
        let app = app();
        let mut a = Client::connect(&app, sp).await;
        let mut b = Client::connect(&app, sp).await;
        a.join("meta").await;
        b.join("meta").await;
        a.send(json!([32, 1, {}, "room.left"])).await;
        let sub = id_at(&a.expect(json!([33, 1, "<id>"])).await, 2);

        b.send(json!([48, 1, {}, "wamp.session.add_testament", ["room.left", ["destroyed"], {"who": "b"}]]))
            .await;
        b.expect(json!([50, 1, {}])).await;
        b.send(json!([48, 2, {}, "wamp.session.add_testament", ["room.left", ["detached"]], {"scope": "detached"}]))
            .await;
        b.expect(json!([50, 2, {}])).await;
        b.send(json!([48, 3, {}, "wamp.session.add_testament", ["room.left", ["flushed"]], {"scope": "detached"}]))
            .await;
        b.expect(json!([50, 3, {}])).await;
        b.send(json!([48, 4, {}, "wamp.session.add_testament", ["room.left"], {"scope": "later"}]))
            .await;
        b.expect(json!([
            8,
            48,
            4,
            {},
            "wamp.error.invalid_argument",
            ["scope must be \"destroyed\" or \"detached\""]
        ]))
        .await;
        b.send(json!([
            48,
            5,
            {},
            "wamp.session.add_testament",
            ["wamp.session.on_join"]
        ]))
        .await;
        b.expect(json!([
            8,
            48,
            5,
            {},
            "wamp.error.not_authorized",
            ["not authorized to publish \"wamp.session.on_join\""]
        ]))
        .await;
        b.send(json!([
            48,
            6,
            {},
            "wamp.session.add_testament",
            ["bad uri"]
        ]))
        .await;
        b.expect(json!([8, 48, 6, {}, "wamp.error.invalid_uri", ["*"]]))
            .await;
        b.send(json!([48, 7, {}, "wamp.session.flush_testaments", [], {"scope": "detached"}]))
            .await;
        b.expect(json!([50, 7, {}])).await;
        b.send(json!([48, 8, {}, "wamp.session.add_testament", ["room.left", ["detached"]], {"scope": "detached"}]))
            .await;
        b.expect(json!([50, 8, {}])).await;

        // The connection is lost: detached first, then destroyed.
        drop(b);
        a.expect(json!([36, sub, "<id>", {}, ["detached"]])).await;
        a.expect(json!([36, sub, "<id>", {}, ["destroyed"], {"who": "b"}]))
            .await;
    }
}

#[tokio::test]
async fn a_retained_event_is_given_to_subscribers_that_ask() {
    for sp in SUBPROTOCOLS {
        let app = app();
        let mut a = Client::connect(&app, sp).await;
        let mut b = Client::connect(&app, sp).await;
        let a_id = a.join("open").await;
        b.join("open").await;
        a.send(json!([16, 1, {"retain": true, "acknowledge": true}, "sensor.t", [20]]))
            .await;
        a.expect(json!([17, 1, "<id>"])).await;
        a.send(json!([16, 2, {"retain": true, "acknowledge": true}, "sensor.t", [21]]))
            .await;
        a.expect(json!([17, 2, "<id>"])).await;
        // Only to `a`: `b` was not eligible when it was published.
        a.send(json!([16, 3, {"retain": true, "eligible": [a_id], "exclude_me": false}, "sensor.secret", [1]]))
            .await;

        b.send(json!([32, 1, {"get_retained": true}, "sensor.t"]))
            .await;
        let sub = id_at(&b.expect(json!([33, 1, "<id>"])).await, 2);
        b.expect(json!([36, sub, "<id>", {"retained": true}, [21]]))
            .await;
        // Without get_retained, nothing; not eligible, nothing.
        b.send(json!([32, 2, {}, "sensor.h"])).await;
        b.expect(json!([33, 2, "<id>"])).await;
        b.send(json!([32, 3, {"get_retained": true}, "sensor.secret"]))
            .await;
        b.expect(json!([33, 3, "<id>"])).await;
        // A pattern subscription learns each retained topic.
        b.send(json!([32, 4, {"get_retained": true, "match": "prefix"}, "sensor"]))
            .await;
        let prefix = id_at(&b.expect(json!([33, 4, "<id>"])).await, 2);
        b.expect(json!([36, prefix, "<id>", {"retained": true, "topic": "sensor.t"}, [21]]))
            .await;
        a.send(json!([32, 5, {"get_retained": true}, "sensor.secret"]))
            .await;
        let secret = id_at(&a.expect(json!([33, 5, "<id>"])).await, 2);
        a.expect(json!([36, secret, "<id>", {"retained": true}, [1]]))
            .await;

        // The application retains too, also for a realm without sessions.
        let app = self::app();
        app.publish_retained("open", "motd", vec!["hello".into()], Dict::new());
        let mut c = Client::connect(&app, sp).await;
        c.join("open").await;
        c.send(json!([32, 1, {"get_retained": true}, "motd"])).await;
        let motd = id_at(&c.expect(json!([33, 1, "<id>"])).await, 2);
        c.expect(json!([36, motd, "<id>", {"retained": true}, ["hello"]]))
            .await;
    }
}

#[tokio::test]
async fn a_realm_can_keep_the_meta_api_off() {
    let mut app = Application::new();
    app.enable_meta_api();
    app.realm("quiet").disable_meta_api();
    for sp in SUBPROTOCOLS {
        let mut a = Client::connect(&app, sp).await;
        a.join("quiet").await;
        a.send(json!([48, 1, {}, "wamp.session.count"])).await;
        a.expect(json!([
            8,
            48,
            1,
            {},
            "wamp.error.no_such_procedure",
            ["no procedure is registered for \"wamp.session.count\""]
        ]))
        .await;
        let mut b = Client::connect(&app, sp).await;
        b.join("realm1").await;
        b.send(json!([48, 1, {}, "wamp.session.count"])).await;
        b.expect(json!([50, 1, {}, [1]])).await;
    }
}

#[tokio::test]
async fn kill_by_authid_and_kill_all_spare_the_caller() {
    for sp in SUBPROTOCOLS {
        let app = app();
        let mut a = Client::connect(&app, sp).await;
        let mut b = Client::connect(&app, sp).await;
        let mut c = Client::connect(&app, sp).await;
        a.join("meta").await;
        let b_id = b.join("meta").await;
        c.join("meta").await;
        a.send(json!([32, 1, {}, "wamp.session.on_leave"])).await;
        let leaves = id_at(&a.expect(json!([33, 1, "<id>"])).await, 2);
        a.send(json!([32, 2, {}, "room.left"])).await;
        a.expect(json!([33, 2, "<id>"])).await;
        c.send(json!([
            48,
            1,
            {},
            "wamp.session.add_testament",
            ["room.left", ["c"]]
        ]))
        .await;
        c.expect(json!([50, 1, {}])).await;

        a.send(json!([48, 3, {}, "wamp.session.get", [b_id]])).await;
        let details = a.expect(json!([50, 3, {}, ["*"]])).await;
        let authid = details.as_list().unwrap()[3].as_list().unwrap()[0]
            .as_dict()
            .unwrap()["authid"]
            .as_str()
            .unwrap()
            .to_owned();
        a.send(
            json!([48, 4, {}, "wamp.session.kill_by_authid", [authid], {"message": "by authid"}]),
        )
        .await;
        a.expect(json!([50, 4, {}, [[b_id]]])).await;
        b.expect(json!([6, {"message": "by authid"}, "wamp.close.killed"]))
            .await;
        b.send(json!([6, {}, "wamp.close.goodbye_and_out"])).await;
        a.expect(json!([36, leaves, "<id>", {}, [b_id, "*", "anonymous"]]))
            .await;

        // Spec: kill_all publishes no meta events and no testaments.
        a.send(json!([48, 5, {}, "wamp.session.kill_all"])).await;
        a.expect(json!([50, 5, {}, [1]])).await;
        c.expect(json!([6, {}, "wamp.close.killed"])).await;
        c.send(json!([6, {}, "wamp.close.goodbye_and_out"])).await;
        c.expect_closed().await;
        a.send(json!([48, 6, {}, "wamp.session.count"])).await;
        a.expect(json!([50, 6, {}, [1]])).await;
    }
}

#[tokio::test]
async fn sessions_retain_events_and_the_number_of_topics_is_bounded() {
    for sp in SUBPROTOCOLS {
        let app = app();
        let mut a = Client::connect(&app, sp).await;
        a.join("open").await;
        a.send(json!([48, 1, {}, "retain", ["status", "green"]]))
            .await;
        a.expect(json!([50, 1, {}, [0]])).await;
        a.send(json!([32, 2, {"get_retained": true}, "status"]))
            .await;
        let sub = id_at(&a.expect(json!([33, 2, "<id>"])).await, 2);
        a.expect(json!([36, sub, "<id>", {"retained": true}, ["green"]]))
            .await;
    }
    let app = app();
    for i in 0..=4_096 {
        app.publish_retained("open", &format!("t{i}"), vec![Value::UInt(i)], Dict::new());
    }
    let mut a = Client::connect(&app, "wamp.2.json").await;
    a.join("open").await;
    // The 4,097th topic is not retained; the first still is.
    a.send(json!([32, 1, {"get_retained": true}, "t4096"]))
        .await;
    a.expect(json!([33, 1, "<id>"])).await;
    a.send(json!([32, 2, {"get_retained": true}, "t0"])).await;
    let sub = id_at(&a.expect(json!([33, 2, "<id>"])).await, 2);
    a.expect(json!([36, sub, "<id>", {"retained": true}, [0]]))
        .await;
}
