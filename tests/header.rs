//! `include/blobio.h` is what cbindgen makes of `src/ffi/` today.
//!
//! Refresh the checked-in header after changing the C ABI with
//!
//! ```text
//! BLOBIO_BLESS=1 cargo test --test header
//! ```

use std::fs;
use std::path::Path;

fn generate() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("read cbindgen.toml");
    // Only the C layer: the rest of the crate has no C items, and constants
    // elsewhere must not leak into the header.
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/ffi/mod.rs"))
        .generate()
        .expect("cbindgen failed on src/ffi/");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("cbindgen wrote UTF-8")
}

#[test]
fn checked_in_header_matches_cbindgen_output() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let header = root.join("include/blobio.h");
    let fresh = generate();

    if std::env::var_os("BLOBIO_BLESS").is_some_and(|v| v != "0") {
        fs::write(&header, &fresh).expect("write include/blobio.h");
        return;
    }

    let current = fs::read_to_string(&header).unwrap_or_default();
    if current == fresh {
        return;
    }
    let fresh_path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("blobio.h");
    fs::write(&fresh_path, &fresh).expect("write the regenerated header");
    let first_diff = current
        .lines()
        .zip(fresh.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| current.lines().count().min(fresh.lines().count()));
    panic!(
        "include/blobio.h is stale: it differs from what cbindgen generates now, from line {}.\n\
         See the difference with\n    diff -u include/blobio.h {}\n\
         and refresh the header with\n    BLOBIO_BLESS=1 cargo test --test header",
        first_diff + 1,
        fresh_path.display()
    );
}
