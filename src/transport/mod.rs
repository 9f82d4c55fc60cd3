//! Transports: they move frames between a peer and a WAMP session and know
//! nothing of routing.
//!
//! A transport hands each connection to the engine as a frame reader and
//! a frame writer plus the [`TransportInfo`] that authenticators and
//! handlers may read.

pub mod listener;
pub mod rawsocket;
#[cfg(feature = "tls")]
pub mod tls;
pub mod websocket;

pub use crate::link::{PeerAddress, TransportInfo, TransportKind};

/// How long an accept loop waits after an error that may pass (out of file
/// descriptors, say) before accepting again.
const ACCEPT_RETRY_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

/// What an accept loop does with an accept error: errors about one
/// connection are skipped, an unusable listener ends the loop (`Err`), and
/// anything else is logged and retried after [`ACCEPT_RETRY_DELAY`].
pub(crate) async fn on_accept_error(error: std::io::Error) -> std::io::Result<()> {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::ConnectionAborted
        | ErrorKind::ConnectionRefused
        | ErrorKind::ConnectionReset
        | ErrorKind::Interrupted
        | ErrorKind::WouldBlock => Ok(()),
        // The listener itself is unusable: retrying cannot help.
        ErrorKind::InvalidInput => Err(error),
        _ => {
            tracing::error!(%error, "accept failed; retrying in {ACCEPT_RETRY_DELAY:?}");
            tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
            Ok(())
        }
    }
}
