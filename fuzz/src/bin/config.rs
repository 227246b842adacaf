//! Fuzz target: `veilleur::fuzz::config` (see that function for what it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| veilleur::fuzz::config(data));
