//! Decodes arbitrary bytes as a batched frame: the first byte picks the
//! codec (`wamp.2.{json,msgpack,cbor}.batched`, modulo 3), the rest is the
//! frame. Every message decoded from it must re-encode into a batched frame
//! that decodes back to equal messages.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    serverwamp_fuzz::check_batched(data);
});
