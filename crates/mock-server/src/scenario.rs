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

/// Offers each job when its time comes.
pub async fn play(scenario: Scenario, state: AppState) {
    let started = tokio::time::Instant::now();
    let mut jobs = scenario.jobs;
    jobs.sort_by(|a, b| a.after_s.total_cmp(&b.after_s));
    for job in jobs {
        tokio::time::sleep_until(started + Duration::from_secs_f64(job.after_s)).await;
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
