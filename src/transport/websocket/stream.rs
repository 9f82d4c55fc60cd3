//! The session's reader and writer on an upgraded WebSocket connection:
//! WAMP messages as text (JSON) or binary frames, pings answered while
//! reading, and the close frame the session's end sends.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};

use crate::link::{FrameReader, FrameWriter, TransportError};

/// Builds the WebSocket on an upgraded connection and splits it into the
/// session's reader and writer.
pub(super) async fn halves<S>(
    io: S,
    config: WebSocketConfig,
    text: bool,
) -> (WebSocketReader<S>, WebSocketWriter<S>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let stream = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
    let (sink, stream) = stream.split();
    let close_code = Arc::new(AtomicU16::new(0));
    (
        WebSocketReader {
            stream,
            done: false,
            close_code: Arc::clone(&close_code),
            heard: 0,
        },
        WebSocketWriter {
            sink,
            text,
            close_code,
        },
    )
}

/// The receiving half of a WebSocket connection.
///
/// Pings are answered inside tungstenite while it reads: it queues the pong
/// and writes it through the shared stream on this or the next read, or on
/// the writer's next flush, whichever comes first.
pub(super) struct WebSocketReader<S> {
    stream: SplitStream<WebSocketStream<S>>,
    /// Set once the connection ended or failed: nothing more is read.
    done: bool,
    /// The close code the writer sends when the session closes, set when
    /// reading fails (0: none, a normal close).
    close_code: Arc<AtomicU16>,
    /// How many messages the peer has sent (pings and pongs included).
    heard: u64,
}

impl<S> WebSocketReader<S> {
    fn fail(&mut self, code: CloseCode, error: &tungstenite::Error) -> TransportError {
        self.done = true;
        self.close_code.store(code.into(), Ordering::Relaxed);
        let detail = format!("WebSocket: {error}");
        match code {
            CloseCode::Size => TransportError::too_large(detail),
            CloseCode::Protocol | CloseCode::Invalid => TransportError::protocol(detail),
            _ => TransportError::io(detail),
        }
    }
}

impl<S> FrameReader for WebSocketReader<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    async fn next_frame(&mut self) -> Option<Result<Bytes, TransportError>> {
        use tungstenite::Error;
        use tungstenite::error::ProtocolError;

        while !self.done {
            let Some(message) = self.stream.next().await else {
                self.done = true;
                return None;
            };
            self.heard = self.heard.wrapping_add(1);
            match message {
                Ok(Message::Text(text)) => return Some(Ok(Bytes::from(text))),
                Ok(Message::Binary(data)) => return Some(Ok(data)),
                // Pongs are queued by tungstenite itself.
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
                // tungstenite has queued the close reply; reading on writes
                // it and then ends the stream, completing the handshake
                // even if the session never closes.
                Ok(Message::Close(_)) => {}
                Err(Error::ConnectionClosed | Error::AlreadyClosed) => {
                    self.done = true;
                }
                // A peer that vanishes without a close frame (a killed
                // browser tab) has closed the connection all the same.
                Err(Error::Protocol(ProtocolError::ResetWithoutClosingHandshake)) => {
                    tracing::debug!("WebSocket peer closed without a close frame");
                    self.done = true;
                }
                Err(error @ Error::Capacity(_)) => {
                    return Some(Err(self.fail(CloseCode::Size, &error)));
                }
                Err(error @ Error::Utf8(_)) => {
                    return Some(Err(self.fail(CloseCode::Invalid, &error)));
                }
                Err(error @ Error::Protocol(_)) => {
                    return Some(Err(self.fail(CloseCode::Protocol, &error)));
                }
                Err(error) => return Some(Err(self.fail(CloseCode::Error, &error))),
            }
        }
        None
    }

    fn frames_heard(&self) -> Option<u64> {
        Some(self.heard)
    }
}

/// The sending half of a WebSocket connection.
pub(super) struct WebSocketWriter<S> {
    sink: SplitSink<WebSocketStream<S>, Message>,
    /// Whether frames go out as text (JSON) rather than binary.
    text: bool,
    close_code: Arc<AtomicU16>,
}

fn write_error(error: &tungstenite::Error) -> TransportError {
    TransportError::io(format!("WebSocket: {error}"))
}

