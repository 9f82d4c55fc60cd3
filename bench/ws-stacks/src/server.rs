//! The echo server: one shared opening handshake, then each stack's own
//! WebSocket on the bare TCP socket.

use std::net::SocketAddr;

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::coalesce::CoalescingIo;
use crate::{BUFFER, MAX_MESSAGE, Stack};

pub async fn serve(addr: SocketAddr, stack: Stack) -> Result<(), String> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("bind {addr}: {e}"))?;
    // The side port (one above): answers each connection with the bytes
    // the server has allocated, for the idle-memory probe.
    let side = TcpListener::bind(SocketAddr::new(addr.ip(), addr.port() + 1))
        .await
        .map_err(|e| format!("bind side port: {e}"))?;
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = side.accept().await {
            let _ = tcp
                .write_all(format!("{}\n", crate::alloc::live()).as_bytes())
                .await;
        }
    });
    println!(
        "listening on {} ({stack:?})",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                eprintln!("accept: {error}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            let Some(tcp) = handshake(tcp).await else {
                return;
            };
            match stack {
                Stack::Tungstenite => tungstenite_echo(tcp).await,
                Stack::TokioWebsockets => tokio_websockets_echo(tcp).await,
                Stack::Fastwebsockets => fastwebsockets_echo(tcp).await,
            }
        });
    }
}

/// Reads the upgrade request and answers `101 Switching Protocols`. The
/// client sends nothing before the answer, so nothing past the request's
/// end is read. Kept minimal on purpose: it is the same for every stack
/// and its buffer is freed before the WebSocket starts.
async fn handshake(mut tcp: TcpStream) -> Option<TcpStream> {
    let mut request = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = tcp.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        request.extend_from_slice(&chunk[..n]);
        if request.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
        if request.len() > 16 * 1024 {
            return None;
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut parsed = httparse::Request::new(&mut headers);
    parsed.parse(&request).ok()?;
    let key = parsed
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-key"))?
        .value;
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key);
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    tcp.write_all(response.as_bytes()).await.ok()?;
    Some(tcp)
}

/// tokio-tungstenite 0.30 as serverwamp configures it: 4 KiB read and
/// write buffers, 16 MiB message and frame limits; answers fed and flushed
/// once no received message is ready.
pub async fn tungstenite_echo<S: AsyncRead + AsyncWrite + Unpin>(tcp: S) {
    use tokio_tungstenite::WebSocketStream;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

    let config = WebSocketConfig::default()
        .read_buffer_size(BUFFER)
        .write_buffer_size(BUFFER)
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let mut ws = WebSocketStream::from_raw_socket(tcp, Role::Server, Some(config)).await;
    let mut unflushed = false;
    loop {
        let Ok(next) = next_or_flush::<_, Message>(&mut ws, &mut unflushed).await else {
            return;
        };
        match next {
            Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => {
                if ws.feed(message).await.is_err() {
                    return;
                }
                unflushed = true;
            }
            // Pongs and the close reply are queued by tungstenite itself.
            Some(Ok(_)) => {}
            None => return,
            // As serverwamp's reader and writer do: the error's close code,
            // then the close frame.
            Some(Err(error)) => {
                use tokio_tungstenite::tungstenite::Error;
                use tokio_tungstenite::tungstenite::protocol::CloseFrame;
                use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
                let code = match error {
                    Error::Capacity(_) => CloseCode::Size,
                    Error::Utf8(_) => CloseCode::Invalid,
                    Error::Protocol(_) => CloseCode::Protocol,
                    _ => return,
                };
                let close = CloseFrame {
                    code,
                    reason: "".into(),
                };
                let _ = ws.send(Message::Close(Some(close))).await;
                return;
            }
        }
    }
}

/// The next message; when none is waiting, first flushes what was fed
/// (the write coalescing serverwamp's writer does). `Err` if that flush
/// failed.
async fn next_or_flush<W, T>(ws: &mut W, unflushed: &mut bool) -> Result<Option<W::Item>, ()>
where
    W: futures_util::Stream + futures_util::Sink<T> + Unpin,
{
    if let Some(next) = ws.next().now_or_never() {
        return Ok(next);
    }
    if *unflushed {
        ws.flush().await.map_err(|_| ())?;
        *unflushed = false;
    }
    Ok(ws.next().await)
}

