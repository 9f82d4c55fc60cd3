//! WAMP on plain hyper, without a web framework.
//!
//! Run with `cargo run --example hyper`, then connect a WAMP client to
//! `ws://127.0.0.1:8080/` (subprotocol `wamp.2.json`, `wamp.2.msgpack`, …).

use http::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use serverwamp::Application;
use serverwamp::transport::websocket::{ConnectionAddr, WebSocketService};
use tokio::net::TcpListener;
use tower::util::MapRequest;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let app = Application::new();
    let service = WebSocketService::new(app);

    let listener = TcpListener::bind("127.0.0.1:8080").await?;
    loop {
        let (stream, peer) = listener.accept().await?;

        // hyper does not tell a service who the peer is: insert the address
        // into each request so that sessions can see it.
        let service = MapRequest::new(service.clone(), move |mut request: Request<_>| {
            request.extensions_mut().insert(ConnectionAddr(peer));
            request
        });

        tokio::spawn(async move {
            // `with_upgrades`: the WebSocket takes over the connection after
            // the `101 Switching Protocols` response.
            let served = auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(
                    TokioIo::new(stream),
                    TowerToHyperService::new(service),
                )
                .await;
            if let Err(error) = served {
                tracing::debug!(%error, %peer, "connection failed");
            }
        });
    }
}
