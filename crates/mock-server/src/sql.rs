//! The one way the store's logic talks to a database: statements with numbered parameters
//! (`?1`, `?2`, …), values that are whole numbers, text or NULL, and rows of them.
//!
//! Why: what records, jobs and accounts mean (de-duplication, gaps, job transitions, events)
//! is written once, against [`SqlConnection`], and every engine the server can run on
//! implements that trait; SQLite's is here ([`SqliteSql`]). The SQL used is the subset both
//! SQLite and PostgreSQL understand (`INSERT … ON CONFLICT`, `CASE`, `COALESCE`, savepoints);
//! where they differ, [`Dialect`] says how.
//!
//! This module must not know any table: the schema belongs to the store modules.

use crate::store::StoreError;

/// Which SQL an engine speaks where the engines differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Appended to a `SELECT` that reads a row the transaction will change, so that a concurrent
    /// transaction (another node) waits for this one (SQLite has one writer: nothing to add).
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }

    /// Appended to a `SELECT` of rows a periodic job (expiring offers) will change: rows another
    /// node's pass holds are left to it, so each is changed once, and no pass waits for another.
    pub fn for_update_skip_locked(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// A statement that holds, until the transaction ends, a lock on the name `?1` (a driver's
    /// events): transactions of other nodes that take it wait. `None` where one writer at a time
    /// is all there is (SQLite).
    pub fn named_lock(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some("SELECT pg_advisory_xact_lock(hashtextextended(?1, 0))"),
        }
    }

    /// A statement that tells other processes on the database, when the transaction commits,
    /// what `?1` names for them to re-read (`commit_hint`; `None`: no other process can share
    /// the database).
    pub fn notify_commit(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            // The channel is the schema's: deployments in other schemas of the database do not hear it.
            Dialect::Postgres => Some("SELECT pg_notify('enroute_events_' || current_schema(), ?1)"),
        }
    }

    /// The column that orders a table's rows as they were inserted, for tables without a key
    /// of their own (SQLite's `rowid`; PostgreSQL tables that need it have an `entry_id`).
    pub fn insertion_order(self) -> &'static str {
        match self {
            Dialect::Sqlite => "rowid",
            Dialect::Postgres => "entry_id",
        }
    }
}

/// A value in a statement or a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SqlValue {
    Null,
    Int(i64),
    Text(String),
}

impl From<i64> for SqlValue {
    fn from(value: i64) -> SqlValue {
        SqlValue::Int(value)
    }
}

impl From<u64> for SqlValue {
    /// Sequence numbers and event ids stay below 2^53 (`enroute_protocol::MAX_SEQ`), so they
    /// fit a signed column.
    fn from(value: u64) -> SqlValue {
        SqlValue::Int(value as i64)
    }
}

impl From<&str> for SqlValue {
    fn from(value: &str) -> SqlValue {
        SqlValue::Text(value.to_string())
    }
}

impl From<String> for SqlValue {
    fn from(value: String) -> SqlValue {
        SqlValue::Text(value)
    }
}

impl From<&String> for SqlValue {
    fn from(value: &String) -> SqlValue {
        SqlValue::Text(value.clone())
    }
}

impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(value: Option<T>) -> SqlValue {
        value.map_or(SqlValue::Null, Into::into)
    }
}

/// `sql_params![a, b]`: the parameters `?1`, `?2` of a statement.
#[macro_export]
macro_rules! sql_params {
    ($($value:expr),* $(,)?) => { &[$($crate::sql::SqlValue::from($value)),*] };
}

/// One row of a result, its columns in the `SELECT`'s order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlRow(pub Vec<SqlValue>);

impl SqlRow {
    fn column(&self, index: usize) -> Result<&SqlValue, StoreError> {
        self.0.get(index).ok_or_else(|| StoreError::Corrupt(format!("a row has no column {index}")))
    }

    /// A whole number that must be there.
    pub fn int(&self, index: usize) -> Result<i64, StoreError> {
        self.opt_int(index)?.ok_or_else(|| StoreError::Corrupt(format!("column {index} is NULL")))
    }

    pub fn opt_int(&self, index: usize) -> Result<Option<i64>, StoreError> {
        match self.column(index)? {
            SqlValue::Null => Ok(None),
            SqlValue::Int(value) => Ok(Some(*value)),
            SqlValue::Text(text) => {
                Err(StoreError::Corrupt(format!("column {index} holds text {text:?}, not a number")))
            }
        }
    }

    /// Text that must be there.
    pub fn text(&self, index: usize) -> Result<String, StoreError> {
        self.opt_text(index)?.ok_or_else(|| StoreError::Corrupt(format!("column {index} is NULL")))
    }

