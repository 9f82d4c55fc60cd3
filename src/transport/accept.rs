//! Accepting connections: the [`Listener`] trait that the servers' accept
//! loops take, its implementations for tokio's TCP and Unix domain socket
//! listeners, and the one accept loop with its error policy.

use std::future::Future;
use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
#[cfg(unix)]
use tokio::net::{UnixListener, UnixStream};

use crate::link::PeerAddress;

/// How long the accept loop waits after an error that may pass (out of
/// file descriptors, say) before accepting again.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_secs(1);

/// A source of connections, each with the peer's address as sessions see
/// it: what [`Server::serve`](crate::transport::listener::Server::serve)
/// and [`RawSocketServer::serve`](crate::transport::rawsocket::RawSocketServer::serve)
/// accept from.
///
/// It is implemented for [`tokio::net::TcpListener`], whose connections
/// get `TCP_NODELAY` and are seen as [`PeerAddress::Ip`], and (on Unix)
/// for [`tokio::net::UnixListener`], whose connections are seen as
/// [`PeerAddress::Unix`] with the client socket's path, most often empty
/// (an unnamed socket). Implement it for a listener of your own:
///
/// ```
/// use std::io;
///
/// use serverwamp::transport::{Listener, PeerAddress};
///
/// /// A TCP listener whose sessions do not learn their peer's address.
/// struct Anonymous(tokio::net::TcpListener);
///
/// impl Listener for Anonymous {
///     type Stream = tokio::net::TcpStream;
///
///     async fn accept(&mut self) -> io::Result<(Self::Stream, PeerAddress)> {
///         let (stream, _) = self.0.accept().await?;
///         Ok((stream, PeerAddress::Unknown))
///     }
/// }
/// ```
///
/// # Accept errors
///
/// The accept loop decides what an error from [`Listener::accept`] means
/// by its [`io::ErrorKind`]: `ConnectionAborted`, `ConnectionRefused`,
/// `ConnectionReset`, `Interrupted` and `WouldBlock` are about one
/// connection and skipped; `InvalidInput` (`EINVAL`, a listener that
/// cannot accept at all) ends the loop with that error; anything else (out
/// of file descriptors) is logged and retried after a second.
pub trait Listener: Send {
    /// The stream of one accepted connection.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Waits for the next connection: its stream and the peer's address.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Stream, PeerAddress)>> + Send;
}

impl Listener for TcpListener {
    type Stream = TcpStream;

    async fn accept(&mut self) -> io::Result<(TcpStream, PeerAddress)> {
        let (stream, addr) = TcpListener::accept(self).await?;
        // Sessions flush once per burst of messages, so Nagle's algorithm
        // would only delay small replies.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY not set");
        }
        Ok((stream, PeerAddress::Ip(addr)))
    }
}

#[cfg(unix)]
impl Listener for UnixListener {
    type Stream = UnixStream;

    async fn accept(&mut self) -> io::Result<(UnixStream, PeerAddress)> {
        let (stream, addr) = UnixListener::accept(self).await?;
        let path = addr
            .as_pathname()
            .map(|path| path.display().to_string())
            .unwrap_or_default();
        Ok((stream, PeerAddress::Unix(path)))
    }
}

/// Accepts connections from `listener` and hands each to `serve`, which
/// must not wait (it spawns a task), until the returned future is dropped
/// or the listener fails for good; see [`on_accept_error`].
pub(crate) async fn accept_loop<L, F>(mut listener: L, mut serve: F) -> io::Result<()>
where
    L: Listener,
    F: FnMut(L::Stream, PeerAddress),
{
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => serve(stream, peer),
            Err(error) => on_accept_error(error).await?,
        }
    }
}

/// What the accept loop does with an accept error: errors about one
/// connection are skipped, an unusable listener ends the loop (`Err`), and
/// anything else is logged and retried after [`ACCEPT_RETRY_DELAY`].
async fn on_accept_error(error: io::Error) -> io::Result<()> {
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

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    /// A listener that replays accept results, then fails with `EINVAL`.
    struct Scripted(VecDeque<io::Result<PeerAddress>>);

    impl Listener for Scripted {
        type Stream = tokio::io::DuplexStream;

        async fn accept(&mut self) -> io::Result<(Self::Stream, PeerAddress)> {
            let next = self
                .0
                .pop_front()
                .unwrap_or_else(|| Err(io::ErrorKind::InvalidInput.into()));
            next.map(|peer| (tokio::io::duplex(1).0, peer))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_loop_skips_retries_and_stops_as_the_error_says() {
        let script = Scripted(VecDeque::from([
            Ok(PeerAddress::Unix("a".to_owned())),
            Err(io::ErrorKind::ConnectionAborted.into()),
            Err(io::ErrorKind::ConnectionReset.into()),
            // Out of file descriptors: waits a second, then accepts on.
            Err(io::Error::other("EMFILE")),
            Ok(PeerAddress::Unknown),
        ]));
        let started = tokio::time::Instant::now();
        let mut served = Vec::new();
        let error = accept_loop(script, |_, peer| served.push(peer))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(
            served,
            [PeerAddress::Unix("a".to_owned()), PeerAddress::Unknown]
        );
        assert_eq!(started.elapsed(), ACCEPT_RETRY_DELAY);
    }

    #[tokio::test]
    async fn tcp_connections_are_ip_peers_without_nagle() {
        let mut listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (stream, peer) = Listener::accept(&mut listener).await.unwrap();
        assert_eq!(peer, PeerAddress::Ip(client.local_addr().unwrap()));
        assert!(stream.nodelay().unwrap());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn unix_connections_are_unix_peers() {
        let path =
            std::env::temp_dir().join(format!("serverwamp-accept-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let mut listener = UnixListener::bind(&path).unwrap();
        let _client = UnixStream::connect(&path).await.unwrap();
        let (_, peer) = Listener::accept(&mut listener).await.unwrap();
        // The client's socket is unnamed.
        assert_eq!(peer, PeerAddress::Unix(String::new()));
        let _ = std::fs::remove_file(&path);
    }
}
