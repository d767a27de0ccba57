#![no_main]
//! Fuzz target `azure_list`: see `blobio::fuzzing::azure_list`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| blobio::fuzzing::azure_list(data));