impl<S> FrameWriter for WebSocketWriter<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    async fn feed(&mut self, frame: Bytes) -> Result<(), TransportError> {
        // WAMP spec, "WebSocket Transport": with `wamp.2.json` all messages
        // are text, with the binary serializations all are binary.
        let message = if self.text {
            let text = Utf8Bytes::try_from(frame).map_err(|error| {
                TransportError::unwritable(format!("a JSON frame is not valid UTF-8: {error}"))
            })?;
            Message::Text(text)
        } else {
            Message::Binary(frame)
        };
        self.sink.feed(message).await.map_err(|e| write_error(&e))
    }

    async fn flush(&mut self) -> Result<(), TransportError> {
        self.sink.flush().await.map_err(|e| write_error(&e))
    }

    async fn close(&mut self) {
        let code = match self.close_code.load(Ordering::Relaxed) {
            0 => CloseCode::Normal,
            code => CloseCode::from(code),
        };
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::default(),
        };
        // Errors mean the connection is already gone, which is what closing
        // wants; the close frame is skipped if the peer closed first.
        if let Err(error) = self.sink.send(Message::Close(Some(frame))).await {
            tracing::trace!(%error, "WebSocket close frame not sent");
        }
        let _ = self.sink.close().await;
    }

    async fn ping(&mut self) -> Result<(), TransportError> {
        self.sink
            .send(Message::Ping(Bytes::new()))
            .await
            .map_err(|e| write_error(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::websocket::WebSocketSettings;

    /// A server reader and writer and a client on the other end of an
    /// in-memory pipe.
    async fn pair(
        settings: WebSocketSettings,
        text: bool,
    ) -> (
        WebSocketReader<tokio::io::DuplexStream>,
        WebSocketWriter<tokio::io::DuplexStream>,
        WebSocketStream<tokio::io::DuplexStream>,
    ) {
        let (server, client) = tokio::io::duplex(64 * 1024);
        let (reader, writer) = halves(server, settings.to_config(), text).await;
        let client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        (reader, writer, client)
    }

    #[tokio::test]
    async fn text_and_binary_frames_are_data() {
        let (mut reader, _writer, mut client) = pair(WebSocketSettings::new(), true).await;
        client.send(Message::text("[1]")).await.unwrap();
        client
            .send(Message::binary(&b"\x91\x01"[..]))
            .await
            .unwrap();
        assert_eq!(reader.next_frame().await.unwrap().unwrap(), "[1]");
        assert_eq!(
            reader.next_frame().await.unwrap().unwrap(),
            &b"\x91\x01"[..]
        );
    }

    #[tokio::test]
    async fn json_goes_out_as_text_and_others_as_binary() {
        let (_reader, mut writer, mut client) = pair(WebSocketSettings::new(), true).await;
        writer.feed(Bytes::from_static(b"[2]")).await.unwrap();
        writer.feed(Bytes::from_static(b"[3]")).await.unwrap();
        writer.flush().await.unwrap();
        assert_eq!(client.next().await.unwrap().unwrap(), Message::text("[2]"));
        assert_eq!(client.next().await.unwrap().unwrap(), Message::text("[3]"));
        assert!(writer.feed(Bytes::from_static(b"\xff")).await.is_err());

        let (_reader, mut writer, mut client) = pair(WebSocketSettings::new(), false).await;
        writer.feed(Bytes::from_static(b"\x91\x02")).await.unwrap();
        writer.flush().await.unwrap();
        assert_eq!(
            client.next().await.unwrap().unwrap(),
            Message::binary(&b"\x91\x02"[..])
        );
    }

    #[tokio::test]
    async fn pings_are_answered_while_reading() {
        let (mut reader, _writer, mut client) = pair(WebSocketSettings::new(), true).await;
        let reading = tokio::spawn(async move { reader.next_frame().await.map(Result::unwrap) });
        client.send(Message::Ping("hi".into())).await.unwrap();
        assert_eq!(
            client.next().await.unwrap().unwrap(),
            Message::Pong("hi".into())
        );
        client.send(Message::text("[4]")).await.unwrap();
        assert_eq!(reading.await.unwrap().unwrap(), "[4]");
    }

    #[tokio::test]
    async fn a_close_frame_ends_the_reader_and_is_answered() {
        let (mut reader, _writer, mut client) = pair(WebSocketSettings::new(), true).await;
        client.close(None).await.unwrap();
        assert!(reader.next_frame().await.is_none());
        assert!(reader.next_frame().await.is_none());
        // The reader wrote the close reply, which ends the client's stream.
        assert!(matches!(client.next().await, Some(Ok(Message::Close(_)))));
    }

    #[tokio::test]
    async fn a_session_close_sends_a_normal_close_frame() {
        let (_reader, mut writer, mut client) = pair(WebSocketSettings::new(), true).await;
        writer.close().await;
        let Some(Ok(Message::Close(Some(frame)))) = client.next().await else {
            panic!("expected a close frame");
        };
        assert_eq!(frame.code, CloseCode::Normal);
    }

    #[tokio::test]
    async fn a_too_large_message_fails_once_and_closes_with_1009() {
        let settings = WebSocketSettings::new().max_message_size(16);
        let (mut reader, mut writer, mut client) = pair(settings, false).await;
        client.send(Message::binary(vec![0u8; 64])).await.unwrap();
        assert!(reader.next_frame().await.unwrap().is_err());
        assert!(reader.next_frame().await.is_none());
        writer.close().await;
        let Some(Ok(Message::Close(Some(frame)))) = client.next().await else {
            panic!("expected a close frame");
        };
        assert_eq!(frame.code, CloseCode::Size);
    }

    #[tokio::test]
    async fn a_vanished_peer_ends_the_reader() {
        let (mut reader, _writer, client) = pair(WebSocketSettings::new(), true).await;
        drop(client);
        assert!(reader.next_frame().await.is_none());
    }
}
