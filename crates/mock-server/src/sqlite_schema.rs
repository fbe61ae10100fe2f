//! The SQLite database's schema, as numbered migrations applied at start.
//!
//! This module is the one owner of the schema: every table and column the SQLite store uses is
//! created or changed here, by a migration with a number. A database remembers the migrations
//! it has had in `schema_migrations`; opening it applies the missing ones in order, each in a
//! transaction with its row, so a crash mid-way leaves the database at the last whole version.
//! A database written by a newer server (a version this one does not know) is refused with an
//! error that says so, never opened and half understood.
//!
//! Databases made before the schema had versions (no `schema_migrations`) are brought in by the
//! same migrations: each is written so that it does nothing to what is already there.
//! Migrations are never edited once released; a change is a new one at the end.

use rusqlite::{Connection, Transaction, params};

/// One change to the schema.
pub struct Migration {
    /// Its number: 1, 2, … in the order they are applied.
    pub version: u32,
    /// What it does, in a few words (kept in `schema_migrations`).
    pub description: &'static str,
    apply: fn(&Transaction<'_>) -> rusqlite::Result<()>,
}

/// Every migration, in order. The last one's number is the version this server writes.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "drivers, records, jobs, events, accounts, settings",
        apply: tables_v1,
    },
    Migration { version: 2, description: "drivers.paused_reason", apply: paused_reason },
    Migration {
        version: 3,
        description: "assignments.offer_deadline_ms: open offers by deadline, for the expiry pass",
        apply: offer_deadline,
    },
];

/// The schema version this server writes.
pub fn current_version() -> u32 {
    MIGRATIONS.last().map_or(0, |migration| migration.version)
}

/// Why a database's schema could not be brought up to date.
#[derive(Debug)]
pub enum SchemaError {
    /// The database was written by a newer server: it has migrations this one does not know.
    Newer { found: u32, known: u32 },
    /// A migration (or reading the version) failed.
    Migration { version: u32, source: rusqlite::Error },
}

impl std::fmt::Display for SchemaError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SchemaError::Newer { found, known } => write!(
                formatter,
                "the database's schema is version {found}, newer than this server knows ({known}): \
                 run a server at least as new as the one that wrote it"
            ),
            SchemaError::Migration { version, source } => {
                write!(formatter, "schema migration {version} failed: {source}")
            }
        }
    }
}

impl std::error::Error for SchemaError {}

/// Brings the database up to [`current_version`]; returns the versions applied now.
pub fn migrate(connection: &mut Connection, now_ms: i64) -> Result<Vec<u32>, SchemaError> {
    let failed = |version| move |source| SchemaError::Migration { version, source };
    connection
        .execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version INTEGER PRIMARY KEY,
                 description TEXT NOT NULL,
                 applied_at_ms INTEGER NOT NULL
             )",
        )
        .map_err(failed(0))?;
    let found = applied_version(connection).map_err(failed(0))?;
    let known = current_version();
    if found > known {
        return Err(SchemaError::Newer { found, known });
    }
    let mut applied = Vec::new();
    for migration in MIGRATIONS.iter().filter(|migration| migration.version > found) {
        let transaction = connection.transaction().map_err(failed(migration.version))?;
        (migration.apply)(&transaction).map_err(failed(migration.version))?;
        transaction
            .execute(
                "INSERT INTO schema_migrations (version, description, applied_at_ms) VALUES (?1, ?2, ?3)",
                params![migration.version, migration.description, now_ms],
            )
            .map_err(failed(migration.version))?;
        transaction.commit().map_err(failed(migration.version))?;
        applied.push(migration.version);
    }
    Ok(applied)
}

/// The highest migration the database has had (0: none).
pub fn applied_version(connection: &Connection) -> rusqlite::Result<u32> {
    connection.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |row| row.get(0))
}

