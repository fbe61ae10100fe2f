//! Where the outbox and the driver's jobs live on the device: [`IndexedDbOutbox`] normally,
//! [`MemoryOutbox`] when IndexedDB cannot be used (and in tests). The engine decides what to
//! write; storage only applies each write in one transaction and reports success or failure.

use crate::platform::background_flush::{DEVICE_KEY, FlushDevice};
use crate::platform::database::{
    self, ASSIGNMENTS_STORE, COUNTERS_KEY, DEAD_LETTERS_STORE, DatabaseError, EVENTS_KEY, META_STORE,
    OUTBOX_STORE,
};
use enroute_core::assignments::{AssignmentEntry, DispatchMessage};
use enroute_core::{
    AssignmentWrite, DeadLetter, OutboxCounters, StorageWrite, StoredAssignments, StoredOutbox,
};
use enroute_protocol::Record;
use futures::future::LocalBoxFuture;
use rexie::{KeyRange, Rexie, TransactionMode};
use std::cell::RefCell;
use std::future::Future;
use wasm_bindgen::JsValue;

/// What the meta store keeps about events.
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct StoredEvents {
    last_event_id: u64,
    messages: Vec<DispatchMessage>,
}

/// Durable storage for the outbox and the driver's jobs.
pub trait OutboxStorage {
    /// Everything stored: records and counters.
    fn load(&self) -> impl Future<Output = Result<StoredOutbox, DatabaseError>>;
    /// Applies one write atomically: all of it or nothing.
    fn write(&self, write: &StorageWrite) -> impl Future<Output = Result<(), DatabaseError>>;
    /// The stored jobs, messages and last event id.
    fn load_assignments(&self) -> impl Future<Output = Result<StoredAssignments, DatabaseError>>;
    /// Stores jobs, messages and the last event id atomically.
    fn write_assignments(&self, write: &AssignmentWrite) -> impl Future<Output = Result<(), DatabaseError>>;
    /// Remembers where and as whom the service worker uploads waiting records when no app
    /// window is open (see [`crate::platform::background_flush`]).
    fn remember_flush_device(&self, device: &FlushDevice) -> impl Future<Output = Result<(), DatabaseError>>;
    /// The records dispatch refused for good, oldest refusal first, for the driver to export.
    fn load_dead_letters(&self) -> impl Future<Output = Result<Vec<DeadLetter>, DatabaseError>>;
    /// The highest record number sent before it was stored (0 if none). Kept apart from the
    /// outbox, in `localStorage`, because it matters exactly when the outbox's storage fails.
    fn sequence_floor(&self) -> u64;
    /// Raises the floor (see `EngineAction::RememberSequenceFloor`): synchronous, so it is kept
    /// before the batch is sent.
    fn remember_sequence_floor(&self, floor: u64);
}

/// Shared storage (a test keeps a handle to make it fail and heal while the driver runs).
impl<S: OutboxStorage> OutboxStorage for std::rc::Rc<S> {
    fn load(&self) -> impl Future<Output = Result<StoredOutbox, DatabaseError>> {
        S::load(self)
    }
    fn write(&self, write: &StorageWrite) -> impl Future<Output = Result<(), DatabaseError>> {
        S::write(self, write)
    }
    fn load_assignments(&self) -> impl Future<Output = Result<StoredAssignments, DatabaseError>> {
        S::load_assignments(self)
    }
    fn write_assignments(&self, write: &AssignmentWrite) -> impl Future<Output = Result<(), DatabaseError>> {
        S::write_assignments(self, write)
    }
    fn remember_flush_device(&self, device: &FlushDevice) -> impl Future<Output = Result<(), DatabaseError>> {
        S::remember_flush_device(self, device)
    }
    fn load_dead_letters(&self) -> impl Future<Output = Result<Vec<DeadLetter>, DatabaseError>> {
        S::load_dead_letters(self)
    }
    fn sequence_floor(&self) -> u64 {
        S::sequence_floor(self)
    }
    fn remember_sequence_floor(&self, floor: u64) {
        S::remember_sequence_floor(self, floor)
    }
}

