//! What other nodes on the same PostgreSQL database committed reaches this node's drivers and
//! consoles, and this node's own shared changes reach its consoles.
//!
//! The tables are the truth; notifications are hints. Every transaction that stores events or
//! shared feed changes sends one notification (`commit_hint`). A thread of this node listens on
//! a connection of its own and:
//! - for each named driver with a connection here, reads the driver's newest event and hands
//!   it to the hub: the driver's session sends it, or, if it skips ids, reads the ones in
//!   between from the store first (`Session::handle_pushed`), and drops what it already sent;
//! - when the feed grew, reads the shared changes after the last one it published
//!   (`shared_feed`) and publishes them to this node's consoles, in their order. If the table
//!   no longer holds what it missed (it was away longer than the table keeps), it restarts the
//!   feed: consoles here connect again and get a snapshot;
//! - every second, reads the newest positions of drivers heard from lately and publishes those
//!   of drivers connected elsewhere (positions of drivers connected here come from the writer);
//!   and notes in `nodes` that this node is alive;
//! - hears the other nodes' notices about drivers' connections (`node_notice.rs`): a sign-in
//!   elsewhere ends an older connection here (`replaced`) and shows the driver connected; a
//!   sign-out elsewhere shows it disconnected unless it connected again; a revoked token ends
//!   its connection here (`token_revoked`).
//!
//! Because a hint can be lost (the listening connection dropped, the node paused), the thread
//! also looks at everything on a timer and right after it connects again: every connected
//! driver's newest event, the shared feed, and who is connected on which live node (a node that
//! has not said it is alive for [`NODE_DEAD_AFTER`] counts as gone, its drivers disconnected).
//! A lost hint only delays.
//!
//! This module must not know about sockets or sessions: it talks to the hub, the sign-ins and
//! the feed.

use crate::commit_hint::HintedDrivers;
use crate::feed::Feed;
use crate::hub::Hub;
use crate::node_notice::{DriverNews, NodeNotice};
use crate::postgres_sql::PgConnection;
use crate::sign_ins::{ConnectionElsewhere, SignIns};
use crate::sql::SqlConnection;
use crate::store::StoreError;
use enroute_protocol::{Event, FeedChange, Fix};
use postgres::fallible_iterator::FallibleIterator;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How often everything is looked at, hint or not.
pub const SWEEP_EVERY: Duration = Duration::from_secs(3);
/// How often positions are read and this node says it is alive.
const TICK_EVERY: Duration = Duration::from_secs(1);
/// A node silent this long is taken for gone (it says it is alive every [`TICK_EVERY`]).
pub const NODE_DEAD_AFTER: Duration = Duration::from_secs(10);
/// Drivers heard from within this long have their position read on every tick (it covers the
/// time between a commit and the next tick, and nodes' clocks that differ by a few seconds).
const POSITION_WINDOW_MS: i64 = 10_000;
/// How long to wait before connecting again after the listening connection was lost.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);
/// Shared changes read at a time.
const FEED_PAGE: usize = 1_000;

/// What the listening thread works with.
pub struct Fanout {
    url: String,
    /// This process's name among the nodes (`Store::node_name`): its own notices are not news.
    node: String,
    hub: Hub,
    sign_ins: SignIns,
    feed: Feed,
    /// How often it looks without a hint ([`SWEEP_EVERY`]; tests of the hints alone pass a long one).
    sweep_every: Duration,
    /// By driver, the newest event id handed to the hub.
    pushed: HashMap<String, u64>,
    /// The newest shared change published to this node's consoles.
    feed_seq: u64,
    /// By driver, the fix time of the newest position seen.
    positions: HashMap<String, i64>,
    /// Gone when the state this node serves is dropped (a test's end): the thread ends then.
    serving: std::sync::Weak<()>,
}

impl Fanout {
    pub fn new(
        url: String,
        node: String,
        hub: Hub,
        sign_ins: SignIns,
        feed: Feed,
        sweep_every: Duration,
        serving: std::sync::Weak<()>,
    ) -> Fanout {
        Fanout {
            url,
            node,
            hub,
            sign_ins,
            feed,
            sweep_every,
            pushed: HashMap::new(),
            feed_seq: 0,
            positions: HashMap::new(),
            serving,
        }
    }

