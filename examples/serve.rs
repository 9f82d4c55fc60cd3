//! WAMP without a web framework: RawSocket, WebSocket and a plain
//! `GET /health` on one port, with TLS if given a certificate.
//!
//! ```text
//! cargo run --example serve
//! cargo run --example serve -- --cert cert.pem --key key.pem [--client-ca ca.pem]
//! ```
//!
//! Then connect a WAMP client to `ws://127.0.0.1:8080/ws` (subprotocol
//! `wamp.2.json`, `wamp.2.msgpack`, …) or `rs://127.0.0.1:8080` (RawSocket),
//! or `wss://` and RawSocket over TLS with `--cert`; `curl
//! http://127.0.0.1:8080/health` answers `ok`. The procedure
//! `com.example.whoami` tells a client how it is connected.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use serverwamp::rpc::{RpcResult, RpcRouteSet};
use serverwamp::transport::listener::{self, ServeOptions};
use serverwamp::transport::tls::TlsConfig;
use serverwamp::{Application, Session};

/// Serves a WAMP application on one port.
#[derive(Parser, Debug)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// The server's certificate chain (PEM); turns TLS on, with --key.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// The server's private key (PEM).
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// CA certificates (PEM) that issue client certificates; clients may
    /// then present one, and `com.example.whoami` says whether they did.
    #[arg(long, requires = "cert")]
    client_ca: Option<PathBuf>,
}

/// How the caller is connected.
async fn whoami(session: Session) -> RpcResult {
    let transport = session.transport();
    RpcResult::new()
        .kwarg("session", session.id().get())
        .kwarg("transport", format!("{:?}", transport.kind()))
        .kwarg("peer", transport.peer_address().to_string())
        .kwarg("tls", transport.is_secure())
        .kwarg("client_certificate", transport.peer_certificate().is_some())
}

/// Everything that is not the WebSocket path: `GET /health`, or 404.
async fn http(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, body) = match request.uri().path() {
        "/health" => (StatusCode::OK, "ok\n"),
        _ => (StatusCode::NOT_FOUND, "not found\n"),
    };
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    Ok(response)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();

    let mut routes = RpcRouteSet::new();
    routes.route("com.example.whoami", whoami);
    let mut app = Application::new();
    app.add_routes(routes);

    let mut options = ServeOptions::new().fallback(tower::service_fn(http));
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        let mut tls = TlsConfig::from_pem_files(cert, key)?;
        if let Some(ca) = &args.client_ca {
            tls = tls.client_ca_pem_file(ca)?;
        }
        options = options.tls(tls.build()?);
    }
    let scheme = if args.cert.is_some() { "wss" } else { "ws" };

    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    tracing::info!(
        "serving WAMP on {scheme}://{addr}/ws and RawSocket on {addr}, health on /health",
        addr = args.addr
    );
    tokio::select! {
        served = listener::serve(app.clone(), listener, options) => served?,
        _ = tokio::signal::ctrl_c() => {
            tracing::info!("shutting down");
            // Stop accepting (the serve future is dropped), then end the
            // sessions with GOODBYE, waiting up to 3 s for them to end.
            app.close_sessions(std::time::Duration::from_secs(3)).await;
        }
    }
    Ok(())
}
