#![no_main]
//! Fuzz target `aws_identity`: see `blobio::fuzzing::aws_identity`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| blobio::fuzzing::aws_identity(data));
