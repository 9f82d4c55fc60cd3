//! Drives the session state machine with a sequence of messages and raw
//! frames chosen by the input (see `serverwamp_fuzz::session`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    serverwamp_fuzz::check_session(data);
});
