//! WAMP over RawSocket alone: a TCP port and, on Unix, a Unix domain
//! socket, both serving the same application (no HTTP at all).
//!
//! ```text
//! cargo run --example rawsocket
//! ```
//!
//! Then connect a RawSocket client to `rs://127.0.0.1:8081` (autobahn-python:
//! `Component(transports=[{"type": "rawsocket", "url": "rs://127.0.0.1:8081",
//! "serializer": "cbor"}], realm="realm1")`) or to the Unix socket
//! `/tmp/serverwamp-example.sock`, and call `math.add` with `[2, 3]`.

use serde::Deserialize;
use serverwamp::Application;
use serverwamp::rpc::{Params, RpcRouteSet};
use serverwamp::transport::rawsocket::{self, RawSocketSettings};

#[derive(Deserialize)]
struct AddParams {
    number1: f64,
    number2: f64,
}

async fn add(Params(p): Params<AddParams>) -> f64 {
    p.number1 + p.number2
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();

    let mut routes = RpcRouteSet::new();
    routes.route("math.add", add);
    let mut app = Application::new();
    app.add_routes(routes);

    // Clients may send messages up to 1 MiB; at most 1,000 connections.
    let settings = RawSocketSettings::new()
        .max_message_length_exponent(20)
        .max_connections(1_000);

    let tcp = tokio::net::TcpListener::bind("127.0.0.1:8081").await?;
    tracing::info!("RawSocket on rs://127.0.0.1:8081");
    let tcp = rawsocket::serve(app.clone(), tcp, settings);

    #[cfg(unix)]
    let unix = {
        let path = std::env::temp_dir().join("serverwamp-example.sock");
        // A socket file left by an earlier run would make bind fail.
        let _ = std::fs::remove_file(&path);
        let unix = tokio::net::UnixListener::bind(&path)?;
        tracing::info!("RawSocket on unix:{}", path.display());
        rawsocket::serve(app.clone(), unix, settings)
    };
    #[cfg(not(unix))]
    let unix = std::future::pending::<std::io::Result<()>>();

    tokio::select! {
        served = tcp => served?,
        served = unix => served?,
        _ = tokio::signal::ctrl_c() => {
            // Stop accepting, then GOODBYE to every session.
            app.close_sessions(std::time::Duration::from_secs(3)).await;
        }
    }
    Ok(())
}
