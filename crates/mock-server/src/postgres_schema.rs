//! The PostgreSQL database's schema, as numbered migrations applied at start: the same tables as
//! SQLite's (`sqlite_schema.rs`), in PostgreSQL's types. This module is the one owner of it.
//!
//! Several nodes may start at once against one database: each applies the missing migrations
//! under a transaction-wide advisory lock, so one of them does it and the others find it done.
//! A database written by a newer server is refused, as with SQLite. Keys are compared byte by
//! byte (`COLLATE "C"`), as SQLite does, so both list drivers and jobs in the same order.

use crate::postgres_sql::PgConnection;
use crate::sql::SqlConnection;
use crate::sql_params;
use crate::sqlite_schema::SchemaError;
use crate::store::StoreError;

/// Taken by every node while it migrates: `pg_advisory_xact_lock(ADVISORY_KEY)`.
const ADVISORY_KEY: i64 = 0x0065_6e72_6f75_7465; // "enroute" in ASCII

/// Every migration, in order; never edited once released.
const MIGRATIONS: &[(u32, &str, &str)] = &[
    (
        1,
        "drivers, records, jobs, events, accounts, settings",
        "CREATE TABLE drivers (
         driver_id TEXT COLLATE \"C\" PRIMARY KEY,
         acked_seq BIGINT NOT NULL DEFAULT 0,
         position TEXT,
         position_time_ms BIGINT,
         last_seen_ms BIGINT,
         last_delivery_lag_ms BIGINT,
         duty TEXT,
         acked_event_id BIGINT NOT NULL DEFAULT 0,
         paused_reason TEXT
     );
     CREATE TABLE records (
         driver_id TEXT COLLATE \"C\" NOT NULL,
         seq BIGINT NOT NULL,
         record_id TEXT NOT NULL,
         kind TEXT NOT NULL,
         created_at_ms BIGINT NOT NULL,
         received_at_ms BIGINT NOT NULL,
         body TEXT NOT NULL,
         PRIMARY KEY (driver_id, seq)
     );
     CREATE TABLE assignments (
         id TEXT COLLATE \"C\" PRIMARY KEY,
         driver_id TEXT COLLATE \"C\" NOT NULL,
         body TEXT NOT NULL,
         created_at_ms BIGINT NOT NULL,
         updated_at_ms BIGINT NOT NULL
     );
     CREATE INDEX assignments_by_driver ON assignments (driver_id);
     CREATE TABLE assignment_history (
         entry_id BIGSERIAL PRIMARY KEY,
         assignment_id TEXT COLLATE \"C\" NOT NULL,
         at_ms BIGINT NOT NULL,
         status TEXT NOT NULL,
         changed_by TEXT NOT NULL,
         record_seq BIGINT
     );
     CREATE INDEX assignment_history_by_job ON assignment_history (assignment_id, entry_id);
     CREATE TABLE events (
         driver_id TEXT COLLATE \"C\" NOT NULL,
         event_id BIGINT NOT NULL,
         created_at_ms BIGINT NOT NULL,
         body TEXT NOT NULL,
         PRIMARY KEY (driver_id, event_id)
     );
     CREATE TABLE settings (
         name TEXT COLLATE \"C\" PRIMARY KEY,
         value TEXT NOT NULL
     );
     CREATE TABLE driver_accounts (
         driver_id TEXT COLLATE \"C\" PRIMARY KEY,
         token_sha256 TEXT NOT NULL,
         created_ms BIGINT NOT NULL,
         revoked_ms BIGINT
     );
     CREATE TABLE rejected_records (
         driver_id TEXT COLLATE \"C\" NOT NULL,
         seq BIGINT NOT NULL,
         reason TEXT NOT NULL,
         received_at_ms BIGINT NOT NULL,
         body TEXT,
         PRIMARY KEY (driver_id, seq)
     );
     CREATE TABLE lost_ranges (
         driver_id TEXT COLLATE \"C\" NOT NULL,
         first_seq BIGINT NOT NULL,
         last_seq BIGINT NOT NULL,
         PRIMARY KEY (driver_id, first_seq, last_seq)
     );",
    ),
    (
        2,
        "driver_sign_ins: the node each driver last signed in on",
        "CREATE TABLE driver_sign_ins (
             driver_id TEXT COLLATE \"C\" PRIMARY KEY,
             node TEXT NOT NULL,
             at_ms BIGINT NOT NULL
         );",
    ),
    (
        3,
        "dispatcher feed shared by the nodes; node liveness; connection ids",
        "CREATE TABLE feed_counter (
             only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
             last_seq BIGINT NOT NULL
         );
         INSERT INTO feed_counter (only_row, last_seq) VALUES (TRUE, 0);
         CREATE TABLE feed_changes (
             feed_seq BIGINT PRIMARY KEY,
             at_ms BIGINT NOT NULL,
             body TEXT NOT NULL
         );
         CREATE TABLE nodes (
             node TEXT COLLATE \"C\" PRIMARY KEY,
             seen_at TIMESTAMPTZ NOT NULL
         );
         ALTER TABLE driver_sign_ins ADD COLUMN connection BIGINT NOT NULL DEFAULT 0;",
    ),
    (
        4,
        "assignments.offer_deadline_ms: open offers by deadline, for the expiry pass",
        "ALTER TABLE assignments ADD COLUMN offer_deadline_ms BIGINT;
         UPDATE assignments SET offer_deadline_ms = (body::json->>'accept_by_ms')::bigint
             WHERE body::json->>'status' = 'offered';
         CREATE INDEX assignments_by_offer_deadline
             ON assignments (offer_deadline_ms) WHERE offer_deadline_ms IS NOT NULL;",
    ),
];

