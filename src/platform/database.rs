//! The app's IndexedDB databases (one per server and driver, see `device_registry.rs`): their
//! names, schema and upgrades. Every transaction is opened,
//! used and finished inside one function here, never held across an unrelated `.await`
//! (IndexedDB commits a transaction as soon as it has no pending request).

use rexie::{ObjectStore, Rexie, TransactionMode};
use wasm_bindgen::JsValue;

// The names below come from `device-layout.json`, which the service worker reads too (see
// build.rs and scripts/precache.js): one definition, so the two cannot drift.
include!(concat!(env!("OUT_DIR"), "/device_layout.rs"));

/// Why a database operation failed. Rexie's `Display` hides the cause, so this keeps its `Debug`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseError(pub String);

impl std::fmt::Display for DatabaseError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "indexeddb failed: {}", self.0)
    }
}

impl std::error::Error for DatabaseError {}

impl From<rexie::Error> for DatabaseError {
    fn from(error: rexie::Error) -> DatabaseError {
        DatabaseError(format!("{error:?}"))
    }
}

/// Opens (creating or upgrading) the database called `name`.
pub async fn open(name: &str) -> Result<Rexie, DatabaseError> {
    Ok(Rexie::builder(name)
        .version(SCHEMA_VERSION)
        .add_object_store(ObjectStore::new(META_STORE))
        .add_object_store(ObjectStore::new(OUTBOX_STORE))
        .add_object_store(ObjectStore::new(ASSIGNMENTS_STORE))
        .add_object_store(ObjectStore::new(DEAD_LETTERS_STORE))
        .build()
        .await?)
}

/// Reads a string from the meta store.
pub async fn read_meta(database: &Rexie, key: &str) -> Result<Option<String>, DatabaseError> {
    let transaction = database.transaction(&[META_STORE], TransactionMode::ReadOnly)?;
    let value = transaction.store(META_STORE)?.get(JsValue::from_str(key)).await?;
    transaction.done().await?;
    Ok(value.and_then(|value| value.as_string()))
}

/// Writes a string to the meta store and waits until it is committed.
pub async fn write_meta(database: &Rexie, key: &str, value: &str) -> Result<(), DatabaseError> {
    let transaction = database.transaction(&[META_STORE], TransactionMode::ReadWrite)?;
    transaction.store(META_STORE)?.put(&JsValue::from_str(value), Some(&JsValue::from_str(key))).await?;
    transaction.done().await?;
    Ok(())
}