fn tables_v1(transaction: &Transaction<'_>) -> rusqlite::Result<()> {
    transaction.execute_batch(
        "CREATE TABLE IF NOT EXISTS drivers (
             driver_id TEXT PRIMARY KEY,
             acked_seq INTEGER NOT NULL DEFAULT 0,
             position TEXT,
             position_time_ms INTEGER,
             last_seen_ms INTEGER,
             last_delivery_lag_ms INTEGER,
             duty TEXT,
             acked_event_id INTEGER NOT NULL DEFAULT 0
         );
         CREATE TABLE IF NOT EXISTS records (
             driver_id TEXT NOT NULL,
             seq INTEGER NOT NULL,
             record_id TEXT NOT NULL,
             kind TEXT NOT NULL,
             created_at_ms INTEGER NOT NULL,
             received_at_ms INTEGER NOT NULL,
             body TEXT NOT NULL,
             PRIMARY KEY (driver_id, seq)
         ) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS assignments (
             id TEXT PRIMARY KEY,
             driver_id TEXT NOT NULL,
             body TEXT NOT NULL,
             created_at_ms INTEGER NOT NULL,
             updated_at_ms INTEGER NOT NULL
         );
         CREATE INDEX IF NOT EXISTS assignments_by_driver ON assignments (driver_id);
         CREATE TABLE IF NOT EXISTS assignment_history (
             assignment_id TEXT NOT NULL,
             at_ms INTEGER NOT NULL,
             status TEXT NOT NULL,
             changed_by TEXT NOT NULL,
             record_seq INTEGER
         );
         CREATE TABLE IF NOT EXISTS events (
             driver_id TEXT NOT NULL,
             event_id INTEGER NOT NULL,
             created_at_ms INTEGER NOT NULL,
             body TEXT NOT NULL,
             PRIMARY KEY (driver_id, event_id)
         ) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS settings (
             name TEXT PRIMARY KEY,
             value TEXT NOT NULL
         );
         CREATE TABLE IF NOT EXISTS driver_accounts (
             driver_id TEXT PRIMARY KEY,
             token_sha256 TEXT NOT NULL,
             created_ms INTEGER NOT NULL,
             revoked_ms INTEGER
         );
         CREATE TABLE IF NOT EXISTS rejected_records (
             driver_id TEXT NOT NULL,
             seq INTEGER NOT NULL,
             reason TEXT NOT NULL,
             received_at_ms INTEGER NOT NULL,
             body TEXT,
             PRIMARY KEY (driver_id, seq)
         ) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS lost_ranges (
             driver_id TEXT NOT NULL,
             first_seq INTEGER NOT NULL,
             last_seq INTEGER NOT NULL,
             PRIMARY KEY (driver_id, first_seq, last_seq)
         ) WITHOUT ROWID;",
    )
}

/// Why a driver's tracking is paused. Databases from before versions may have it already.
fn paused_reason(transaction: &Transaction<'_>) -> rusqlite::Result<()> {
    add_column_if_missing(transaction, "drivers", "paused_reason", "TEXT")
}

/// The deadline of each open offer in a column of its own, indexed, so the expiry pass reads
/// only the offers due instead of every job ever made.
fn offer_deadline(transaction: &Transaction<'_>) -> rusqlite::Result<()> {
    add_column_if_missing(transaction, "assignments", "offer_deadline_ms", "INTEGER")?;
    transaction.execute_batch(
        "UPDATE assignments SET offer_deadline_ms = json_extract(body, '$.accept_by_ms')
             WHERE json_extract(body, '$.status') = 'offered';
         CREATE INDEX IF NOT EXISTS assignments_by_offer_deadline
             ON assignments (offer_deadline_ms) WHERE offer_deadline_ms IS NOT NULL;",
    )
}

