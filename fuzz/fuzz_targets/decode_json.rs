//! Decodes arbitrary bytes as one Json WAMP message; whatever decodes must
//! re-encode and decode back to an equal message.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serverwamp_protocol::Serialization;

fuzz_target!(|data: &[u8]| {
    serverwamp_fuzz::check_single(Serialization::Json, data);
});