/// The sequence floor of the database called `database_name`, in `localStorage`.
fn stored_sequence_floor(database_name: &str) -> u64 {
    web_sys::window()
        .and_then(|window| window.local_storage().ok().flatten())
        .and_then(|storage| {
            storage.get_item(&format!("enroute.sequence-floor.{database_name}")).ok().flatten()
        })
        .and_then(|text| text.parse().ok())
        .unwrap_or(0)
}

fn store_sequence_floor(database_name: &str, floor: u64) {
    if floor <= stored_sequence_floor(database_name) {
        return;
    }
    let storage = web_sys::window().and_then(|window| window.local_storage().ok().flatten());
    match storage.map(|storage| {
        storage.set_item(&format!("enroute.sequence-floor.{database_name}"), &floor.to_string())
    }) {
        Some(Ok(())) => {}
        // Nowhere left to keep it: a reload before storage recovers may make the server wait
        // for these numbers (the dispatcher sees the gap); the driver already sees the warning.
        other => log::error!("cannot keep the sequence floor {floor}: {other:?}"),
    }
}

/// The outbox in IndexedDB: records in the `outbox` store keyed by sequence number (as the
/// JSON they are sent as), counters in the `meta` store.
pub struct IndexedDbOutbox {
    /// Always `Some` until dropped (`Rexie::close` consumes it).
    database: Option<Rexie>,
    name: String,
}

impl IndexedDbOutbox {
    /// Opens the database called `name` (creating or upgrading it).
    pub async fn open(name: &str) -> Result<IndexedDbOutbox, DatabaseError> {
        Ok(IndexedDbOutbox { database: Some(database::open(name).await?), name: name.to_string() })
    }

    /// Closes the connection (other tabs and upgrades are no longer blocked by it). Dropping
    /// does the same: a stopped driver (settings saved, tests) must not keep the database open,
    /// or deleting or upgrading it waits for the garbage collector.
    pub fn close(self) {}

    fn db(&self) -> &Rexie {
        self.database.as_ref().expect("the database is open until dropped")
    }

    /// Who this database's records belong to and where they go (stored while its driver was
    /// the active one), if known.
    pub async fn flush_device(&self) -> Result<Option<FlushDevice>, DatabaseError> {
        let Some(text) = database::read_meta(self.db(), DEVICE_KEY).await? else { return Ok(None) };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|error| DatabaseError(format!("unreadable device entry: {error}")))
    }

    /// Whether records wait in this database for the server (more than its counters say
    /// were acknowledged).
    pub async fn has_waiting_records(&self) -> Result<bool, DatabaseError> {
        let stored = self.load().await?;
        Ok(stored.records.iter().any(|record| record.seq > stored.counters.acked_seq))
    }
}

impl Drop for IndexedDbOutbox {
    fn drop(&mut self) {
        if let Some(database) = self.database.take() {
            database.close();
        }
    }
}

impl OutboxStorage for IndexedDbOutbox {
    async fn load(&self) -> Result<StoredOutbox, DatabaseError> {
        let transaction = self.db().transaction(&[OUTBOX_STORE, META_STORE], TransactionMode::ReadOnly)?;
        let values = transaction.store(OUTBOX_STORE)?.get_all(None, None).await?;
        let counters = transaction.store(META_STORE)?.get(JsValue::from_str(COUNTERS_KEY)).await?;
        database::finish(transaction).await?;
        let mut records = Vec::with_capacity(values.len());
        for value in values {
            let Some(text) = value.as_string() else { continue };
            match Record::decode(&text) {
                Ok(record) => records.push(record),
                // A record this version cannot read cannot be sent either; keep the rest moving.
                Err(error) => log::error!("skipping an unreadable stored record: {error:?}"),
            }
        }
        let counters = match counters.and_then(|value| value.as_string()) {
            Some(text) => serde_json::from_str(&text)
                .map_err(|error| DatabaseError(format!("unreadable outbox counters: {error}")))?,
            None => OutboxCounters::default(),
        };
        Ok(StoredOutbox::new(records, counters))
    }

