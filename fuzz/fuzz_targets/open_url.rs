#![no_main]
//! Fuzz target `open_url`: see `blobio::fuzzing::open_url`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| blobio::fuzzing::open_url(data));
