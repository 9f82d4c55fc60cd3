//! The HTTP bridge over real HTTP on 127.0.0.1: calls and publications
//! through the realms' handlers, authentication and authorizer, and the
//! status of every kind of failure.

#![cfg(feature = "axum")]

mod support;

use std::net::SocketAddr;

use serde::Deserialize;
use serde_json::{Value as Json, json};
use serverwamp::auth::{Action, Authenticated, NewSession};
use serverwamp::bridge::HttpBridge;
use serverwamp::pubsub::{Topic, TopicRouteSet};
use serverwamp::rpc::{Params, Progressive, ProgressiveItem, RpcResult, RpcRouteSet, WampError};
use serverwamp::{Application, Session};
use support::Client;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Deserialize)]
struct AddParams {
    number1: f64,
    number2: f64,
}

fn app() -> Application {
    let mut routes = RpcRouteSet::new();
    routes.route("math.add", |Params(p): Params<AddParams>| async move {
        p.number1 + p.number2
    });
    routes.route("whoami", |session: Session| async move {
        RpcResult::new()
            .kwarg("authid", session.authid())
            .kwarg("realm", session.realm())
    });
    routes.route("app.fail", || async {
        Err::<(), _>(WampError::new("app.error.oops").arg("it failed"))
    });
    routes.route("app.panic", || async {
        if true {
            panic!("a handler bug");
        }
    });
    routes.route("count", || async {
        Progressive(futures_util::stream::iter([
            ProgressiveItem::Progress(RpcResult::new().arg(1)),
            ProgressiveItem::Result(RpcResult::new().arg("done")),
        ]))
    });
    routes.route("secret.plans", || async { "plans" });
    let mut app = Application::new();
    app.add_routes(routes);
    app.realm("tickets")
        .set_ticket_authenticator(|s: NewSession, ticket: String| async move {
            (s.authid() == Some("alice") && ticket == "secret123")
                .then(|| Authenticated::anonymous().authid("alice"))
        });
    app.realm("cookies")
        .add_transport_authenticator(|s: NewSession| async move {
            let name = s.transport().cookie("myName")?.to_owned();
            Some(Authenticated::anonymous().authid(name))
        })
        .set_authorizer(
            |_s: Session, action: Action, uri: String| async move {
                !(action == Action::Call && uri.starts_with("secret."))
            },
            false,
        );
    app.realm("open").set_open_broker(true);
    let mut topics = TopicRouteSet::new();
    topics.publish("news.routed", |topic: Topic| async move {
        if topic == "news.routed" {
            Ok(())
        } else {
            Err(WampError::new("app.error.unexpected"))
        }
    });
    app.add_topics(topics);
    app
}

async fn serve(app: &Application) -> SocketAddr {
    let router =
        axum::Router::new().nest("/bridge", HttpBridge::new(app).body_limit(4096).router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    addr
}

/// Sends one HTTP/1.1 request and returns the status and JSON body.
async fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Json) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        request.push_str("Content-Type: application/json\r\n");
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let response = String::from_utf8(response).expect("UTF-8");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head");
    let status = head[9..12].parse().expect("a status");
    let json = serde_json::from_str(body).unwrap_or(Json::String(body.to_owned()));
    (status, json)
}

