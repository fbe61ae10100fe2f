//! The app's IndexedDB databases (one per server and driver, see `device_registry.rs`): their
//! names, schema and upgrades. Every transaction is opened,
//! used and finished inside one function here, never held across an unrelated `.await`
//! (IndexedDB commits a transaction as soon as it has no pending request).

use futures::future::{LocalBoxFuture, try_join_all};
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

/// Makes a write's requests all at once, in order, asks for the commit right behind them, and
/// waits until it is committed. IndexedDB runs a transaction's requests in the order they were
/// made; made one after the other's answer, each cost a round trip to the browser's database
/// and back through this page's event loop, and left to commit by itself a transaction waits
/// for the page to have taken every answer. While the outbox drains the page is busy, and each
/// of those waits took milliseconds (`docs/benchmarks.md`, "Outbox").
pub async fn write_all(
    transaction: Transaction,
    requests: Vec<LocalBoxFuture<'_, Result<(), rexie::Error>>>,
) -> Result<(), DatabaseError> {
    // Polled in this order: every request is made before the commit is asked for.
    let requests = async { try_join_all(requests).await.map(drop).map_err(DatabaseError::from) };
    let commit = async {
        if commit_is_supported() {
            transaction.commit().await.map_err(DatabaseError::from)
        } else {
            finish(transaction).await
        }
    };
    futures::future::try_join(requests, commit).await.map(drop)
}

/// Whether `IDBTransaction.commit()` exists (Chromium 76, Firefox 74, Safari 15 and later).
/// Without it, a transaction commits by itself once its requests are answered.
fn commit_is_supported() -> bool {
    thread_local! {
        static SUPPORTED: bool = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("IDBTransaction"))
            .ok()
            .filter(|constructor| constructor.is_function())
            .and_then(|constructor| js_sys::Reflect::get(&constructor, &JsValue::from_str("prototype")).ok())
            .is_some_and(|prototype| {
                js_sys::Reflect::get(&prototype, &JsValue::from_str("commit")).is_ok_and(|commit| commit.is_function())
            });
    }
    SUPPORTED.with(|supported| *supported)
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