/// The schema version this server writes.
pub fn current_version() -> u32 {
    MIGRATIONS.last().map_or(0, |(version, _, _)| *version)
}

/// Why migrating failed: the schema's own error, or the database's.
#[derive(Debug)]
pub enum PgSchemaError {
    Schema(SchemaError),
    Store(StoreError),
}

impl std::fmt::Display for PgSchemaError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PgSchemaError::Schema(error) => write!(formatter, "{error}"),
            PgSchemaError::Store(error) => write!(formatter, "schema migration failed: {error}"),
        }
    }
}

impl std::error::Error for PgSchemaError {}

impl From<StoreError> for PgSchemaError {
    fn from(error: StoreError) -> PgSchemaError {
        PgSchemaError::Store(error)
    }
}

/// Brings the database up to [`current_version`]; returns the versions applied now.
pub fn migrate(db: &mut PgConnection, now_ms: i64) -> Result<Vec<u32>, PgSchemaError> {
    db.batch("BEGIN")?;
    let result = (|| -> Result<Vec<u32>, PgSchemaError> {
        db.execute("SELECT pg_advisory_xact_lock(?1)", sql_params![ADVISORY_KEY])?;
        db.batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version BIGINT PRIMARY KEY,
                 description TEXT NOT NULL,
                 applied_at_ms BIGINT NOT NULL
             )",
        )?;
        let found =
            db.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[])?.int(0)? as u32;
        let known = current_version();
        if found > known {
            return Err(PgSchemaError::Schema(SchemaError::Newer { found, known }));
        }
        let mut applied = Vec::new();
        for (version, description, sql) in MIGRATIONS.iter().filter(|(version, _, _)| *version > found) {
            db.batch(sql)?;
            db.execute(
                "INSERT INTO schema_migrations (version, description, applied_at_ms) VALUES (?1, ?2, ?3)",
                sql_params![i64::from(*version), *description, now_ms],
            )?;
            applied.push(*version);
        }
        Ok(applied)
    })();
    match result {
        Ok(applied) => {
            db.batch("COMMIT")?;
            Ok(applied)
        }
        Err(error) => {
            let _ = db.batch("ROLLBACK");
            Err(error)
        }
    }
}
