//! Fuzz target: `veilleur::fuzz::forum_date` (see that function for what it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| veilleur::fuzz::forum_date(data));