    async fn write(&self, write: &StorageWrite) -> Result<(), DatabaseError> {
        let counters = write
            .counters
            .map(|counters| serde_json::to_string(&counters))
            .transpose()
            .map_err(|error| DatabaseError(format!("cannot encode counters: {error}")))?;
        let encoded: Vec<(JsValue, JsValue)> = write
            .put
            .iter()
            .map(|record| (JsValue::from_str(&record.encode()), JsValue::from_f64(record.seq as f64)))
            .collect();
        let dead_letters: Vec<(JsValue, JsValue)> = write
            .dead_letters
            .iter()
            .map(|letter| Ok((JsValue::from_str(&to_json(letter)?), JsValue::from_str(&letter.record.id.0))))
            .collect::<Result<_, DatabaseError>>()?;
        // Everything is prepared before the transaction opens: it must not wait on anything else.
        // A dead letter is written with the counters that count it. The record itself leaves the
        // outbox with the other acknowledged ones; should the app stop in between, the server's
        // `welcome` covers it, so it is never sent again.
        let stores: &[&str] = if dead_letters.is_empty() {
            &[OUTBOX_STORE, META_STORE]
        } else {
            &[OUTBOX_STORE, META_STORE, DEAD_LETTERS_STORE]
        };
        let delete_range = write
            .delete_up_to
            .map(|up_to| KeyRange::upper_bound(&JsValue::from_f64(up_to as f64), Some(false)))
            .transpose()
            .map_err(|error| DatabaseError(format!("{error:?}")))?;
        let counters =
            counters.map(|counters| (JsValue::from_str(&counters), JsValue::from_str(COUNTERS_KEY)));
        let transaction = self.db().transaction(stores, TransactionMode::ReadWrite)?;
        let dead_letter_store =
            if dead_letters.is_empty() { None } else { Some(transaction.store(DEAD_LETTERS_STORE)?) };
        let outbox = transaction.store(OUTBOX_STORE)?;
        let meta = transaction.store(META_STORE)?;
        let mut requests: Vec<LocalBoxFuture<'_, Result<(), rexie::Error>>> = Vec::new();
        if let Some(store) = &dead_letter_store {
            for (value, key) in &dead_letters {
                requests.push(Box::pin(async move { store.put(value, Some(key)).await.map(drop) }));
            }
        }
        if let Some(range) = delete_range {
            let outbox = &outbox;
            requests.push(Box::pin(async move { outbox.delete(range.into()).await }));
        }
        for seq in &write.delete {
            let outbox = &outbox;
            requests.push(Box::pin(async move { outbox.delete(JsValue::from_f64(*seq as f64)).await }));
        }
        for (value, key) in &encoded {
            let outbox = &outbox;
            requests.push(Box::pin(async move { outbox.put(value, Some(key)).await.map(drop) }));
        }
        if let Some((value, key)) = &counters {
            let meta = &meta;
            requests.push(Box::pin(async move { meta.put(value, Some(key)).await.map(drop) }));
        }
        database::write_all(transaction, requests).await
    }

    async fn load_assignments(&self) -> Result<StoredAssignments, DatabaseError> {
        let transaction =
            self.db().transaction(&[ASSIGNMENTS_STORE, META_STORE], TransactionMode::ReadOnly)?;
        let values = transaction.store(ASSIGNMENTS_STORE)?.get_all(None, None).await?;
        let events = transaction.store(META_STORE)?.get(JsValue::from_str(EVENTS_KEY)).await?;
        database::finish(transaction).await?;
        let mut entries = Vec::with_capacity(values.len());
        for value in values {
            let Some(text) = value.as_string() else { continue };
            match serde_json::from_str::<AssignmentEntry>(&text) {
                Ok(entry) => entries.push(entry),
                Err(error) => log::error!("skipping an unreadable stored job: {error:?}"),
            }
        }
        let events: StoredEvents = match events.and_then(|value| value.as_string()) {
            Some(text) => serde_json::from_str(&text)
                .map_err(|error| DatabaseError(format!("unreadable events: {error}")))?,
            None => StoredEvents::default(),
        };
        Ok(StoredAssignments { entries, messages: events.messages, last_event_id: events.last_event_id })
    }

