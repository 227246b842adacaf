//! Fuzz target: `veilleur::fuzz::social` (see that function for what it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| veilleur::fuzz::social(data));
