#![no_main]
//! Fuzz target `s3_list`: see `blobio::fuzzing::s3_list`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| blobio::fuzzing::s3_list(data));