    async fn write_assignments(&self, write: &AssignmentWrite) -> Result<(), DatabaseError> {
        let entries: Vec<(JsValue, JsValue)> = write
            .entries
            .iter()
            .map(|entry| Ok((JsValue::from_str(&to_json(entry)?), JsValue::from_str(&entry.assignment.id))))
            .collect::<Result<_, DatabaseError>>()?;
        let events =
            to_json(&StoredEvents { last_event_id: write.last_event_id, messages: write.messages.clone() })?;
        let transaction =
            self.db().transaction(&[ASSIGNMENTS_STORE, META_STORE], TransactionMode::ReadWrite)?;
        let store = transaction.store(ASSIGNMENTS_STORE)?;
        let meta = transaction.store(META_STORE)?;
        let (events, events_key) = (JsValue::from_str(&events), JsValue::from_str(EVENTS_KEY));
        let mut requests: Vec<LocalBoxFuture<'_, Result<(), rexie::Error>>> = Vec::new();
        for (value, key) in &entries {
            let store = &store;
            requests.push(Box::pin(async move { store.put(value, Some(key)).await.map(drop) }));
        }
        requests.push(Box::pin(async { meta.put(&events, Some(&events_key)).await.map(drop) }));
        database::write_all(transaction, requests).await
    }

    async fn remember_flush_device(&self, device: &FlushDevice) -> Result<(), DatabaseError> {
        database::write_meta(self.db(), DEVICE_KEY, &to_json(device)?).await
    }

    fn sequence_floor(&self) -> u64 {
        stored_sequence_floor(&self.name)
    }

    fn remember_sequence_floor(&self, floor: u64) {
        store_sequence_floor(&self.name, floor);
    }

