#![no_main]
//! Fuzz target `s3_delete_result`: see `blobio::fuzzing::s3_delete_result`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| blobio::fuzzing::s3_delete_result(data));
