//! Fuzz target: the whole-message decoder under every codec context, and re-encoding what it accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    podroute::bgp::fuzzing::check_message(data);
});
