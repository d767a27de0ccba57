#![no_main]
//! Fuzz target `http_dates`: see `blobio::fuzzing::http_dates`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| blobio::fuzzing::http_dates(data));
