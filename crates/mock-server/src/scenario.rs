//! Scripted jobs offered on a timer (`--scenario FILE`), for demos and tests.
//!
//! ```json
//! { "jobs": [
//!   { "after_s": 5, "driver_id": "demo-driver",
//!     "pickup":  { "address": "Marienplatz 1", "lat": 48.1374, "lon": 11.5755 },
//!     "dropoff": { "address": "Leopoldstraße 50", "lat": 48.16, "lon": 11.5863 },
//!     "window_minutes": 60, "accept_within_s": 120, "notes": "Ring twice" } ] }
//! ```

use crate::assignment_store::NewAssignment;
use crate::router::AppState;
use crate::socket::unix_time_ms;
use enroute_protocol::{Stop, TimeWindow};
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
pub struct Scenario {
    pub jobs: Vec<ScriptedJob>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ScriptedJob {
    /// Seconds after the server starts.
    pub after_s: f64,
    #[serde(default)]
    pub id: Option<String>,
    pub driver_id: String,
    pub pickup: Stop,
    pub dropoff: Stop,
    #[serde(default = "default_window_minutes")]
    pub window_minutes: f64,
    #[serde(default)]
    pub accept_within_s: Option<f64>,
    #[serde(default)]
    pub notes: String,
}

fn default_window_minutes() -> f64 {
    60.0
}

impl Scenario {
    /// What names this scenario among the nodes: a hash of its jobs, so nodes given the same
    /// file agree, and a changed file is another scenario.
    pub fn key(&self) -> String {
        use sha2::{Digest, Sha256};
        let described: Vec<String> = self
            .jobs
            .iter()
            .map(|job| {
                format!(
                    "{}|{:?}|{}|{}|{}|{}|{}|{}|{}|{:?}|{}",
                    job.after_s,
                    job.id,
                    job.driver_id,
                    job.pickup.lat,
                    job.pickup.lon,
                    job.dropoff.lat,
                    job.dropoff.lon,
                    job.pickup.address,
                    job.window_minutes,
                    job.accept_within_s,
                    job.notes
                )
            })
            .collect();
        Sha256::digest(described.join("\n").as_bytes())
            .iter()
            .take(8)
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// Reads a scenario file; the error names the file and the problem.
    pub fn load(path: &Path) -> Result<Scenario, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read scenario {}: {error}", path.display()))?;
        let scenario: Scenario = serde_json::from_str(&text)
            .map_err(|error| format!("bad scenario {}: {error}", path.display()))?;
        if let Some(job) = scenario.jobs.iter().find(|job| !(job.after_s.is_finite() && job.after_s >= 0.0)) {
            return Err(format!(
                "bad scenario {}: after_s must be zero or more, got {}",
                path.display(),
                job.after_s
            ));
        }
        Ok(scenario)
    }
}

/// How often a node that does not play a scenario looks whether its player is gone.
const CLAIM_AGAIN_EVERY: Duration = Duration::from_secs(5);

/// Offers each job when its time comes. With several nodes on one database each job is offered
/// once: the node that claims the scenario plays it (`Store::claim_scenario`); the others look
/// again every few seconds, and one of them goes on from where the run was if that node dies.
pub async fn play(scenario: Scenario, state: AppState) {
    let mut jobs = scenario.jobs.clone();
    jobs.sort_by(|a, b| a.after_s.total_cmp(&b.after_s));
    let length_ms = jobs.last().map_or(0.0, |job| job.after_s * 1000.0) as i64 + 1;
    let key = scenario.key();
    let started_ms = loop {
        let (store, key) = (state.store.clone(), key.clone());
        let claimed =
            tokio::task::spawn_blocking(move || store.claim_scenario(&key, length_ms, unix_time_ms())).await;
        match claimed {
            Ok(Ok(Some(started_ms))) => break started_ms,
            Ok(Ok(None)) => {}
            Ok(Err(error)) => tracing::warn!(%error, "cannot claim the scenario; trying again"),
            Err(_) => tracing::error!("claiming the scenario panicked; trying again"),
        }
        tokio::time::sleep(CLAIM_AGAIN_EVERY).await;
    };
    let now = tokio::time::Instant::now();
    let started =
        now.checked_sub(Duration::from_millis((unix_time_ms() - started_ms).max(0) as u64)).unwrap_or(now);
    // Jobs whose time passed before this node began playing were offered by the node before it.
    let resumed = started_ms < unix_time_ms() - CLAIM_AGAIN_EVERY.as_millis() as i64;
    for job in jobs {
        let due = started + Duration::from_secs_f64(job.after_s);
        if resumed && due < tokio::time::Instant::now() {
            continue;
        }
        tokio::time::sleep_until(due).await;
        let now = unix_time_ms();
        let new = NewAssignment {
            id: job.id,
            driver_id: job.driver_id.clone(),
            pickup: job.pickup,
            dropoff: job.dropoff,
            window: TimeWindow { from_ms: now, to_ms: now + (job.window_minutes * 60_000.0) as i64 },
            notes: job.notes,
            accept_by_ms: job.accept_within_s.map(|seconds| now + (seconds * 1000.0) as i64),
        };
        let store = state.store.clone();
        match tokio::task::spawn_blocking(move || store.create_assignment(new, now)).await {
            Ok(Ok(Ok((assignment, event)))) => {
                tracing::info!(driver = %job.driver_id, assignment = %assignment.id, "scenario job offered");
                state.hub.publish(&job.driver_id, &event);
            }
            Ok(Ok(Err(error))) => tracing::warn!(%error, "scenario job refused"),
            Ok(Err(error)) => tracing::error!(%error, "scenario job failed"),
            Err(_) => tracing::error!("scenario job panicked"),
        }
    }
}
