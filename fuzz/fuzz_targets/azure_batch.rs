#![no_main]
//! Fuzz target `azure_batch`: see `blobio::fuzzing::azure_batch`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| blobio::fuzzing::azure_batch(data));
