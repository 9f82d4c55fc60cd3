//! RawSocket, handshake and framing, under an arbitrary client byte stream.
//!
//! The input's first byte says how the rest is cut into writes; the rest is
//! what the client sends: a handshake (or not), then frames (or not). The
//! real RawSocket server serves it (handshake, framing, reader and writer,
//! the session behind them) over an in-memory pipe until the client's side
//! closes.
//!
//! Checks: nothing panics; the server ends the connection (time is paused,
//! so a hang shows as the virtual minute running out); what the server
//! writes is a well-formed handshake reply, then, if it accepted, frames of
//! known types within the length the client announced, whose messages
//! decode.

use std::time::Duration;

use serverwamp::protocol::Serialization;
use serverwamp::protocol::message::ValidationRules;
use serverwamp::transport::PeerAddress;
use serverwamp::transport::rawsocket::{RawSocketServer, RawSocketSettings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Runs one RawSocket connection as the input says; see the module
/// documentation.
///
/// # Panics
/// When the server panics, hangs, or writes anything malformed.
pub fn check_rawsocket(data: &[u8]) {
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(cut % 64) + 1;
    let written = crate::session::RUNTIME.with(|runtime| {
        runtime.block_on(async {
            let (mut client, server) = tokio::io::duplex(16 * 1024);
            let settings = RawSocketSettings::new().max_message_length_exponent(16);
            let rawsocket = RawSocketServer::new(&*crate::session::APP, settings);
            let serving = tokio::spawn(async move {
                rawsocket
                    .serve_connection(server, PeerAddress::Unknown)
                    .await
            });
            let mut output = Vec::new();
            let exchange = async {
                let (mut read, mut write) = tokio::io::split(&mut client);
                let sending = async {
                    for piece in stream.chunks(chunk) {
                        if write.write_all(piece).await.is_err() {
                            return;
                        }
                    }
                    let _ = write.shutdown().await;
                };
                let receiving = async {
                    let _ = read.read_to_end(&mut output).await;
                };
                tokio::join!(sending, receiving);
            };
            tokio::time::timeout(Duration::from_secs(60), exchange)
                .await
                .expect("the connection ends: RawSocket must not hang");
            let _ = serving.await;
            output
        })
    });
    check_output(stream, &written);
}

/// Checks what the server wrote against what the client sent.
fn check_output(sent: &[u8], written: &[u8]) {
    if written.is_empty() {
        return;
    }
    assert!(
        written.len() >= 4,
        "a partial handshake reply: {}",
        crate::hex(written)
    );
    let reply = &written[..4];
    assert_eq!(reply[0], 0x7F, "reply magic: {}", crate::hex(reply));
    assert_eq!(
        &reply[2..],
        [0, 0],
        "reply reserved octets: {}",
        crate::hex(reply)
    );
    let serialization = match reply[1] & 0x0F {
        0 => {
            assert!(
                written.len() == 4,
                "bytes after a refusal: {}",
                crate::hex(written)
            );
            assert!(
                (1..=4).contains(&(reply[1] >> 4)),
                "error code: {}",
                crate::hex(reply)
            );
            return;
        }
        1 => Serialization::Json,
        2 => Serialization::MsgPack,
        3 => Serialization::Cbor,
        other => panic!("reply names serializer {other}"),
    };
    // The client announced its maximum in its own second octet.
    assert!(
        sent.len() >= 2 && sent[0] == 0x7F,
        "accepted a non-handshake"
    );
    assert_eq!(
        sent[1] & 0x0F,
        reply[1] & 0x0F,
        "answered another serializer"
    );
    let client_max = 1usize << (9 + (sent[1] >> 4));
    let mut rest = &written[4..];
    let rules = ValidationRules::default();
    while !rest.is_empty() {
        assert!(
            rest.len() >= 4,
            "a partial frame header: {}",
            crate::hex(rest)
        );
        let kind = rest[0];
        assert!(kind <= 2, "frame type {kind}");
        let len = usize::from(rest[1]) << 16 | usize::from(rest[2]) << 8 | usize::from(rest[3]);
        assert!(
            len <= client_max,
            "a frame of {len} octets over the client's {client_max}"
        );
        assert!(rest.len() >= 4 + len, "a truncated frame");
        let payload = &rest[4..4 + len];
        if kind == 0 {
            if let Err(error) = serialization.decode(payload, &rules) {
                panic!(
                    "the server wrote a message that does not decode: {error}\n{}",
                    crate::hex(payload)
                );
            }
        }
        rest = &rest[4 + len..];
    }
}