/// tokio-websockets: 16 MiB payload limit (it has one limit, for messages
/// and frames alike), outgoing messages never split (frame_size 16 MiB, as
/// tungstenite does not split), a 4 KiB flush threshold; the read buffer is
/// tokio-util's `FramedRead` default (8 KiB, not settable). Same feed and
/// flush pattern as tungstenite.
pub async fn tokio_websockets_echo<S: AsyncRead + AsyncWrite + Unpin>(tcp: S) {
    use tokio_websockets::{Config, Limits, ServerBuilder};

    let mut ws = ServerBuilder::new()
        .config(
            Config::default()
                .frame_size(MAX_MESSAGE)
                .flush_threshold(BUFFER),
        )
        .limits(Limits::default().max_payload_len(Some(MAX_MESSAGE)))
        .serve(tcp);
    let mut unflushed = false;
    loop {
        let Ok(next) = next_or_flush::<_, tokio_websockets::Message>(&mut ws, &mut unflushed).await
        else {
            return;
        };
        match next {
            Some(Ok(message)) if message.is_text() || message.is_binary() => {
                if ws.feed(message).await.is_err() {
                    return;
                }
                unflushed = true;
            }
            // Pongs and the close reply are queued by tokio-websockets.
            Some(Ok(_)) => {}
            None => return,
            // On a protocol error or a too large message it has queued the
            // close frame with the right code itself: send it.
            // Except for a message over the limit by its fragments, which
            // leaves the stream open: the caller sends 1009 (serverwamp's
            // writer would).
            Some(Err(error)) => {
                if matches!(error, tokio_websockets::Error::PayloadTooLong { .. }) {
                    let close = tokio_websockets::Message::close(
                        Some(tokio_websockets::CloseCode::MESSAGE_TOO_BIG),
                        "",
                    );
                    let _ = ws.feed(close).await;
                }
                let _ = ws.flush().await;
                return;
            }
        }
    }
}

/// fastwebsockets: `FragmentCollector` for whole messages (strict UTF-8 of
/// fragmented text is only checked there), auto pong and close, 16 MiB
/// limit (per frame: the collector has no message limit), its read buffer
/// is 8 KiB (not settable). It writes each frame straight to the I/O and
/// its `read_frame` is not cancel-safe, so the coalescing is done below it
/// by `CoalescingIo` (4 KiB, flushed when a read would wait).
pub async fn fastwebsockets_echo<S: AsyncRead + AsyncWrite + Unpin>(tcp: S) {
    use fastwebsockets::{FragmentCollector, Frame, OpCode, Role, WebSocket};

    let capacity = if std::env::var_os("WS_STACKS_NO_COALESCE").is_some() {
        0
    } else {
        BUFFER
    };
    let mut ws = WebSocket::after_handshake(CoalescingIo::new(tcp, capacity), Role::Server);
    // Payloads over 1 KiB go out as header + payload in one vectored
    // write (no copy); smaller frames are copied into its write buffer.
    ws.set_writev(true);
    ws.set_auto_close(true);
    ws.set_auto_pong(true);
    ws.set_max_message_size(MAX_MESSAGE + 1);
    let mut ws = FragmentCollector::new(ws);
    loop {
        let frame = match ws.read_frame().await {
            Ok(frame) => frame,
            // It sends a close frame itself only for a bad close code: for
            // other violations send the one RFC 6455 asks for.
            Err(error) => {
                use fastwebsockets::WebSocketError as E;
                let code = match error {
                    E::InvalidUTF8 => 1007,
                    E::FrameTooLarge => 1009,
                    E::IoError(_) | E::UnexpectedEOF | E::ConnectionClosed => return,
                    // Its own 1002 is already in the write buffer.
                    E::InvalidCloseCode => {
                        let _ = ws.into_inner().flush().await;
                        return;
                    }
                    _ => 1002,
                };
                let _ = ws.write_frame(Frame::close(code, b"")).await;
                let _ = ws.into_inner().flush().await;
                return;
            }
        };
        match frame.opcode {
            OpCode::Text | OpCode::Binary => {
                let answer = Frame::new(true, frame.opcode, None, frame.payload);
                if ws.write_frame(answer).await.is_err() {
                    return;
                }
            }
            OpCode::Close => {
                // The close reply sits in the coalescing buffer.
                let _ = ws.into_inner().flush().await;
                return;
            }
            _ => {}
        }
    }
}
