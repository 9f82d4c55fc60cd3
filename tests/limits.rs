//! Limits and deadlines over real sockets on 127.0.0.1: a WebSocket that
//! never says HELLO, an idle session, too many calls, too many
//! subscriptions.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use serverwamp::pubsub::TopicRouteSet;
use serverwamp::rpc::RpcRouteSet;
use serverwamp::{Application, Limits};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Serves `app` over WebSocket with plain hyper on a free port.
async fn serve(app: &Application) -> SocketAddr {
    support::serve_with_hyper(app.websocket_service()).await
}

async fn connect(addr: SocketAddr) -> Ws {
    let mut request = format!("ws://{addr}/ws")
        .into_client_request()
        .expect("a request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "wamp.2.json".parse().expect("a header"),
    );
    tokio_tungstenite::connect_async(request)
        .await
        .expect("the handshake")
        .0
}

async fn send(ws: &mut Ws, message: serde_json::Value) {
    ws.send(Message::text(message.to_string()))
        .await
        .expect("sent");
}

/// The next WAMP message, or `None` once the connection closed.
async fn recv(ws: &mut Ws) -> Option<serde_json::Value> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("something arrives in time");
        match frame {
            Some(Ok(Message::Text(text))) => {
                return Some(serde_json::from_str(&text).expect("JSON"));
            }
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => {}
        }
    }
}

async fn expect(ws: &mut Ws, expected: serde_json::Value) -> serverwamp::protocol::Value {
    let message = recv(ws)
        .await
        .unwrap_or_else(|| panic!("expected {expected}, got the end"));
    let value = support::value(&message);
    assert!(
        support::matches(&expected, &value),
        "expected {expected}, got {message}"
    );
    value
}

async fn join(ws: &mut Ws) {
    send(
        ws,
        json!([1, "realm1", {"roles": {"caller": {}, "subscriber": {}}}]),
    )
    .await;
    expect(ws, json!([2, "<id>", {}])).await;
}

#[tokio::test]
async fn a_websocket_that_never_says_hello_is_closed_and_counted() {
    let mut app = Application::new();
    app.set_limits(Limits::new().hello_timeout(Duration::from_millis(300)));
    let addr = serve(&app).await;
    let mut ws = connect(addr).await;
    let started = Instant::now();
    assert_eq!(recv(&mut ws).await, None, "closed without a message");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    assert_eq!(app.stats().hello_timeouts, 1);

    // After a GOODBYE the connection waits for a new HELLO, as long.
    let mut ws = connect(addr).await;
    join(&mut ws).await;
    send(&mut ws, json!([6, {}, "wamp.close.close_realm"])).await;
    expect(&mut ws, json!([6, {}, "wamp.close.goodbye_and_out"])).await;
    assert_eq!(recv(&mut ws).await, None);
    assert_eq!(app.stats().hello_timeouts, 2);
}

#[tokio::test]
async fn an_idle_session_is_closed_unless_it_talks_or_calls() {
    let mut routes = RpcRouteSet::new();
    routes.route("slow", || async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        "done"
    });
    let mut app = Application::new();
    app.add_routes(routes);
    app.set_limits(Limits::new().idle_timeout(Some(Duration::from_millis(300))));
    let addr = serve(&app).await;
    let mut ws = connect(addr).await;
    join(&mut ws).await;
    // A running call keeps the session busy past the idle deadline.
    send(&mut ws, json!([48, 1, {}, "slow"])).await;
    expect(&mut ws, json!([50, 1, {}, ["done"]])).await;
    assert_eq!(app.stats().idle_timeouts, 0);
    // Then silence: GOODBYE between one and two idle timeouts later, and
    // the connection closes after the reply.
    let started = Instant::now();
    expect(
        &mut ws,
        json!([6, {"message": "the session was idle for 300ms"}, "wamp.close.killed"]),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    send(&mut ws, json!([6, {}, "wamp.close.goodbye_and_out"])).await;
    assert_eq!(recv(&mut ws).await, None);
    assert_eq!(app.stats().idle_timeouts, 1);
}

#[tokio::test]
async fn calls_and_subscriptions_over_the_limit_are_refused_and_the_session_goes_on() {
    let mut routes = RpcRouteSet::new();
    routes
        .route("wait", || async {
            tokio::time::sleep(Duration::from_millis(500)).await;
        })
        .route("now", || async { 1 });
    let mut topics = TopicRouteSet::new();
    topics.subscribe_prefix("news", || async {});
    let mut app = Application::new();
    app.add_routes(routes);
    app.add_topics(topics);
    app.set_limits(Limits::new().max_calls_in_flight(2).max_subscriptions(2));
    let addr = serve(&app).await;
    let mut ws = connect(addr).await;
    join(&mut ws).await;
    send(&mut ws, json!([48, 1, {}, "wait"])).await;
    send(&mut ws, json!([48, 2, {}, "wait"])).await;
    send(&mut ws, json!([48, 3, {}, "wait"])).await;
    expect(
        &mut ws,
        json!([
            8,
            48,
            3,
            {},
            "serverwamp.error.too_many_calls",
            ["this session already has 2 calls running, the most it may"]
        ]),
    )
    .await;
    expect(&mut ws, json!([50, 1, {}])).await;
    expect(&mut ws, json!([50, 2, {}])).await;
    // Finished calls free their place; calls that finish at once never
    // take one.
    for request in [4, 11, 12] {
        send(&mut ws, json!([48, request, {}, "now"])).await;
        expect(&mut ws, json!([50, request, {}, [1]])).await;
    }
    assert_eq!(app.stats().calls_refused, 1);

    send(&mut ws, json!([32, 5, {}, "news.a"])).await;
    expect(&mut ws, json!([33, 5, "<id>"])).await;
    send(&mut ws, json!([32, 6, {}, "news.b"])).await;
    let b = expect(&mut ws, json!([33, 6, "<id>"])).await;
    send(&mut ws, json!([32, 7, {}, "news.c"])).await;
    expect(
        &mut ws,
        json!([8, 32, 7, {}, "serverwamp.error.too_many_subscriptions", "*"]),
    )
    .await;
    // A subscription the session holds already is no new one.
    send(&mut ws, json!([32, 8, {}, "news.b"])).await;
    expect(&mut ws, json!([33, 8, "<id>"])).await;
    // Room again once one ends.
    let b = b.as_list().unwrap()[2].as_u64().unwrap();
    send(&mut ws, json!([34, 9, b])).await;
    expect(&mut ws, json!([35, 9])).await;
    send(&mut ws, json!([32, 10, {}, "news.c"])).await;
    expect(&mut ws, json!([33, 10, "<id>"])).await;
    assert_eq!(app.stats().subscriptions_refused, 1);
}
