//! The app's IndexedDB databases (one per server and driver, see `device_registry.rs`): their
//! names, schema and upgrades, and how a transaction is finished (`finish`, `write_all`). A
//! transaction is opened, used and finished in one call, never held across an unrelated
//! `.await` (IndexedDB commits a transaction as soon as it has no pending request).

use futures::future::{LocalBoxFuture, join_all};
use rexie::{ObjectStore, Rexie, Transaction, TransactionMode, TransactionResult};
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

/// Waits until `transaction` has finished; an abort is an error. Rexie reports a transaction
/// the browser aborted without a failed request (over quota or a disk error at commit) as a
/// success with `TransactionResult::Aborted`; taking that for a commit would send records
/// that were never stored.
pub async fn finish(transaction: Transaction) -> Result<(), DatabaseError> {
    committed(transaction.done().await)
}

/// What a finished transaction's result means: only a commit is a success.
pub fn committed(result: Result<TransactionResult, rexie::Error>) -> Result<(), DatabaseError> {
    match result? {
        TransactionResult::Committed => Ok(()),
        TransactionResult::Aborted => Err(DatabaseError("the browser aborted the transaction".into())),
    }
}

/// Makes a write's requests all at once, in order, and waits until every one is answered and
/// the transaction has committed. IndexedDB runs a transaction's requests in the order they
/// were made; made one after the other's answer, each cost a round trip to the browser's
/// database and back through this page's event loop, which took milliseconds while the outbox
/// drains and the page is busy (`docs/benchmarks.md`, "Outbox").
///
/// Every request is waited for even after one failed: dropping the others would leave the
/// browser calling their dropped closures when it fails them in turn. The transaction's own
/// events are listened to only once every request succeeded (the `complete` event comes after
/// the last answer), so a failure that fails several requests reaches it not at all.
pub async fn write_all(
    transaction: Transaction,
    requests: Vec<LocalBoxFuture<'_, Result<(), rexie::Error>>>,
) -> Result<(), DatabaseError> {
    let answers = join_all(requests).await;
    if let Some(error) = answers.into_iter().find_map(Result::err) {
        return Err(error.into());
    }
    finish(transaction).await
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
    finish(transaction).await?;
    Ok(value.and_then(|value| value.as_string()))
}

/// Writes a string to the meta store and waits until it is committed.
pub async fn write_meta(database: &Rexie, key: &str, value: &str) -> Result<(), DatabaseError> {
    let transaction = database.transaction(&[META_STORE], TransactionMode::ReadWrite)?;
    transaction.store(META_STORE)?.put(&JsValue::from_str(value), Some(&JsValue::from_str(key))).await?;
    finish(transaction).await?;
    Ok(())
}
