#![no_main]
//! Fuzz target `open_options`: see `blobio::fuzzing::open_options`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| blobio::fuzzing::open_options(data));
