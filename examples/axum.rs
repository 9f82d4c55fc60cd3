//! WAMP beside ordinary routes in an axum application.
//!
//! Run with `cargo run --example axum`, then connect a WAMP client to
//! `ws://127.0.0.1:8080/ws` (subprotocol `wamp.2.json`, `wamp.2.msgpack`, …).

use std::net::SocketAddr;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::get;
use serverwamp::Application;
use serverwamp::transport::websocket::WebSocketService;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let app = Application::new();

    // The WebSocket service does the upgrade itself, so axum's `ws` feature
    // is not needed. axum keeps the peer's address in a `ConnectInfo`
    // extension; tell the service to read it from there.
    let wamp = WebSocketService::new(app.clone()).peer_address_from(|request| {
        let ConnectInfo(addr) = request.extensions.get::<ConnectInfo<SocketAddr>>()?;
        Some(*addr)
    });

    let router = Router::new()
        .route_service("/ws", wamp)
        .route("/health", get(|| async { "ok" }));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    // `with_connect_info` is what puts `ConnectInfo<SocketAddr>` into every
    // request.
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}
