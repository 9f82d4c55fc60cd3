//! Transcript tests of the registration meta API: the `wamp.registration.*`
//! procedures and events in realms serving the meta API, with and without
//! client callees, once per serializer and batched variant.

mod support;

use serde_json::json;
use serverwamp::auth::Action;
use serverwamp::protocol::Value;
use serverwamp::{Application, Session};
use support::{Client, SUBPROTOCOLS};

/// `meta`: the meta API and client callees; `nocallees`: the meta API
/// only; `guarded`: both, behind an authorizer that refuses
/// `wamp.registration.get`; `callees`: client callees without the meta API.
fn app() -> Application {
    let mut app = Application::new();
    app.realm("meta")
        .enable_meta_api()
        .set_open_broker(true)
        .set_client_callees(true);
    app.realm("nocallees").enable_meta_api();
    app.realm("guarded")
        .enable_meta_api()
        .set_client_callees(true)
        .set_authorizer(
            |_s: Session, action: Action, uri: String| async move {
                !(action == Action::Call && uri == "wamp.registration.get")
            },
            false,
        );
    app.realm("callees").set_client_callees(true);
    app
}

fn id_at(message: &Value, index: usize) -> u64 {
    message
        .as_list()
        .and_then(|l| l[index].as_u64())
        .expect("an ID")
}

fn dealer_feature(welcome: &Value, name: &str) -> Option<Value> {
    welcome.as_list().expect("a list")[2]
        .as_dict()
        .and_then(|d| d["roles"].as_dict())
        .and_then(|r| r["dealer"].as_dict())
        .and_then(|r| r["features"].as_dict())
        .and_then(|f| f.get(name).cloned())
}

/// Whether `created` reads as ISO 8601 UTC with milliseconds.
fn is_iso_8601(created: &str) -> bool {
    let b = created.as_bytes();
    b.len() == 24
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[23] == b'Z'
}

#[tokio::test]
async fn welcome_announces_the_registration_meta_api_with_the_meta_api() {
    let app = app();
    for sp in SUBPROTOCOLS {
        for (realm, announced) in [("meta", true), ("nocallees", true), ("callees", false)] {
            let mut c = Client::connect(&app, sp).await;
            c.send(json!([1, realm, {"roles": {"caller": {}}}])).await;
            let welcome = c.expect(json!([2, "<id>", {}])).await;
            assert_eq!(
                dealer_feature(&welcome, "registration_meta_api"),
                announced.then_some(Value::Bool(true)),
                "[{sp}] {realm}"
            );
        }
    }
}

