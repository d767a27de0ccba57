#![no_main]
//! Fuzz target `paths`: see `blobio::fuzzing::paths`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| blobio::fuzzing::paths(data));
