//! Moves the SQLite write-ahead log into the database file from a thread and connection of its
//! own. SQLite's automatic checkpoint runs inside whichever commit crosses the threshold: with
//! one writer, that is a group commit, and every acknowledgement waiting on it waits for the
//! copy and its fsync too (tens to hundreds of milliseconds under load). A passive checkpoint
//! from another connection copies what no reader needs while the writer goes on.
//!
//! It must not touch the store's data or lock: only `PRAGMA wal_checkpoint` on its own
//! connection.

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often the log is copied into the database.
const EVERY: Duration = Duration::from_secs(5);

/// Runs until dropped.
pub struct Checkpointer {
    stop: Arc<AtomicBool>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path`; `None` for an in-memory database (no log).
    pub fn start(path: &Path) -> std::io::Result<Option<Checkpointer>> {
        if path == Path::new(":memory:") {
            return Ok(None);
        }
        let path: PathBuf = path.to_path_buf();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        std::thread::Builder::new().name("enroute-checkpoint".into()).spawn(move || {
            let connection = match Connection::open(&path) {
                Ok(connection) => connection,
                Err(error) => {
                    tracing::error!(%error, "cannot open the database for checkpoints; SQLite's automatic ones are off");
                    return;
                }
            };
            while !stopping.load(Ordering::Relaxed) {
                std::thread::sleep(EVERY);
                // PASSIVE: never waits for (or blocks) the writer or a reader.
                if let Err(error) = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(%error, "a checkpoint failed; the next one tries again");
                }
            }
            // A last full one, so a clean stop leaves little log behind.
            let _ = connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        })?;
        Ok(Some(Checkpointer { stop }))
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
