#![no_main]
//! Fuzz target `azure_token`: see `blobio::fuzzing::azure_token`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| blobio::fuzzing::azure_token(data));
