//! The library version, as macros for the preprocessor and a string at run
//! time.

use std::ffi::{c_char, CStr};

use super::boundary::guard;

/// Major version of the blobio headers a program was compiled against.
/// Compare with `blobio_version()` to detect a mismatched shared library.
pub const BLOBIO_VERSION_MAJOR: u32 = 0;
/// Minor version of the blobio headers a program was compiled against.
pub const BLOBIO_VERSION_MINOR: u32 = 2;
/// Patch version of the blobio headers a program was compiled against.
pub const BLOBIO_VERSION_PATCH: u32 = 0;

// cbindgen only understands literal constants, so the numbers above are
// written out; these fail the build when Cargo.toml's version moves without
// them.
const _: () = assert!(
    BLOBIO_VERSION_MAJOR == parse_u32(env!("CARGO_PKG_VERSION_MAJOR")),
    "BLOBIO_VERSION_MAJOR differs from Cargo.toml's version"
);
const _: () = assert!(
    BLOBIO_VERSION_MINOR == parse_u32(env!("CARGO_PKG_VERSION_MINOR")),
    "BLOBIO_VERSION_MINOR differs from Cargo.toml's version"
);
const _: () = assert!(
    BLOBIO_VERSION_PATCH == parse_u32(env!("CARGO_PKG_VERSION_PATCH")),
    "BLOBIO_VERSION_PATCH differs from Cargo.toml's version"
);

const fn parse_u32(s: &str) -> u32 {
    let bytes = s.as_bytes();
    let mut value = 0u32;
    let mut i = 0;
    while i < bytes.len() {
        assert!(
            bytes[i].is_ascii_digit(),
            "version component is not a number"
        );
        value = value * 10 + (bytes[i] - b'0') as u32;
        i += 1;
    }
    value
}

const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => panic!("the package version contains a NUL byte"),
    };

/// The version of the linked library, such as `"0.1.0"`. Static; never
/// NULL; must not be freed.
#[no_mangle]
pub extern "C" fn blobio_version() -> *const c_char {
    guard(VERSION.as_ptr(), || VERSION.as_ptr())
}
