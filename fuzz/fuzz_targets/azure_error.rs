#![no_main]
//! Fuzz target `azure_error`: see `blobio::fuzzing::azure_error`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| blobio::fuzzing::azure_error(data));
