#![no_main]
//! Fuzz target `aws_profile`: see `blobio::fuzzing::aws_profile`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| blobio::fuzzing::aws_profile(data));