    async fn load_dead_letters(&self) -> Result<Vec<DeadLetter>, DatabaseError> {
        let transaction = self.db().transaction(&[DEAD_LETTERS_STORE], TransactionMode::ReadOnly)?;
        let values = transaction.store(DEAD_LETTERS_STORE)?.get_all(None, None).await?;
        database::finish(transaction).await?;
        let mut letters: Vec<DeadLetter> = values
            .into_iter()
            .filter_map(|value| value.as_string())
            .filter_map(|text| match serde_json::from_str(&text) {
                Ok(letter) => Some(letter),
                Err(error) => {
                    log::error!("skipping an unreadable dead letter: {error:?}");
                    None
                }
            })
            .collect();
        letters.sort_by_key(|letter: &DeadLetter| (letter.rejected_at_unix_ms, letter.record.seq));
        Ok(letters)
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, DatabaseError> {
    serde_json::to_string(value).map_err(|error| DatabaseError(format!("cannot encode: {error}")))
}

/// The outbox in memory only: what the app uses when IndexedDB cannot be opened, and what
/// tests use. It can be told to fail, to exercise the app's behaviour when storage breaks.
#[derive(Default)]
pub struct MemoryOutbox {
    stored: RefCell<StoredOutbox>,
    assignments: RefCell<StoredAssignments>,
    flush_device: RefCell<Option<FlushDevice>>,
    dead_letters: RefCell<Vec<DeadLetter>>,
    sequence_floor: std::cell::Cell<u64>,
    failure: RefCell<Option<String>>,
}

impl MemoryOutbox {
    /// Storage that accepts every write.
    pub fn new() -> MemoryOutbox {
        MemoryOutbox::default()
    }

    /// Storage that refuses every write with `reason` (IndexedDB unavailable).
    pub fn failing(reason: &str) -> MemoryOutbox {
        let storage = MemoryOutbox::default();
        storage.set_failure(Some(reason));
        storage
    }

    /// Makes later writes fail with `reason`, or succeed again with `None`.
    pub fn set_failure(&self, reason: Option<&str>) {
        *self.failure.borrow_mut() = reason.map(str::to_string);
    }

    /// What a successful write history left behind.
    pub fn snapshot(&self) -> StoredOutbox {
        self.stored.borrow().clone()
    }

    /// The device the service worker would upload as, once remembered.
    pub fn flush_device(&self) -> Option<FlushDevice> {
        self.flush_device.borrow().clone()
    }
}

impl OutboxStorage for MemoryOutbox {
    async fn load(&self) -> Result<StoredOutbox, DatabaseError> {
        Ok(self.stored.borrow().clone())
    }

    async fn write(&self, write: &StorageWrite) -> Result<(), DatabaseError> {
        if let Some(reason) = self.failure.borrow().as_ref() {
            return Err(DatabaseError(reason.clone()));
        }
        let mut stored = self.stored.borrow_mut();
        if let Some(up_to) = write.delete_up_to {
            stored.records.retain(|record| record.seq > up_to);
        }
        stored.records.retain(|record| !write.delete.contains(&record.seq));
        for record in &write.put {
            stored.records.retain(|existing| existing.seq != record.seq);
            stored.records.push(record.clone());
        }
        stored.records.sort_by_key(|record| record.seq);
        let mut dead_letters = self.dead_letters.borrow_mut();
        for letter in &write.dead_letters {
            dead_letters.retain(|existing| existing.record.id != letter.record.id);
            dead_letters.push(letter.clone());
        }
        if let Some(counters) = write.counters {
            stored.counters = counters;
        }
        Ok(())
    }

    async fn load_assignments(&self) -> Result<StoredAssignments, DatabaseError> {
        Ok(self.assignments.borrow().clone())
    }

    async fn write_assignments(&self, write: &AssignmentWrite) -> Result<(), DatabaseError> {
        if let Some(reason) = self.failure.borrow().as_ref() {
            return Err(DatabaseError(reason.clone()));
        }
        let mut stored = self.assignments.borrow_mut();
        for entry in &write.entries {
            stored.entries.retain(|existing| existing.assignment.id != entry.assignment.id);
            stored.entries.push(entry.clone());
        }
        stored.messages = write.messages.clone();
        stored.last_event_id = write.last_event_id;
        Ok(())
    }

    async fn remember_flush_device(&self, device: &FlushDevice) -> Result<(), DatabaseError> {
        if let Some(reason) = self.failure.borrow().as_ref() {
            return Err(DatabaseError(reason.clone()));
        }
        *self.flush_device.borrow_mut() = Some(device.clone());
        Ok(())
    }

    async fn load_dead_letters(&self) -> Result<Vec<DeadLetter>, DatabaseError> {
        Ok(self.dead_letters.borrow().clone())
    }

    fn sequence_floor(&self) -> u64 {
        self.sequence_floor.get()
    }

    fn remember_sequence_floor(&self, floor: u64) {
        self.sequence_floor.set(self.sequence_floor.get().max(floor));
    }
}

/// How long the app waits for IndexedDB to open before it runs on memory.
pub const OPEN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The storage the app runs with: IndexedDB when it opens, memory otherwise.
pub enum AppOutboxStorage {
    IndexedDb(IndexedDbOutbox),
    /// IndexedDB could not be opened: records are kept in memory for this page's lifetime and
    /// every write reports the failure, so the driver sees a lasting warning. Nothing is written
    /// to IndexedDB later in this session, so the records it may still hold keep their numbers.
    Unavailable {
        memory: MemoryOutbox,
        /// The database that failed: its sequence floor still applies.
        name: String,
    },
}

impl AppOutboxStorage {
    /// Opens the app's database, or falls back to memory with the reason logged.
    /// Opening waits at most [`OPEN_TIMEOUT`]: a tab of an older version that holds the
    /// database open blocks the upgrade, and the driver must not face a blank app meanwhile.
    pub async fn open() -> AppOutboxStorage {
        AppOutboxStorage::open_named(database::DATABASE_NAME).await
    }

    /// [`AppOutboxStorage::open`] on the database called `name` (tests use scratch names).
    pub async fn open_named(name: &str) -> AppOutboxStorage {
        let opening = std::pin::pin!(IndexedDbOutbox::open(name));
        let timeout = std::pin::pin!(gloo_timers::future::sleep(OPEN_TIMEOUT));
        let opened = match futures::future::select(opening, timeout).await {
            futures::future::Either::Left((opened, _)) => opened,
            futures::future::Either::Right(((), _)) => Err(DatabaseError(format!(
                "opening took longer than {} s (another tab of an older version may hold the database)",
                OPEN_TIMEOUT.as_secs()
            ))),
        };
        match opened {
            Ok(storage) => AppOutboxStorage::IndexedDb(storage),
            Err(error) => {
                log::error!("IndexedDB is unavailable, records stay in memory: {error:?}");
                AppOutboxStorage::Unavailable {
                    memory: MemoryOutbox::failing(&format!("IndexedDB is unavailable: {}", error.0)),
                    name: name.to_string(),
                }
            }
        }
    }
}

impl OutboxStorage for AppOutboxStorage {
    async fn load(&self) -> Result<StoredOutbox, DatabaseError> {
        match self {
            AppOutboxStorage::IndexedDb(storage) => storage.load().await,
            AppOutboxStorage::Unavailable { memory, .. } => memory.load().await,
        }
    }

    async fn write(&self, write: &StorageWrite) -> Result<(), DatabaseError> {
        match self {
            AppOutboxStorage::IndexedDb(storage) => storage.write(write).await,
            AppOutboxStorage::Unavailable { memory, .. } => memory.write(write).await,
        }
    }

    async fn load_assignments(&self) -> Result<StoredAssignments, DatabaseError> {
        match self {
            AppOutboxStorage::IndexedDb(storage) => storage.load_assignments().await,
            AppOutboxStorage::Unavailable { memory, .. } => memory.load_assignments().await,
        }
    }

    async fn write_assignments(&self, write: &AssignmentWrite) -> Result<(), DatabaseError> {
        match self {
            AppOutboxStorage::IndexedDb(storage) => storage.write_assignments(write).await,
            AppOutboxStorage::Unavailable { memory, .. } => memory.write_assignments(write).await,
        }
    }

    async fn remember_flush_device(&self, device: &FlushDevice) -> Result<(), DatabaseError> {
        match self {
            AppOutboxStorage::IndexedDb(storage) => storage.remember_flush_device(device).await,
            AppOutboxStorage::Unavailable { memory, .. } => memory.remember_flush_device(device).await,
        }
    }

    async fn load_dead_letters(&self) -> Result<Vec<DeadLetter>, DatabaseError> {
        match self {
            AppOutboxStorage::IndexedDb(storage) => storage.load_dead_letters().await,
            AppOutboxStorage::Unavailable { memory, .. } => memory.load_dead_letters().await,
        }
    }

    fn sequence_floor(&self) -> u64 {
        // This pair's database, available or not: the floor outlives a page whose IndexedDB failed.
        stored_sequence_floor(self.name())
    }

    fn remember_sequence_floor(&self, floor: u64) {
        store_sequence_floor(self.name(), floor);
    }
}

impl AppOutboxStorage {
    /// The database's name (also when it could not be opened).
    pub fn name(&self) -> &str {
        match self {
            AppOutboxStorage::IndexedDb(storage) => &storage.name,
            AppOutboxStorage::Unavailable { name, .. } => name,
        }
    }
}
