//! The WebSocket service over real sockets on 127.0.0.1: served by axum
//! beside an ordinary route, and by plain hyper.

mod support;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use http::HeaderValue;
use http::header::SEC_WEBSOCKET_PROTOCOL;
use serverwamp::Application;
use serverwamp::transport::websocket::{WebSocketService, WebSocketSettings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Serves `/ws` and `/health` with axum on a free port.
async fn axum_server(settings: WebSocketSettings) -> SocketAddr {
    let wamp = WebSocketService::new(Application::new())
        .with_config(settings)
        .peer_address_from(|request| {
            let ConnectInfo(addr) = request.extensions.get::<ConnectInfo<SocketAddr>>()?;
            Some(*addr)
        });
    let router = Router::new()
        .route_service("/ws", wamp)
        .route("/health", get(|| async { "ok" }));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("axum server");
    });
    addr
}

/// Serves the WebSocket service on every path with plain hyper.
async fn hyper_server() -> SocketAddr {
    support::serve_with_hyper(WebSocketService::new(Application::new())).await
}

/// Opens a WebSocket offering `protocols`; returns the client and the
/// subprotocol the server chose.
async fn connect(addr: SocketAddr, path: &str, protocols: &'static str) -> (Client, String) {
    let mut request = format!("ws://{addr}{path}")
        .into_client_request()
        .expect("client request");
    request
        .headers_mut()
        .insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(protocols));
    let (client, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("WebSocket handshake");
    assert_eq!(response.status(), http::StatusCode::SWITCHING_PROTOCOLS);
    let chosen = response.headers()[SEC_WEBSOCKET_PROTOCOL]
        .to_str()
        .expect("ASCII subprotocol")
        .to_owned();
    (client, chosen)
}

