//! The app's IndexedDB database: its name, schema and upgrades. Every transaction is opened,
//! used and finished inside one function here, never held across an unrelated `.await`
//! (IndexedDB commits a transaction as soon as it has no pending request).

use rexie::{ObjectStore, Rexie, TransactionMode};
use wasm_bindgen::JsValue;

/// Name of the production database.
pub const DATABASE_NAME: &str = "enroute";

/// Schema version. Bump it and extend [`open`] when stores change. (2 added `assignments`, 3 `dead_letters`.)
pub const SCHEMA_VERSION: u32 = 3;

/// Small named values (device facts, counters) as strings.
pub const META_STORE: &str = "meta";

/// Records waiting for the server, keyed by sequence number, as their JSON text.
pub const OUTBOX_STORE: &str = "outbox";

/// The driver's jobs, keyed by job id, as JSON text.
pub const ASSIGNMENTS_STORE: &str = "assignments";

/// Records dispatch refused for good, keyed by record id, kept for the driver to export.
pub const DEAD_LETTERS_STORE: &str = "dead_letters";

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