    /// Connects and listens, then starts the thread; it runs as long as the process. Returns
    /// once this node listens and knows where the shared feed stands: consoles that connect from
    /// then on miss nothing. Blocks: call it where blocking is allowed.
    pub fn start(mut self) -> Result<(), StoreError> {
        let mut connection = self.connect()?;
        self.feed_seq = crate::shared_feed::last_seq_in(&mut connection)?;
        self.feed.shared_start(self.feed_seq);
        std::thread::Builder::new()
            .name("enroute-fanout".into())
            .spawn(move || {
                let mut connection = Some(connection);
                while self.serving.strong_count() > 0 {
                    let listened = match connection.take() {
                        Some(connection) => self.listen(connection),
                        None => self.connect().and_then(|connection| self.listen(connection)),
                    };
                    match listened {
                        Ok(()) => return,
                        Err(error) => {
                            tracing::warn!(%error, "the node's listening connection was lost; connecting again")
                        }
                    }
                    std::thread::sleep(RECONNECT_AFTER);
                }
            })
            .map_err(|error| StoreError::Writer(format!("cannot start the listening thread: {error}")))?;
        Ok(())
    }

    /// The listening connection, named `enroute-fanout NODE` so an operator (or a test) can find
    /// it in `pg_stat_activity`. The channels are the schema's (`enroute_events_public`):
    /// several deployments may share one database in schemas of their own, and must not hear
    /// each other.
    fn connect(&self) -> Result<PgConnection, StoreError> {
        let mut connection = PgConnection::connect(&self.url)?;
        let schema = connection.query_one("SELECT current_schema()", &[])?.text(0)?;
        // What this connection writes (that the node is alive) needs no flush to disk.
        connection.batch(&format!(
            "SET application_name = 'enroute-fanout {}'; SET synchronous_commit = off; LISTEN \"{}\"; LISTEN \"{}\"",
            self.node.replace('\'', ""),
            events_channel(&schema).replace('"', "\"\""),
            drivers_channel(&schema).replace('"', "\"\"")
        ))?;
        Ok(connection)
    }

    /// Listens until the connection fails, or the state this node serves is gone (`Ok`).
    fn listen(&mut self, mut connection: PgConnection) -> Result<(), StoreError> {
        let schema = connection.query_one("SELECT current_schema()", &[])?.text(0)?;
        let drivers = drivers_channel(&schema);
        // Whatever was committed while this node was not listening.
        self.tick(&mut connection)?;
        self.sweep(&mut connection)?;
        let (mut last_sweep, mut last_tick) = (Instant::now(), Instant::now());
        while self.serving.strong_count() > 0 {
            let wait = self
                .sweep_every
                .saturating_sub(last_sweep.elapsed())
                .min(TICK_EVERY.saturating_sub(last_tick.elapsed()));
            let mut hinted: Vec<String> = Vec::new();
            let (mut everyone, mut feed_grew) = (false, false);
            let mut notices: Vec<NodeNotice> = Vec::new();
            {
                let mut take = |channel: &str, payload: &str| {
                    if channel == drivers {
                        for (line, notice) in crate::node_notice::decode_payload(payload) {
                            match notice {
                                Some(notice) => notices.push(notice),
                                None => {
                                    tracing::warn!(line, "a notice from another node this one does not know")
                                }
                            }
                        }
                        return;
                    }
                    let hint = crate::commit_hint::decode(payload);
                    feed_grew |= hint.feed_grew;
                    match hint.drivers {
                        HintedDrivers::Everyone => everyone = true,
                        HintedDrivers::Named(named) => hinted.extend(named),
                    }
                };
                let mut notifications = connection.client().notifications();
                let first = notifications.timeout_iter(wait).next()?;
                if let Some(notification) = first {
                    take(notification.channel(), notification.payload());
                    // And whatever else has arrived already, without waiting.
                    let mut pending = notifications.iter();
                    while let Some(notification) = pending.next()? {
                        take(notification.channel(), notification.payload());
                    }
                }
            }
            for notice in notices.into_iter().filter(|notice| notice.node != self.node) {
                self.heard(notice);
            }
            if feed_grew {
                self.publish_shared_changes(&mut connection)?;
            }
            if last_tick.elapsed() >= TICK_EVERY {
                self.tick(&mut connection)?;
                last_tick = Instant::now();
            }
            if everyone || last_sweep.elapsed() >= self.sweep_every {
                self.sweep(&mut connection)?;
                last_sweep = Instant::now();
            } else if !hinted.is_empty() {
                let here: Vec<String> =
                    hinted.into_iter().filter(|driver_id| self.hub.listeners(driver_id) > 0).collect();
                self.push_newest(&mut connection, &here)?;
            }
        }
        Ok(())
    }