/// Sends a raw HTTP/1.1 request; returns the status code, the headers (as
/// lines) and the body.
async fn raw_request(addr: SocketAddr, head: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("{head}Host: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("read response");
    let (head, body) = response
        .split_once("\r\n\r\n")
        .expect("end of the response head");
    let (status_line, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("status code");
    (status, headers.to_ascii_lowercase(), body.to_owned())
}

fn upgrade_head(protocols: Option<&str>) -> String {
    let mut head = "GET /ws HTTP/1.1\r\n\
                    Upgrade: websocket\r\n\
                    Sec-WebSocket-Version: 13\r\n\
                    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        .to_owned();
    if let Some(protocols) = protocols {
        head.push_str(&format!("Sec-WebSocket-Protocol: {protocols}\r\n"));
    }
    head
}

#[tokio::test]
async fn json_is_negotiated_and_echoed() {
    let addr = axum_server(WebSocketSettings::new()).await;
    let (_client, chosen) = connect(addr, "/ws", "wamp.2.json").await;
    assert_eq!(chosen, "wamp.2.json");
}

#[tokio::test]
async fn the_clients_order_of_preference_wins() {
    let addr = axum_server(WebSocketSettings::new()).await;
    let (_client, chosen) = connect(addr, "/ws", "wamp.2.msgpack, wamp.2.json").await;
    assert_eq!(chosen, "wamp.2.msgpack");
    let (_client, chosen) = connect(addr, "/ws", "foo, wamp.2.cbor.batched").await;
    assert_eq!(chosen, "wamp.2.cbor.batched");
}

#[tokio::test]
async fn an_upgrade_without_a_wamp_subprotocol_is_a_400() {
    let addr = axum_server(WebSocketSettings::new()).await;
    for protocols in [Some("foo"), None] {
        // The raw request has no `Connection: Upgrade` yet; `raw_request`
        // adds `Connection: close`, so say both.
        let head = upgrade_head(protocols).replace(
            "Upgrade: websocket\r\n",
            "Upgrade: websocket\r\nConnection: Upgrade\r\n",
        );
        let (status, _headers, body) = raw_request(addr, &head).await;
        assert_eq!(status, 400, "{protocols:?}: {body}");
        for subprotocol in serverwamp::protocol::Codec::SUBPROTOCOLS {
            assert!(body.contains(subprotocol), "{body}");
        }
    }
}

#[tokio::test]
async fn an_upgrade_without_connection_upgrade_is_a_400() {
    let addr = axum_server(WebSocketSettings::new()).await;
    let (status, _headers, body) = raw_request(addr, &upgrade_head(Some("wamp.2.json"))).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Connection"), "{body}");
}

#[tokio::test]
async fn a_plain_get_is_told_to_upgrade() {
    let addr = axum_server(WebSocketSettings::new()).await;
    let (status, headers, body) = raw_request(addr, "GET /ws HTTP/1.1\r\n").await;
    assert_eq!(status, 426, "{body}");
    assert!(headers.contains("upgrade: websocket"), "{headers}");
    assert!(body.contains("WebSocket"), "{body}");
}

#[tokio::test]
async fn other_routes_still_answer() {
    let addr = axum_server(WebSocketSettings::new()).await;
    let (status, _headers, body) = raw_request(addr, "GET /health HTTP/1.1\r\n").await;
    assert_eq!((status, body.as_str()), (200, "ok"));
}

#[tokio::test]
async fn pings_are_answered_and_closes_completed() {
    let addr = axum_server(WebSocketSettings::new()).await;
    let (mut client, _) = connect(addr, "/ws", "wamp.2.json").await;
    client
        .send(Message::Ping("are you there".into()))
        .await
        .unwrap();
    assert_eq!(
        client.next().await.unwrap().unwrap(),
        Message::Pong("are you there".into())
    );
    client.close(None).await.unwrap();
    assert!(matches!(client.next().await, Some(Ok(Message::Close(_)))));
    assert!(client.next().await.is_none());
}

#[tokio::test]
async fn a_too_large_message_closes_with_1009() {
    let addr = axum_server(WebSocketSettings::new().max_message_size(1024)).await;
    let (mut client, _) = connect(addr, "/ws", "wamp.2.msgpack").await;
    client.send(Message::binary(vec![0u8; 2048])).await.unwrap();
    // The session may say goodbye in WAMP first; the WebSocket close frame
    // carries the reason.
    loop {
        match client.next().await {
            Some(Ok(Message::Binary(_))) => {}
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(frame.code, CloseCode::Size);
                break;
            }
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn plain_hyper_serves_the_upgrade() {
    let addr = hyper_server().await;
    let (mut client, chosen) = connect(addr, "/anywhere", "wamp.2.cbor").await;
    assert_eq!(chosen, "wamp.2.cbor");
    client.close(None).await.unwrap();
    let rest: Vec<_> = client.collect().await;
    assert!(
        rest.iter().all(|item| matches!(
            item,
            Ok(Message::Close(_)) | Err(tungstenite::Error::ConnectionClosed)
        )),
        "{rest:?}"
    );
}

/// The quick start's shape: `app.websocket_service()` in an axum router
/// served with `into_make_service_with_connect_info`, nothing else wired.
/// Sessions know their peer's address, so a peer-address authenticator
/// admits a local client.
#[tokio::test]
async fn under_axum_sessions_know_the_peer_address_without_wiring() {
    use serverwamp::auth::{Authenticated, NewSession};
    use serverwamp::transport::PeerAddress;
    let mut routes = serverwamp::rpc::RpcRouteSet::new();
    routes.route("peer", |session: serverwamp::Session| async move {
        session.transport().peer_address().to_string()
    });
    let mut app = Application::new();
    app.add_routes(routes);
    app.add_transport_authenticator(|session: NewSession| async move {
        matches!(session.transport().peer_address(), PeerAddress::Ip(a) if a.ip().is_loopback())
            .then(|| Authenticated::anonymous().authid("local"))
    });
    let router = Router::new().route_service("/ws", app.websocket_service());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("axum server");
    });
    let (mut client, _) = connect(addr, "/ws", "wamp.2.json").await;
    client
        .send(Message::text(r#"[1,"realm1",{"roles":{"caller":{}}}]"#))
        .await
        .expect("HELLO");
    let welcome = client.next().await.expect("a frame").expect("WELCOME");
    let welcome = welcome.to_text().expect("text");
    assert!(
        welcome.starts_with("[2,") && welcome.contains(r#""authid":"local""#),
        "{welcome}"
    );
    client
        .send(Message::text(r#"[48,1,{},"peer"]"#))
        .await
        .expect("CALL");
    let result = client.next().await.expect("a frame").expect("RESULT");
    assert_eq!(
        result.to_text().expect("text"),
        r#"[50,1,{},["127.0.0.1"]]"#
    );
}
