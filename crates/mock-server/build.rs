//! Bundles Leaflet (the npm package `leaflet`, installed at the repository root by `npm ci`) into
//! the server, for the dispatch console's map: copies its script and style sheet into `OUT_DIR`,
//! where `src/console_files.rs` embeds them. Nothing is ever loaded from a CDN.
//!
//! Without `node_modules/leaflet` (a fresh clone built before `npm ci`) the copies are empty and
//! the console draws its own grid map instead, so `cargo build` still works.

use std::path::{Path, PathBuf};

/// The files the console serves, as (file in `node_modules/leaflet/dist`, name in `OUT_DIR`).
/// The console uses only `divIcon` markers, so Leaflet's marker images are not needed.
const FILES: [(&str, &str); 2] = [("leaflet.js", "leaflet.js"), ("leaflet.css", "leaflet.css")];

fn main() {
    let manifest =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let leaflet = manifest.join("../../node_modules/leaflet");
    // Rebuilt when the package is installed, upgraded or removed. npm gives the files it
    // unpacks old times, so they alone would not tell: `node_modules/.package-lock.json` is
    // written at every install. A missing path is always "changed", so a clone without
    // node_modules checks again at every build until `npm ci` ran.
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={}", manifest.join("../../package-lock.json").display());
    println!("cargo:rerun-if-changed={}", manifest.join("../../node_modules/.package-lock.json").display());
    println!("cargo:rerun-if-changed={}", leaflet.join("package.json").display());
    let mut missing = false;
    for (source, target) in FILES {
        let source = leaflet.join("dist").join(source);
        println!("cargo:rerun-if-changed={}", source.display());
        let bytes = match std::fs::read(&source) {
            Ok(bytes) => bytes,
            Err(_) => {
                missing = true;
                Vec::new()
            }
        };
        write_if_changed(&out.join(target), &bytes);
    }
    if missing {
        println!(
            "cargo:warning=node_modules/leaflet is missing (run `npm ci` at the repository root): \
             the dispatch console falls back to its own grid map"
        );
    }
}

/// Writes only when the content differs, so an unchanged file does not rebuild the crate.
fn write_if_changed(path: &Path, bytes: &[u8]) {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return;
    }
    std::fs::write(path, bytes).unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
}
