#![no_main]
//! Fuzz target `azure_connection_string`: see `blobio::fuzzing::azure_connection_string`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| blobio::fuzzing::azure_connection_string(data));
