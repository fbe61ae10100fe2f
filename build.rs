//! Turns `device-layout.json` (the device's IndexedDB layout, shared with the service worker)
//! into Rust constants for `src/platform/database.rs`.

use std::fmt::Write;

fn main() {
    println!("cargo:rerun-if-changed=device-layout.json");
    let text = std::fs::read_to_string("device-layout.json").expect("device-layout.json is readable");
    let layout: serde_json::Value = serde_json::from_str(&text).expect("device-layout.json is JSON");
    let string = |path: &[&str]| -> String {
        let mut value = &layout;
        for key in path {
            value = &value[*key];
        }
        value
            .as_str()
            .unwrap_or_else(|| panic!("device-layout.json: {} is not a string", path.join(".")))
            .to_string()
    };
    let list = |key: &str| -> Vec<String> {
        layout[key]
            .as_array()
            .unwrap_or_else(|| panic!("device-layout.json: {key} is not a list"))
            .iter()
            .map(|item| item.as_str().expect("a list of strings").to_string())
            .collect()
    };
    let version = layout["schema_version"].as_u64().expect("device-layout.json: schema_version is a number");
    let mut out = String::new();
    let mut constant = |name: &str, doc: &str, value: String| {
        writeln!(out, "/// {doc}\npub const {name}: &str = {value:?};").unwrap();
    };
    constant(
        "DATABASE_NAME",
        "The device database of the first (server, driver) pair (and of versions before per-driver databases).",
        string(&["database"]),
    );
    constant(
        "DRIVER_DATABASE_PREFIX",
        "Prefix of the device databases of further (server, driver) pairs.",
        string(&["driver_database_prefix"]),
    );
    constant(
        "META_STORE",
        "Small named values (device facts, counters) as strings.",
        string(&["stores", "meta"]),
    );
    constant(
        "OUTBOX_STORE",
        "Records waiting for the server, keyed by sequence number, as their JSON text.",
        string(&["stores", "outbox"]),
    );
    constant(
        "ASSIGNMENTS_STORE",
        "The driver's jobs, keyed by job id, as JSON text.",
        string(&["stores", "assignments"]),
    );
    constant(
        "DEAD_LETTERS_STORE",
        "Records dispatch refused for good, keyed by record id, kept for the driver to export.",
        string(&["stores", "dead_letters"]),
    );
    constant(
        "COUNTERS_KEY",
        "Key of the outbox counters in the meta store.",
        string(&["meta_keys", "counters"]),
    );
    constant(
        "EVENTS_KEY",
        "Key of the dispatcher's messages and the last stored event id in the meta store.",
        string(&["meta_keys", "events"]),
    );
    constant(
        "DEVICE_KEY",
        "Key of the device entry (who uploads where) in the meta store.",
        string(&["meta_keys", "device"]),
    );
    constant("SYNC_TAG", "The Background Sync tag the service worker listens for.", string(&["sync_tag"]));
    writeln!(out, "/// Schema version. Bump it (in device-layout.json) and extend `open` when stores change.\npub const SCHEMA_VERSION: u32 = {version};").unwrap();
    for (name, key) in [
        ("COUNTER_FIELDS", "counter_fields"),
        ("DEAD_LETTER_FIELDS", "dead_letter_fields"),
        ("DEVICE_FIELDS", "device_fields"),
    ] {
        writeln!(
            out,
            "/// The JSON fields the service worker relies on ({key}).\npub const {name}: &[&str] = &{:?};",
            list(key)
        )
        .unwrap();
    }
    let path = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("device_layout.rs");
    std::fs::write(path, out).unwrap();
}
