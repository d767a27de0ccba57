#![no_main]
//! Fuzz target `s3_multipart`: see `blobio::fuzzing::s3_multipart`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| blobio::fuzzing::s3_multipart(data));