#[tokio::test]
async fn calls_answer_results_and_errors_with_their_statuses() {
    let addr = serve(&app()).await;
    let call = |path: &'static str, body: &'static str| post(addr, path, &[], body);

    let (status, body) = call(
        "/bridge/call/math.add",
        r#"{"realm": "realm1", "args": [1, 2]}"#,
    )
    .await;
    assert_eq!((status, body), (200, json!({"args": [3.0], "kwargs": {}})));
    let (status, body) = call(
        "/bridge/call/math.add?realm=realm1",
        r#"{"kwargs": {"number1": 2, "number2": 5}}"#,
    )
    .await;
    assert_eq!((status, body), (200, json!({"args": [7.0], "kwargs": {}})));
    // Progress reports are skipped; the final result answers.
    let (status, body) = call("/bridge/call/count?realm=realm1", "").await;
    assert_eq!(
        (status, body),
        (200, json!({"args": ["done"], "kwargs": {}}))
    );

    let (status, body) = call("/bridge/call/no.such?realm=realm1", "{}").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "wamp.error.no_such_procedure");
    let (status, body) = call("/bridge/call/math.add?realm=realm1", r#"{"args": [1]}"#).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "wamp.error.invalid_argument");
    let (status, body) = call("/bridge/call/app.fail?realm=realm1", "{}").await;
    assert_eq!(
        (status, body),
        (
            500,
            json!({"error": "app.error.oops", "args": ["it failed"], "kwargs": {}})
        )
    );
    let (status, body) = call("/bridge/call/app.panic?realm=realm1", "{}").await;
    assert_eq!(status, 500);
    assert_eq!(body["error"], "wamp.error.runtime_error");
}

