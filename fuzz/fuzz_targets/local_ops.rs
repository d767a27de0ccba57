#![no_main]
//! Fuzz target `local_ops`: see `blobio::fuzzing::local_ops`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| blobio::fuzzing::local_ops(data));
