//! PostgreSQL behind [`SqlConnection`]: one client connection, its prepared statements kept by
//! their text, `?N` parameters written as PostgreSQL's `$N`.
//!
//! Values go over as PostgreSQL's binary types for the columns they meet (`bigint`, `integer`,
//! `text`); rows come back as numbers, text or NULL, whatever integer or text type a column has.

use crate::sql::{Dialect, SqlConnection, SqlRow, SqlValue};
use crate::store::StoreError;
use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type};
use std::collections::HashMap;
use std::error::Error;

/// One connection to PostgreSQL, with the statements it has prepared.
pub struct PgConnection {
    client: postgres::Client,
    statements: HashMap<String, postgres::Statement>,
}

impl PgConnection {
    /// Connects to `url` (`postgres://user@host:port/database`). A database that does not
    /// answer is given up on, rather than waited for forever: 10 s to connect (unless the URL
    /// says otherwise), and TCP keepalives so a half-open connection is found out.
    pub fn connect(url: &str) -> Result<PgConnection, StoreError> {
        let mut config: postgres::Config = url.parse().map_err(StoreError::from)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(10));
        }
        config
            .keepalives(true)
            .keepalives_idle(std::time::Duration::from_secs(20))
            .keepalives_interval(std::time::Duration::from_secs(5))
            .keepalives_retries(3);
        let client = config.connect(postgres::NoTls).map_err(StoreError::from)?;
        Ok(PgConnection { client, statements: HashMap::new() })
    }

    /// Whether the server closed this connection (it restarted, or ended this backend).
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Runs statements with no parameters and no rows (schema changes, `LISTEN`).
    pub fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.client.batch_execute(sql).map_err(StoreError::from)
    }

    pub fn client(&mut self) -> &mut postgres::Client {
        &mut self.client
    }

    fn statement(&mut self, sql: &str) -> Result<postgres::Statement, StoreError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(&numbered_parameters(sql)).map_err(StoreError::from)?;
        self.statements.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }
}

/// `?1` → `$1`, outside quoted text.
fn numbered_parameters(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut characters = sql.chars().peekable();
    while let Some(character) = characters.next() {
        match character {
            '\'' => {
                quoted = !quoted;
                out.push(character);
            }
            '?' if !quoted && characters.peek().is_some_and(char::is_ascii_digit) => out.push('$'),
            _ => out.push(character),
        }
    }
    out
}

impl ToSql for SqlValue {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self {
            SqlValue::Null => Ok(IsNull::Yes),
            SqlValue::Int(value) => match *ty {
                Type::INT8 => value.to_sql(ty, out),
                Type::INT4 => i32::try_from(*value)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*value)?.to_sql(ty, out),
                _ => Err(format!("a number ({value}) where PostgreSQL expects {ty}").into()),
            },
            SqlValue::Text(text) => text.as_str().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

fn row_values(row: &postgres::Row) -> Result<SqlRow, StoreError> {
    let mut values = Vec::with_capacity(row.len());
    for (index, column) in row.columns().iter().enumerate() {
        let corrupt =
            |error: postgres::Error| StoreError::Corrupt(format!("column {}: {error}", column.name()));
        let value = match *column.type_() {
            Type::INT8 => row.try_get::<_, Option<i64>>(index).map_err(corrupt)?.map(SqlValue::Int),
            Type::INT4 => row
                .try_get::<_, Option<i32>>(index)
                .map_err(corrupt)?
                .map(|value| SqlValue::Int(value.into())),
            Type::INT2 => row
                .try_get::<_, Option<i16>>(index)
                .map_err(corrupt)?
                .map(|value| SqlValue::Int(value.into())),
            Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR => {
                row.try_get::<_, Option<String>>(index).map_err(corrupt)?.map(SqlValue::Text)
            }
            ref other => {
                return Err(StoreError::Corrupt(format!(
                    "column {} has type {other}, not a number or text",
                    column.name()
                )));
            }
        };
        values.push(value.unwrap_or(SqlValue::Null));
    }
    Ok(SqlRow(values))
}

impl SqlConnection for PgConnection {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, StoreError> {
        if params.is_empty() && !sql.contains('?') {
            // Transaction control and the like: no statement to keep.
            return self.client.execute(sql, &[]).map_err(StoreError::from);
        }
        let statement = self.statement(sql)?;
        let params: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|value| value as &(dyn ToSql + Sync)).collect();
        self.client.execute(&statement, &params).map_err(StoreError::from)
    }

    fn query(&mut self, sql: &str, params: &[SqlValue]) -> Result<Vec<SqlRow>, StoreError> {
        let statement = self.statement(sql)?;
        let params: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|value| value as &(dyn ToSql + Sync)).collect();
        self.client.query(&statement, &params).map_err(StoreError::from)?.iter().map(row_values).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_parameters_become_dollars_outside_quotes_only() {
        assert_eq!(
            numbered_parameters("SELECT a FROM t WHERE b = ?1 AND c = '?2' AND d = ?12 AND e = ?"),
            "SELECT a FROM t WHERE b = $1 AND c = '?2' AND d = $12 AND e = ?"
        );
    }
}