#[tokio::test]
async fn bad_requests_are_refused_clearly() {
    let addr = serve(&app()).await;
    // Not JSON.
    let (status, body) = post(addr, "/bridge/call/math.add?realm=realm1", &[], "{oops").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "wamp.error.invalid_argument");
    assert!(
        body["args"][0]
            .as_str()
            .unwrap_or("")
            .contains("not a valid bridge request")
    );
    // JSON of the wrong shape.
    let (status, _) = post(addr, "/bridge/call/math.add", &[], r#"{"realm": 1}"#).await;
    assert_eq!(status, 400);
    let (status, _) = post(addr, "/bridge/call/math.add", &[], r#"{"args": {}}"#).await;
    assert_eq!(status, 400);
    // No realm.
    let (status, body) = post(addr, "/bridge/call/math.add", &[], r#"{"args": [1, 2]}"#).await;
    assert_eq!(status, 400);
    assert!(body["args"][0].as_str().unwrap_or("").contains("realm"));
    // Not JSON at all.
    let (status, _) = post(
        addr,
        "/bridge/call/math.add?realm=realm1",
        &[("Content-Type", "text/plain")],
        "[1, 2]",
    )
    .await;
    assert_eq!(status, 415);
    // Too large.
    let big = format!(r#"{{"args": ["{}"]}}"#, "x".repeat(5000));
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "POST /bridge/call/bench.echo?realm=realm1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{big}",
        big.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    assert!(
        String::from_utf8_lossy(&response).starts_with("HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&response)
    );
    // Invalid URIs.
    let (status, body) = post(addr, "/bridge/call/a..b?realm=realm1", &[], "{}").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "wamp.error.invalid_uri");
}

#[tokio::test]
async fn the_realms_authentication_and_authorizer_apply() {
    let addr = serve(&app()).await;
    // Ticket realm: no credentials, wrong ticket, right ticket.
    let (status, body) = post(addr, "/bridge/call/whoami?realm=tickets", &[], "").await;
    assert_eq!(status, 401);
    assert!(body["error"].as_str().is_some(), "{body}");
    let (status, _) = post(
        addr,
        "/bridge/call/whoami?realm=tickets",
        &[("Authorization", "Ticket alice:wrong")],
        "",
    )
    .await;
    assert_eq!(status, 401);
    let (status, body) = post(
        addr,
        "/bridge/call/whoami?realm=tickets",
        &[("Authorization", "Ticket alice:secret123")],
        "",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["kwargs"],
        json!({"authid": "alice", "realm": "tickets"})
    );
    // HTTP Basic, alice:secret123.
    let (status, body) = post(
        addr,
        "/bridge/call/whoami?realm=tickets",
        &[("Authorization", "Basic YWxpY2U6c2VjcmV0MTIz")],
        "",
    )
    .await;
    assert_eq!((status, &body["kwargs"]["authid"]), (200, &json!("alice")));

    // Cookie realm with an authorizer.
    let (status, body) = post(addr, "/bridge/call/whoami?realm=cookies", &[], "").await;
    assert_eq!(
        (status, &body["error"]),
        (401, &json!("wamp.error.authentication_failed"))
    );
    let jeff = [("Cookie", "myName=Jeff")];
    let (status, body) = post(addr, "/bridge/call/whoami?realm=cookies", &jeff, "").await;
    assert_eq!(status, 200);
    assert_eq!(body["kwargs"]["authid"], "Jeff");
    let (status, body) = post(addr, "/bridge/call/secret.plans?realm=cookies", &jeff, "").await;
    assert_eq!(
        (status, &body["error"]),
        (403, &json!("wamp.error.not_authorized"))
    );
    // A page of another origin does not get to use the cookie.
    let cross = [("Cookie", "myName=Jeff"), ("Origin", "http://evil.example")];
    let (status, _) = post(addr, "/bridge/call/whoami?realm=cookies", &cross, "").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn publications_reach_subscribers() {
    let app = app();
    let addr = serve(&app).await;
    let mut subscriber = Client::connect(&app, "wamp.2.json").await;
    subscriber.join("open").await;
    subscriber.send(json!([32, 1, {}, "news.open"])).await;
    subscriber.expect(json!([33, 1, "<id>"])).await;

    let (status, body) = post(
        addr,
        "/bridge/publish/news.open",
        &[],
        r#"{"realm": "open", "args": ["hello"], "kwargs": {"n": 1}}"#,
    )
    .await;
    assert_eq!(status, 200);
    let publication = body["publication"].as_u64().expect("a publication ID");
    subscriber
        .expect(json!([36, "<id>", publication, {}, ["hello"], {"n": 1}]))
        .await;

    // A topic route takes it in any realm; without one, a realm that is not
    // an open broker refuses.
    let (status, _) = post(addr, "/bridge/publish/news.routed?realm=realm1", &[], "").await;
    assert_eq!(status, 200);
    let (status, body) = post(addr, "/bridge/publish/news.other?realm=realm1", &[], "").await;
    assert_eq!(
        (status, &body["error"]),
        (403, &json!("wamp.error.not_authorized"))
    );
}

#[tokio::test]
async fn a_request_holds_a_realm_made_on_demand_for_its_duration() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let made = Arc::new(AtomicUsize::new(0));
    let torn_down = Arc::new(AtomicUsize::new(0));
    let mut app = app();
    app.disable_default_realm();
    let (m, t) = (made.clone(), torn_down.clone());
    app.set_realm_factory(move |name: &str| {
        let tenant = name.strip_prefix("tenant.")?.to_owned();
        m.fetch_add(1, Ordering::SeqCst);
        let mut routes = RpcRouteSet::new();
        routes.route("tenant.name", move || std::future::ready(tenant.clone()));
        let mut realm = serverwamp::Realm::new();
        realm.add_routes(routes);
        let t = t.clone();
        realm.on_teardown(move |_| {
            t.fetch_add(1, Ordering::SeqCst);
        });
        Some(realm)
    });
    let addr = serve(&app).await;
    let (status, body) = post(addr, "/bridge/call/tenant.name?realm=tenant.acme", &[], "").await;
    assert_eq!(
        (status, body),
        (200, json!({"args": ["acme"], "kwargs": {}}))
    );
    assert_eq!(made.load(Ordering::SeqCst), 1);
    assert_eq!(torn_down.load(Ordering::SeqCst), 1);
    assert_eq!(app.dynamic_realm_count(), 0);
    let (status, body) = post(addr, "/bridge/call/tenant.name?realm=elsewhere", &[], "").await;
    assert_eq!(
        (status, &body["error"]),
        (404, &json!("wamp.error.no_such_realm"))
    );
}