    /// Another node's notice about a driver's connection.
    fn heard(&self, NodeNotice { node, news }: NodeNotice) {
        match news {
            DriverNews::SignedIn { driver_id, at_ms, connection } => {
                self.sign_ins.signed_in_elsewhere(
                    &driver_id,
                    at_ms,
                    ConnectionElsewhere { node, connection },
                );
            }
            DriverNews::SignedOut { driver_id, connection } => {
                self.sign_ins.signed_out_elsewhere(&driver_id, &ConnectionElsewhere { node, connection });
            }
            DriverNews::Revoked { driver_id } => {
                self.sign_ins.end(&driver_id, enroute_protocol::ErrorCode::TokenRevoked);
            }
        }
    }

    /// Every second: this node is alive; drivers' newest positions.
    fn tick(&mut self, connection: &mut PgConnection) -> Result<(), StoreError> {
        run(
            connection,
            "INSERT INTO nodes (node, seen_at) VALUES ($1, clock_timestamp())
                 ON CONFLICT (node) DO UPDATE SET seen_at = excluded.seen_at",
            &[&self.node],
        )?;
        let since = crate::socket::unix_time_ms() - POSITION_WINDOW_MS;
        let rows = rows(
            connection,
            "SELECT driver_id, position FROM drivers WHERE position IS NOT NULL AND last_seen_ms >= $1",
            &[&since],
        )?;
        let now_ms = crate::socket::unix_time_ms();
        let mut changes = Vec::new();
        for row in rows {
            let (driver_id, text): (String, String) = (row.get(0), row.get(1));
            let fix: Fix = match serde_json::from_str(&text) {
                Ok(fix) => fix,
                Err(error) => {
                    tracing::error!(driver = %driver_id, %error, "a stored position cannot be read");
                    continue;
                }
            };
            if self.positions.get(&driver_id).is_some_and(|&seen| seen >= fix.time_ms) {
                continue;
            }
            self.positions.insert(driver_id.clone(), fix.time_ms);
            // A driver connected here: this node's writer told its consoles already.
            if !self.sign_ins.is_signed_in(&driver_id) {
                changes.push(FeedChange::Position { driver_id, fix });
            }
        }
        if !changes.is_empty() {
            self.feed.publish(changes, now_ms);
        }
        Ok(())
    }