#[tokio::test]
async fn registrations_are_described_and_their_changes_published() {
    for sp in SUBPROTOCOLS {
        let app = app();
        let mut a = Client::connect(&app, sp).await;
        let mut b = Client::connect(&app, "wamp.2.msgpack").await;
        let mut c = Client::connect(&app, "wamp.2.json").await;
        a.join("meta").await;
        let b_id = b.join("meta").await;
        let c_id = c.join("meta").await;
        let mut meta = Vec::new();
        for (i, topic) in [
            "wamp.registration.on_create",
            "wamp.registration.on_register",
            "wamp.registration.on_unregister",
            "wamp.registration.on_delete",
        ]
        .into_iter()
        .enumerate()
        {
            a.send(json!([32, i + 1, {}, topic])).await;
            meta.push(id_at(&a.expect(json!([33, i + 1, "<id>"])).await, 2));
        }

        // The first callee creates the registration.
        b.send(json!([64, 1, {"invoke": "roundrobin"}, "dev.read"]))
            .await;
        let reg = id_at(&b.expect(json!([65, 1, "<id>"])).await, 2);
        let create = a
            .expect(json!([36, meta[0], "<id>", {}, [b_id, {
                "id": reg,
                "uri": "dev.read",
                "match": "exact",
                "invoke": "roundrobin",
                "created": "*"
            }]]))
            .await;
        let details = create.as_list().unwrap()[4].as_list().unwrap()[1]
            .as_dict()
            .expect("details")
            .clone();
        assert_eq!(details.len(), 5, "[{sp}] {details:?}");
        let created = details["created"].as_str().expect("a string").to_owned();
        assert!(is_iso_8601(&created), "[{sp}] {created}");
        a.expect(json!([36, meta[1], "<id>", {}, [b_id, reg]]))
            .await;
        // The second joins it: no on_create.
        c.send(json!([64, 1, {"invoke": "roundrobin"}, "dev.read"]))
            .await;
        c.expect(json!([65, 1, reg])).await;
        a.expect(json!([36, meta[1], "<id>", {}, [c_id, reg]]))
            .await;
        b.send(json!([64, 2, {"match": "prefix"}, "dev"])).await;
        let prefix = id_at(&b.expect(json!([65, 2, "<id>"])).await, 2);
        a.expect(json!([36, meta[0], "<id>", {}, [b_id, {
            "id": prefix, "uri": "dev", "match": "prefix", "invoke": "single"
        }]]))
        .await;
        a.expect(json!([36, meta[1], "<id>", {}, [b_id, prefix]]))
            .await;

        a.send(json!([
            48,
            10,
            {},
            "wamp.registration.lookup",
            ["dev.read"]
        ]))
        .await;
        a.expect(json!([50, 10, {}, [reg]])).await;
        a.send(json!([48, 11, {}, "wamp.registration.lookup", ["dev", {"match": "prefix"}]]))
            .await;
        a.expect(json!([50, 11, {}, [prefix]])).await;
        a.send(json!([48, 12, {}, "wamp.registration.lookup", ["dev"]]))
            .await;
        a.expect(json!([50, 12, {}, [null]])).await;
        a.send(json!([
            48,
            13,
            {},
            "wamp.registration.match",
            ["dev.write"]
        ]))
        .await;
        a.expect(json!([50, 13, {}, [prefix]])).await;
        a.send(json!([48, 14, {}, "wamp.registration.match", ["dev.read"]]))
            .await;
        a.expect(json!([50, 14, {}, [reg]])).await;
        a.send(json!([48, 15, {}, "wamp.registration.match", ["other"]]))
            .await;
        a.expect(json!([50, 15, {}, [null]])).await;
        a.send(json!([48, 16, {}, "wamp.registration.get", [reg]]))
            .await;
        a.expect(json!([50, 16, {}, [{
            "id": reg,
            "uri": "dev.read",
            "match": "exact",
            "invoke": "roundrobin",
            "created": created
        }]]))
        .await;
        a.send(json!([48, 17, {}, "wamp.registration.list_callees", [reg]]))
            .await;
        a.expect(json!([50, 17, {}, [[b_id, c_id]]])).await;
        a.send(json!([
            48,
            18,
            {},
            "wamp.registration.count_callees",
            [reg]
        ]))
        .await;
        a.expect(json!([50, 18, {}, [2]])).await;
        a.send(json!([48, 19, {}, "wamp.registration.list"])).await;
        a.expect(json!([50, 19, {}, [{"exact": [reg], "prefix": [prefix], "wildcard": []}]]))
            .await;

        // Unknown registrations and bad arguments: ERRORs.
        for (request, procedure) in [
            (20, "wamp.registration.get"),
            (21, "wamp.registration.list_callees"),
            (22, "wamp.registration.count_callees"),
        ] {
            a.send(json!([48, request, {}, procedure, [999_999]])).await;
            a.expect(json!([
                8,
                48,
                request,
                {},
                "wamp.error.no_such_registration",
                ["no registration 999999 in this realm"]
            ]))
            .await;
        }
        a.send(json!([48, 23, {}, "wamp.registration.get", ["x"]]))
            .await;
        a.expect(json!([
            8,
            48,
            23,
            {},
            "wamp.error.invalid_argument",
            ["registration must be an ID"]
        ]))
        .await;
        a.send(json!([48, 24, {}, "wamp.registration.lookup", ["dev", {"match": "fuzzy"}]]))
            .await;
        a.expect(json!([
            8,
            48,
            24,
            {},
            "wamp.error.invalid_argument",
            ["unknown match policy \"fuzzy\""]
        ]))
        .await;
        a.send(json!([48, 25, {}, "wamp.registration.match", [7]]))
            .await;
        a.expect(json!([
            8,
            48,
            25,
            {},
            "wamp.error.invalid_argument",
            ["procedure must be a string"]
        ]))
        .await;
        a.send(json!([48, 26, {}, "wamp.registration.nothing"]))
            .await;
        a.expect(json!([
            8,
            48,
            26,
            {},
            "wamp.error.no_such_procedure",
            ["no procedure is registered for \"wamp.registration.nothing\""]
        ]))
        .await;

        // UNREGISTER by one callee: on_unregister only.
        b.send(json!([66, 3, reg])).await;
        b.expect(json!([67, 3])).await;
        a.expect(json!([36, meta[2], "<id>", {}, [b_id, reg]]))
            .await;
        // The last callee's session ends: on_unregister, then on_delete.
        c.send(json!([6, {}, "wamp.close.normal"])).await;
        a.expect(json!([36, meta[2], "<id>", {}, [c_id, reg]]))
            .await;
        a.expect(json!([36, meta[3], "<id>", {}, [c_id, reg]]))
            .await;
        // UNREGISTER of the prefix registration's last callee.
        b.send(json!([66, 4, prefix])).await;
        b.expect(json!([67, 4])).await;
        a.expect(json!([36, meta[2], "<id>", {}, [b_id, prefix]]))
            .await;
        a.expect(json!([36, meta[3], "<id>", {}, [b_id, prefix]]))
            .await;
        a.send(json!([48, 30, {}, "wamp.registration.list"])).await;
        a.expect(json!([50, 30, {}, [{"exact": [], "prefix": [], "wildcard": []}]]))
            .await;
        a.send(json!([
            48,
            31,
            {},
            "wamp.registration.lookup",
            ["dev.read"]
        ]))
        .await;
        a.expect(json!([50, 31, {}, [null]])).await;
    }
}