    pub fn opt_text(&self, index: usize) -> Result<Option<String>, StoreError> {
        match self.column(index)? {
            SqlValue::Null => Ok(None),
            SqlValue::Text(text) => Ok(Some(text.clone())),
            SqlValue::Int(value) => {
                Err(StoreError::Corrupt(format!("column {index} holds {value}, not text")))
            }
        }
    }
}

/// A connection (or an open transaction on one) that runs the store's statements.
pub trait SqlConnection {
    fn dialect(&self) -> Dialect;
    /// Runs a statement; the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, StoreError>;
    /// Runs a query; every row.
    fn query(&mut self, sql: &str, params: &[SqlValue]) -> Result<Vec<SqlRow>, StoreError>;

    /// The first row, if any.
    fn query_opt(&mut self, sql: &str, params: &[SqlValue]) -> Result<Option<SqlRow>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The first row, which must be there.
    fn query_one(&mut self, sql: &str, params: &[SqlValue]) -> Result<SqlRow, StoreError> {
        self.query_opt(sql, params)?.ok_or_else(|| StoreError::Corrupt(format!("no row for {sql:?}")))
    }
}

/// SQLite through rusqlite: statements are prepared once and cached by the connection.
pub struct SqliteSql<'c>(pub &'c rusqlite::Connection);

impl rusqlite::ToSql for SqlValue {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            SqlValue::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            SqlValue::Int(value) => ToSqlOutput::Borrowed(ValueRef::Integer(*value)),
            SqlValue::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
        })
    }
}

impl SqlConnection for SqliteSql<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, StoreError> {
        let mut statement = self.0.prepare_cached(sql)?;
        Ok(statement.execute(rusqlite::params_from_iter(params.iter()))? as u64)
    }

    fn query(&mut self, sql: &str, params: &[SqlValue]) -> Result<Vec<SqlRow>, StoreError> {
        use rusqlite::types::ValueRef;
        let mut statement = self.0.prepare_cached(sql)?;
        let columns = statement.column_count();
        let mut rows = statement.query(rusqlite::params_from_iter(params.iter()))?;
        let mut found = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(columns);
            for index in 0..columns {
                values.push(match row.get_ref(index)? {
                    ValueRef::Null => SqlValue::Null,
                    ValueRef::Integer(value) => SqlValue::Int(value),
                    ValueRef::Text(bytes) => SqlValue::Text(
                        std::str::from_utf8(bytes)
                            .map_err(|error| StoreError::Corrupt(format!("column {index}: {error}")))?
                            .to_string(),
                    ),
                    ValueRef::Real(value) => {
                        return Err(StoreError::Corrupt(format!(
                            "column {index} holds a real number, {value}"
                        )));
                    }
                    ValueRef::Blob(_) => {
                        return Err(StoreError::Corrupt(format!("column {index} holds a blob")));
                    }
                });
            }
            found.push(SqlRow(values));
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_sqlite() {
        let connection = rusqlite::Connection::open_in_memory().unwrap();
        let mut sql = SqliteSql(&connection);
        sql.execute("CREATE TABLE t (n INTEGER, s TEXT)", &[]).unwrap();
        assert_eq!(sql.execute("INSERT INTO t (n, s) VALUES (?1, ?2)", sql_params![42_i64, "x"]).unwrap(), 1);
        assert_eq!(
            sql.execute("INSERT INTO t (n, s) VALUES (?1, ?2)", sql_params![None::<i64>, None::<&str>])
                .unwrap(),
            1
        );
        let rows = sql.query("SELECT n, s FROM t ORDER BY n IS NULL, n", &[]).unwrap();
        assert_eq!(rows[0].int(0).unwrap(), 42);
        assert_eq!(rows[0].text(1).unwrap(), "x");
        assert_eq!(rows[1].opt_int(0).unwrap(), None);
        assert_eq!(rows[1].opt_text(1).unwrap(), None);
        assert!(sql.query_opt("SELECT n FROM t WHERE n = ?1", sql_params![7_u64]).unwrap().is_none());
    }

    #[test]
    fn a_column_of_the_wrong_kind_is_corrupt_data_not_a_panic() {
        let row = SqlRow(vec![SqlValue::Text("seven".into()), SqlValue::Null]);
        assert!(matches!(row.int(0), Err(StoreError::Corrupt(_))));
        assert!(matches!(row.text(1), Err(StoreError::Corrupt(_))));
        assert!(matches!(row.int(5), Err(StoreError::Corrupt(_))));
    }
}