    /// Every shared change after the last one published here, in order.
    fn publish_shared_changes(&mut self, connection: &mut PgConnection) -> Result<(), StoreError> {
        loop {
            let page = crate::shared_feed::changes_after_in(connection, self.feed_seq, FEED_PAGE)?;
            let Some(first) = page.first() else { return Ok(()) };
            if first.feed_seq != self.feed_seq + 1 {
                tracing::warn!(
                    published = self.feed_seq,
                    oldest_kept = first.feed_seq,
                    "this node fell behind the shared feed; its consoles start again from a snapshot"
                );
                self.feed.restart();
                self.feed.shared_start(first.feed_seq - 1);
            }
            let full = page.len() == FEED_PAGE;
            for shared in page {
                self.feed_seq = shared.feed_seq;
                self.feed.publish_shared(shared.feed_seq, shared.change, shared.at_ms);
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// Everything, hint or not: every connected driver's newest event; the shared feed; who is
    /// connected on which live node; drivers signed in here that signed in later on another
    /// node, or whose token was revoked, end here (their notice was missed).
    fn sweep(&mut self, connection: &mut PgConnection) -> Result<(), StoreError> {
        let here = self.hub.drivers();
        let connected: std::collections::HashSet<&String> = here.iter().collect();
        self.pushed.retain(|driver_id, _| connected.contains(driver_id));
        self.push_newest(connection, &here)?;
        self.publish_shared_changes(connection)?;
        crate::shared_feed::prune_in(connection)?;
        self.repair_own_sign_ins(connection)?;

        let dead_after = format!("{} seconds", NODE_DEAD_AFTER.as_secs());
        let sign_ins = rows(
            connection,
            "SELECT s.driver_id, s.node, s.connection, s.at_ms FROM driver_sign_ins s
                 JOIN nodes n ON n.node = s.node
                 WHERE s.node <> $1 AND n.seen_at > clock_timestamp() - $2::text::interval",
            &[&self.node, &dead_after],
        )?;
        let mut elsewhere = HashMap::new();
        for row in sign_ins {
            let driver_id: String = row.get(0);
            let (node, connection, at_ms): (String, i64, i64) = (row.get(1), row.get(2), row.get(3));
            self.sign_ins.replaced_elsewhere(&driver_id, at_ms);
            elsewhere.insert(driver_id, ConnectionElsewhere { node, connection: connection as u64 });
        }
        self.sign_ins.set_elsewhere(elsewhere);

        let signed_in: Vec<String> = self.sign_ins.signed_in().into_iter().collect();
        if !signed_in.is_empty() {
            // A token revoked through another node whose notice was missed.
            let revoked = rows(
                connection,
                "SELECT driver_id FROM driver_accounts WHERE driver_id = ANY($1) AND revoked_ms IS NOT NULL",
                &[&signed_in],
            )?;
            for row in revoked {
                self.sign_ins.end(row.get::<_, &str>(0), enroute_protocol::ErrorCode::TokenRevoked);
            }
        }
        Ok(())
    }

    /// Makes this node's rows in `driver_sign_ins` say what its connections are: the messenger
    /// writes them as drivers come and go, but a write can fail (the database restarting) and
    /// nothing would correct a live node's rows. Rows of nodes gone for an hour are dropped.
    fn repair_own_sign_ins(&mut self, connection: &mut PgConnection) -> Result<(), StoreError> {
        let here = self.sign_ins.connections_here();
        let rows = rows(
            connection,
            "SELECT driver_id, connection FROM driver_sign_ins WHERE node = $1",
            &[&self.node],
        )?;
        let mut written: HashMap<String, u64> = HashMap::new();
        for row in rows {
            let (driver_id, connection_id): (String, i64) = (row.get(0), row.get(1));
            written.insert(driver_id, connection_id as u64);
        }
        for (driver_id, connection_id) in &written {
            if here.get(driver_id).map(|(id, _)| id) != Some(connection_id) {
                run(
                    connection,
                    "DELETE FROM driver_sign_ins WHERE driver_id = $1 AND node = $2 AND connection = $3",
                    &[driver_id, &self.node, &(*connection_id as i64)],
                )?;
            }
        }
        for (driver_id, (connection_id, at_ms)) in &here {
            if written.get(driver_id) != Some(connection_id) {
                // A later sign-in on another node keeps its row (this connection is ended next).
                run(
                    connection,
                    "INSERT INTO driver_sign_ins (driver_id, node, at_ms, connection) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (driver_id) DO UPDATE SET node = excluded.node,
                             at_ms = excluded.at_ms, connection = excluded.connection
                         WHERE driver_sign_ins.at_ms <= excluded.at_ms",
                    &[driver_id, &self.node, at_ms, &(*connection_id as i64)],
                )?;
            }
        }
        connection
            .client()
            .batch_execute(
                "DELETE FROM driver_sign_ins WHERE node IN
                     (SELECT node FROM nodes WHERE seen_at < clock_timestamp() - interval '1 hour');
                 DELETE FROM nodes WHERE seen_at < clock_timestamp() - interval '1 hour';",
            )
            .map_err(StoreError::from)?;
        Ok(())
    }

    /// Hands each driver's newest stored event to the hub when it is newer than the last handed.
    fn push_newest(
        &mut self,
        connection: &mut PgConnection,
        driver_ids: &[String],
    ) -> Result<(), StoreError> {
        if driver_ids.is_empty() {
            return Ok(());
        }
        let rows = rows(
            connection,
            "SELECT DISTINCT ON (driver_id) driver_id, event_id, body FROM events
                 WHERE driver_id = ANY($1) ORDER BY driver_id, event_id DESC",
            &[&driver_ids],
        )?;
        for row in rows {
            let driver_id: String = row.get(0);
            let event_id = row.get::<_, i64>(1) as u64;
            if self.pushed.get(&driver_id).is_some_and(|&handed| handed >= event_id) {
                continue;
            }
            let body: String = row.get(2);
            match serde_json::from_str::<Event>(&body) {
                Ok(event) => {
                    self.hub.publish(&driver_id, &event);
                    self.pushed.insert(driver_id, event_id);
                }
                Err(error) => {
                    tracing::error!(driver = %driver_id, event_id, %error, "a stored event cannot be read")
                }
            }
        }
        Ok(())
    }
}

/// The rows `sql` reads.
fn rows(
    connection: &mut PgConnection,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> Result<Vec<postgres::Row>, StoreError> {
    connection.client().query(sql, params).map_err(StoreError::from)
}

/// Runs `sql`; how many rows it changed.
fn run(
    connection: &mut PgConnection,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> Result<u64, StoreError> {
    connection.client().execute(sql, params).map_err(StoreError::from)
}

/// Where commits' hints are sent (`commit_hint`), for the schema `schema`.
fn events_channel(schema: &str) -> String {
    format!("enroute_events_{schema}")
}

/// Where nodes' notices are sent (`node_notice`), for the schema `schema`.
fn drivers_channel(schema: &str) -> String {
    format!("enroute_drivers_{schema}")
}