#[tokio::test]
async fn without_client_callees_the_lists_are_empty() {
    for sp in SUBPROTOCOLS {
        let app = app();
        let mut a = Client::connect(&app, sp).await;
        a.join("nocallees").await;
        a.send(json!([48, 1, {}, "wamp.registration.list"])).await;
        a.expect(json!([50, 1, {}, [{"exact": [], "prefix": [], "wildcard": []}]]))
            .await;
        a.send(json!([48, 2, {}, "wamp.registration.lookup", ["dev.read"]]))
            .await;
        a.expect(json!([50, 2, {}, [null]])).await;
        a.send(json!([48, 3, {}, "wamp.registration.match", ["dev.read"]]))
            .await;
        a.expect(json!([50, 3, {}, [null]])).await;
        a.send(json!([48, 4, {}, "wamp.registration.count_callees", [5]]))
            .await;
        a.expect(json!([
            8,
            48,
            4,
            {},
            "wamp.error.no_such_registration",
            ["no registration 5 in this realm"]
        ]))
        .await;
    }
}

#[tokio::test]
async fn the_authorizer_guards_the_registration_meta_procedures() {
    for sp in SUBPROTOCOLS {
        let app = app();
        let mut a = Client::connect(&app, sp).await;
        a.join("guarded").await;
        a.send(json!([64, 1, {}, "dev.read"])).await;
        let reg = id_at(&a.expect(json!([65, 1, "<id>"])).await, 2);
        a.send(json!([48, 2, {}, "wamp.registration.get", [reg]]))
            .await;
        a.expect(json!([
            8,
            48,
            2,
            {},
            "wamp.error.not_authorized",
            ["not authorized to call \"wamp.registration.get\""]
        ]))
        .await;
        a.send(json!([48, 3, {}, "wamp.registration.count_callees", [reg]]))
            .await;
        a.expect(json!([50, 3, {}, [1]])).await;
    }
}

#[tokio::test]
async fn wildcard_registrations_are_listed_looked_up_and_matched() {
    for sp in SUBPROTOCOLS {
        let app = app();
        let mut a = Client::connect(&app, sp).await;
        let a_id = a.join("meta").await;
        a.send(json!([64, 1, {"match": "wildcard", "invoke": "first"}, "dev..read"]))
            .await;
        let wild = id_at(&a.expect(json!([65, 1, "<id>"])).await, 2);
        a.send(json!([48, 2, {}, "wamp.registration.list"])).await;
        a.expect(json!([50, 2, {}, [{"exact": [], "prefix": [], "wildcard": [wild]}]]))
            .await;
        a.send(
            json!([48, 3, {}, "wamp.registration.lookup", ["dev..read", {"match": "wildcard"}]]),
        )
        .await;
        a.expect(json!([50, 3, {}, [wild]])).await;
        a.send(json!([
            48,
            4,
            {},
            "wamp.registration.match",
            ["dev.7.read"]
        ]))
        .await;
        a.expect(json!([50, 4, {}, [wild]])).await;
        a.send(json!([48, 5, {}, "wamp.registration.get", [wild]]))
            .await;
        a.expect(json!([50, 5, {}, [{
            "id": wild, "uri": "dev..read", "match": "wildcard", "invoke": "first", "created": "*"
        }]]))
        .await;
        a.send(json!([48, 6, {}, "wamp.registration.list_callees", [wild]]))
            .await;
        a.expect(json!([50, 6, {}, [[a_id]]])).await;
        a.send(json!([
            48,
            7,
            {},
            "wamp.registration.lookup",
            ["dev..read", "x"]
        ]))
        .await;
        a.expect(json!([
            8,
            48,
            7,
            {},
            "wamp.error.invalid_argument",
            ["options must be a dict"]
        ]))
        .await;
    }
}
