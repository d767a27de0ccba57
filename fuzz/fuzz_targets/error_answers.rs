#![no_main]
//! Fuzz target `error_answers`: see `blobio::fuzzing::error_answers`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| blobio::fuzzing::error_answers(data));
