#![no_main]
//! Fuzz target `s3_error`: see `blobio::fuzzing::s3_error`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| blobio::fuzzing::s3_error(data));
