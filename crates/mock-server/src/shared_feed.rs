//! The dispatcher feed's changes as every node on one PostgreSQL database sees them: the one
//! owner of the `feed_changes` and `feed_counter` tables.
//!
//! A transaction that changes what consoles show (a status, a job, a message, a registration)
//! writes its changes here before it commits, numbered from the one counter row. The counter's
//! row lock is held until the commit, so numbers are taken in commit order across the nodes and
//! none is skipped: a reader that has seen number N and reads `feed_seq > N` never misses a
//! change that commits later with a smaller number. Each node reads the table
//! (`postgres_fanout`) and publishes what it finds to its own consoles, its own changes
//! included, so every console on every node sees one order.
//!
//! Positions are not written here: one row per fix would cost every batch a write and a turn on
//! the counter's lock. Consoles get at most about one position a second per driver anyway, so a
//! node reads the drivers' newest positions from the `drivers` table every second instead.
//!
//! With SQLite there is one process: [`take_shared`] leaves every change to be told in memory.

use crate::sql::{Dialect, SqlConnection};
use crate::sql_params;
use crate::store::StoreError;
use enroute_protocol::FeedChange;

/// Changes kept in the table for nodes that fall behind (a paused node, a lost connection);
/// one that falls further behind starts its consoles again from a snapshot.
pub const KEPT_CHANGES: i64 = 50_000;

/// Whether consoles on PostgreSQL get `change` through the shared table: everything a
/// transaction commits but positions. (Connects and disconnects are not committed changes:
/// each node tells its consoles, `sign_ins`.)
pub fn is_shared(change: &FeedChange) -> bool {
    !matches!(
        change,
        FeedChange::Position { .. } | FeedChange::Connected { .. } | FeedChange::Disconnected { .. }
    )
}

/// Takes out of `changes` those that reach consoles through the shared table on an engine of
/// `dialect` (PostgreSQL: all but positions and connects; SQLite: none), in order.
pub(crate) fn take_shared(dialect: Dialect, changes: &mut Vec<FeedChange>) -> Vec<FeedChange> {
    if dialect != Dialect::Postgres {
        return Vec::new();
    }
    let (shared, rest): (Vec<FeedChange>, Vec<FeedChange>) =
        std::mem::take(changes).into_iter().partition(is_shared);
    *changes = rest;
    shared
}

/// Writes `shared` (from [`take_shared`]) into the table, numbered in commit order, in one
/// statement: call it last before the commit (after the transaction's notification), since the
/// counter's row lock it takes is held until the commit and every node's shared writes wait
/// for it.
pub(crate) fn write_in(
    db: &mut dyn SqlConnection,
    shared: &[FeedChange],
    at_ms: i64,
) -> Result<(), StoreError> {
    if shared.is_empty() {
        return Ok(());
    }
    let bodies = shared
        .iter()
        .map(serde_json::to_string)
        .collect::<Result<Vec<String>, _>>()
        .and_then(|bodies| serde_json::to_string(&bodies))
        .map_err(|error| StoreError::Corrupt(error.to_string()))?;
    db.execute(
        "WITH counter AS (UPDATE feed_counter SET last_seq = last_seq + ?1 RETURNING last_seq)
         INSERT INTO feed_changes (feed_seq, at_ms, body)
         SELECT counter.last_seq - ?1 + changes.position, ?2, changes.body
         FROM counter, json_array_elements_text(?3::text::json) WITH ORDINALITY AS changes(body, position)",
        sql_params![shared.len() as i64, at_ms, bodies],
    )?;
    Ok(())
}

/// The number of the newest shared change (0: none yet).
pub(crate) fn last_seq_in(db: &mut dyn SqlConnection) -> Result<u64, StoreError> {
    Ok(db.query_one("SELECT last_seq FROM feed_counter", &[])?.int(0)? as u64)
}

/// A shared change read back.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedChange {
    pub feed_seq: u64,
    pub at_ms: i64,
    /// `None` when the row cannot be read (written by a newer server, say): skipped, logged.
    pub change: Option<FeedChange>,
}

/// At most `limit` changes after `after`, oldest first.
pub(crate) fn changes_after_in(
    db: &mut dyn SqlConnection,
    after: u64,
    limit: usize,
) -> Result<Vec<SharedChange>, StoreError> {
    db.query(
        "SELECT feed_seq, at_ms, body FROM feed_changes WHERE feed_seq > ?1 ORDER BY feed_seq LIMIT ?2",
        sql_params![after as i64, limit as i64],
    )?
    .iter()
    .map(|row| {
        let (feed_seq, at_ms, body) = (row.int(0)? as u64, row.int(1)?, row.text(2)?);
        let change = serde_json::from_str(&body)
            .inspect_err(|error| tracing::error!(feed_seq, %error, "a shared feed change cannot be read"))
            .ok();
        Ok(SharedChange { feed_seq, at_ms, change })
    })
    .collect()
}

/// Drops all but the newest [`KEPT_CHANGES`].
pub(crate) fn prune_in(db: &mut dyn SqlConnection) -> Result<(), StoreError> {
    db.execute(
        "DELETE FROM feed_changes WHERE feed_seq <= (SELECT last_seq FROM feed_counter) - ?1",
        sql_params![KEPT_CHANGES],
    )?;
    Ok(())
}
