//! Serves an arbitrary client byte stream with the RawSocket server:
//! handshake, framing and the session behind them (see
//! `serverwamp_fuzz::rawsocket`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    serverwamp_fuzz::check_rawsocket(data);
});