fn add_column_if_missing(
    connection: &Connection,
    table: &str,
    column: &str,
    kind: &str,
) -> rusqlite::Result<()> {
    let present = connection
        .prepare(&format!("SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?1"))?
        .exists([column])?;
    if !present {
        connection.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(connection: &Connection, table: &str) -> Vec<String> {
        let mut statement =
            connection.prepare(&format!("SELECT name FROM pragma_table_info('{table}')")).unwrap();
        statement.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect()
    }

    #[test]
    fn a_new_database_gets_every_migration_once() {
        let mut connection = Connection::open_in_memory().unwrap();
        let all: Vec<u32> = MIGRATIONS.iter().map(|migration| migration.version).collect();
        assert_eq!(migrate(&mut connection, 1).unwrap(), all);
        assert_eq!(applied_version(&connection).unwrap(), current_version());
        assert!(columns(&connection, "drivers").contains(&"paused_reason".to_string()));
        // Opening it again applies nothing.
        assert_eq!(migrate(&mut connection, 2).unwrap(), Vec::<u32>::new());
        let rows: i64 =
            connection.query_row("SELECT COUNT(*) FROM schema_migrations", [], |row| row.get(0)).unwrap();
        assert_eq!(rows, MIGRATIONS.len() as i64);
    }

    #[test]
    fn migrations_are_numbered_one_by_one() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version as usize, index + 1, "{}", migration.description);
        }
    }

    /// A database from before versions, with and without the later column, keeps its rows.
    #[test]
    fn a_database_from_before_versions_is_brought_in_and_keeps_its_rows() {
        for had_paused_reason in [false, true] {
            let mut connection = Connection::open_in_memory().unwrap();
            connection
                .execute_batch(
                    "CREATE TABLE drivers (
                         driver_id TEXT PRIMARY KEY,
                         acked_seq INTEGER NOT NULL DEFAULT 0,
                         position TEXT,
                         position_time_ms INTEGER,
                         last_seen_ms INTEGER,
                         last_delivery_lag_ms INTEGER,
                         duty TEXT,
                         acked_event_id INTEGER NOT NULL DEFAULT 0
                     );
                     INSERT INTO drivers (driver_id, acked_seq) VALUES ('van-7', 42);",
                )
                .unwrap();
            if had_paused_reason {
                connection.execute_batch("ALTER TABLE drivers ADD COLUMN paused_reason TEXT").unwrap();
            }
            assert_eq!(migrate(&mut connection, 1).unwrap(), vec![1, 2, 3]);
            let acked: i64 = connection
                .query_row("SELECT acked_seq FROM drivers WHERE driver_id = 'van-7'", [], |row| row.get(0))
                .unwrap();
            assert_eq!(acked, 42);
            assert_eq!(
                columns(&connection, "drivers").iter().filter(|name| *name == "paused_reason").count(),
                1
            );
        }
    }

    /// Offers made before the deadline column are found by the expiry pass after the migration.
    #[test]
    fn open_offers_from_before_the_deadline_column_get_their_deadline() {
        let mut connection = Connection::open_in_memory().unwrap();
        migrate(&mut connection, 1).unwrap();
        connection
            .execute_batch(
                "DELETE FROM schema_migrations WHERE version = 3;
                 DROP INDEX assignments_by_offer_deadline;
                 ALTER TABLE assignments DROP COLUMN offer_deadline_ms;
                 INSERT INTO assignments (id, driver_id, body, created_at_ms, updated_at_ms) VALUES
                     ('open', 'van-7', '{\"id\":\"open\",\"status\":\"offered\",\"accept_by_ms\":5000}', 1, 1),
                     ('taken', 'van-7', '{\"id\":\"taken\",\"status\":\"accepted\",\"accept_by_ms\":5000}', 1, 1),
                     ('no-deadline', 'van-7', '{\"id\":\"no-deadline\",\"status\":\"offered\"}', 1, 1);",
            )
            .unwrap();
        assert_eq!(migrate(&mut connection, 2).unwrap(), vec![3]);
        let due: Vec<(String, Option<i64>)> = connection
            .prepare("SELECT id, offer_deadline_ms FROM assignments ORDER BY id")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            due,
            vec![("no-deadline".into(), None), ("open".into(), Some(5000)), ("taken".into(), None)]
        );
    }

    #[test]
    fn a_database_from_a_newer_server_is_refused_and_left_alone() {
        let mut connection = Connection::open_in_memory().unwrap();
        migrate(&mut connection, 1).unwrap();
        let newer = current_version() + 1;
        connection
            .execute(
                "INSERT INTO schema_migrations (version, description, applied_at_ms) VALUES (?1, 'from the future', 2)",
                [newer],
            )
            .unwrap();
        let error = migrate(&mut connection, 3).unwrap_err();
        assert!(
            matches!(error, SchemaError::Newer { found, known } if found == newer && known == current_version())
        );
        assert!(error.to_string().contains("newer than this server knows"), "{error}");
    }

    /// A migration that fails leaves the database at the last whole version, with no row for it.
    #[test]
    fn a_failed_migration_leaves_the_version_before_it() {
        let mut connection = Connection::open_in_memory().unwrap();
        migrate(&mut connection, 1).unwrap();
        connection.execute("DELETE FROM schema_migrations WHERE version >= 2", []).unwrap();
        // Make migration 2 fail: `drivers` is a view now, so a column cannot be added to it.
        connection
            .execute_batch(
                "ALTER TABLE drivers RENAME TO drivers_table;
                 CREATE VIEW drivers AS SELECT driver_id, acked_seq FROM drivers_table;",
            )
            .unwrap();
        let error = migrate(&mut connection, 2).unwrap_err();
        assert!(matches!(error, SchemaError::Migration { version: 2, .. }), "{error}");
        assert_eq!(applied_version(&connection).unwrap(), 1);
    }
}
