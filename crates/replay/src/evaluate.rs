//! Runs a policy over a trace and measures what the dispatcher would see: how many messages,
//! and how far the track rebuilt from them strays from the real one.
//!
//! The rebuilt track joins consecutive sent fixes with straight lines at constant speed. Its
//! error at a fix is the distance between the fix and the rebuilt position at the fix's time
//! ("time-synchronous"). Errors are measured at every fix the sanity checks accept: dropped
//! fixes (glitches) are not where the vehicle was.

use enroute_core::geo::{LocalFrame, distance_m};
use enroute_core::{Decision, DropReason, Fix, Throttle, ThrottlePolicy};

/// What one replay gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Fixes in the trace.
    pub raw: usize,
    /// Fixes that passed the sanity checks.
    pub sane: usize,
    /// Fixes sent (messages), including the final flush.
    pub sent: usize,
    /// Dropped fixes per reason (only reasons that occurred).
    pub dropped: Vec<(DropReason, u64)>,
    /// From the first to the last fix.
    pub duration_s: f64,
    pub messages_per_hour: f64,
    pub max_error_m: f64,
    pub p95_error_m: f64,
    /// How far the server's live position (dead-reckoned from what it had received once the
    /// fix was handled) was from the vehicle, at each sane fix.
    pub max_live_error_m: f64,
    pub p95_live_error_m: f64,
}

/// A replay: the summary, the sent fixes, and the decision for every fix.
#[derive(Debug, Clone)]
pub struct Replay {
    pub summary: Summary,
    pub sent: Vec<Fix>,
    pub decisions: Vec<Decision>,
}

/// Runs `policy` over `fixes` (in file order) and ends with a flush, as going off duty does.
pub fn replay(fixes: &[Fix], policy: ThrottlePolicy) -> Replay {
    let mut throttle = Throttle::new(policy);
    let mut sent = Vec::new();
    let mut decisions = Vec::with_capacity(fixes.len());
    let mut sane = Vec::new();
    let mut live_errors = Vec::new();
    for fix in fixes {
        let step = throttle.handle_fix(*fix);
        if !matches!(step.decision, Decision::Drop(_)) {
            sane.push(*fix);
            // What the dispatcher's live map shows once this fix has been handled.
            if let Some((lat, lon)) = throttle.predicted_position(fix.time_ms) {
                live_errors.push(distance_m(lat, lon, fix.lat, fix.lon));
            }
        }
        decisions.push(step.decision);
        sent.extend(step.send);
    }
    sent.extend(throttle.flush());
    let mut errors = rebuild_errors(&sane, &sent);
    errors.sort_by(f64::total_cmp);
    live_errors.sort_by(f64::total_cmp);
    let stats = throttle.stats();
    let duration_s = match (fixes.first(), fixes.last()) {
        (Some(first), Some(last)) => (last.time_ms - first.time_ms) as f64 / 1000.0,
        _ => 0.0,
    };
    let summary = Summary {
        raw: fixes.len(),
        sane: sane.len(),
        sent: sent.len(),
        dropped: DropReason::ALL
            .iter()
            .map(|reason| (*reason, stats.dropped_for(*reason)))
            .filter(|(_, count)| *count > 0)
            .collect(),
        duration_s,
        messages_per_hour: if duration_s > 0.0 { sent.len() as f64 * 3600.0 / duration_s } else { 0.0 },
        max_error_m: errors.last().copied().unwrap_or(0.0),
        p95_error_m: percentile(&errors, 0.95),
        max_live_error_m: live_errors.last().copied().unwrap_or(0.0),
        p95_live_error_m: percentile(&live_errors, 0.95),
    };
    Replay { summary, sent, decisions }
}

/// The time-synchronous error at every fix in `track` between the first and last sent fix.
pub fn rebuild_errors(track: &[Fix], sent: &[Fix]) -> Vec<f64> {
    let (Some(first), Some(last)) = (sent.first(), sent.last()) else { return Vec::new() };
    track
        .iter()
        .filter(|fix| fix.time_ms >= first.time_ms && fix.time_ms <= last.time_ms)
        .map(|fix| {
            let after = sent.partition_point(|candidate| candidate.time_ms < fix.time_ms);
            let end = sent[after.min(sent.len() - 1)];
            let start = if after == 0 { end } else { sent[after - 1] };
            let (lat, lon) = interpolate(&start, &end, fix.time_ms);
            distance_m(lat, lon, fix.lat, fix.lon)
        })
        .collect()
}

/// The position on the straight line from `start` to `end` at `time_ms`.
pub fn interpolate(start: &Fix, end: &Fix, time_ms: i64) -> (f64, f64) {
    if end.time_ms <= start.time_ms {
        return (end.lat, end.lon);
    }
    let fraction = ((time_ms - start.time_ms) as f64 / (end.time_ms - start.time_ms) as f64).clamp(0.0, 1.0);
    let frame = LocalFrame::around(start.lat, start.lon);
    let (east, north) = frame.to_local(end.lat, end.lon);
    frame.to_degrees(east * fraction, north * fraction)
}

/// The value below which `fraction` of the sorted `values` lie (nearest rank).
pub fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((fraction * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The Traccar-style settings searched: rate cap, distance and heading triggers.
pub const TRACCAR_MIN_INTERVALS_S: [f64; 9] = [1.0, 2.0, 3.0, 5.0, 10.0, 15.0, 20.0, 30.0, 60.0];
pub const TRACCAR_DISTANCES_M: [f64; 13] =
    [0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 75.0, 100.0, 150.0, 200.0];
pub const TRACCAR_HEADINGS_DEG: [f64; 9] = [0.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0];

/// The Traccar-style policy (same heartbeat and sanity limits as `baseline`) that sends the
/// fewest messages while keeping the maximum error within `max_error_m` (and the live error
/// within `max_live_error_m`, when given), if any does.
pub fn best_traccar(
    fixes: &[Fix],
    baseline: ThrottlePolicy,
    max_error_m: f64,
    max_live_error_m: Option<f64>,
) -> Option<(ThrottlePolicy, Replay)> {
    let mut best: Option<(ThrottlePolicy, Replay)> = None;
    for min_interval_s in TRACCAR_MIN_INTERVALS_S {
        for min_distance_m in TRACCAR_DISTANCES_M {
            for min_heading_change_deg in TRACCAR_HEADINGS_DEG {
                let policy = ThrottlePolicy {
                    min_interval_s,
                    mode: enroute_core::ThrottleMode::Traccar { min_distance_m, min_heading_change_deg },
                    ..baseline
                };
                let result = replay(fixes, policy);
                if result.summary.max_error_m > max_error_m
                    || max_live_error_m.is_some_and(|limit| result.summary.max_live_error_m > limit)
                {
                    continue;
                }
                let better = best.as_ref().is_none_or(|(_, current)| {
                    (result.summary.sent, result.summary.max_error_m)
                        < (current.summary.sent, current.summary.max_error_m)
                });
                if better {
                    best = Some((policy, result));
                }
            }
        }
    }
    best
}

/// Describes a policy in a few words for tables.
pub fn describe(policy: &ThrottlePolicy) -> String {
    match policy.mode {
        enroute_core::ThrottleMode::ErrorBounded { max_error_m, live_error_m } => match live_error_m {
            Some(live) => format!(
                "error-bounded E = {max_error_m} m, live ≤ {live} m, heartbeat {} s",
                policy.max_interval_s
            ),
            None => format!("error-bounded E = {max_error_m} m, heartbeat {} s", policy.max_interval_s),
        },
        enroute_core::ThrottleMode::Traccar { min_distance_m, min_heading_change_deg } => format!(
            "Traccar-style: every ≥ {} s, distance {min_distance_m} m, heading {min_heading_change_deg}°, heartbeat {} s",
            policy.min_interval_s, policy.max_interval_s
        ),
    }
}

/// The live bound of an error-bounded policy, if it has one.
pub fn live_bound_of(policy: &ThrottlePolicy) -> Option<f64> {
    match policy.mode {
        enroute_core::ThrottleMode::ErrorBounded { live_error_m, .. } => live_error_m,
        enroute_core::ThrottleMode::Traccar { .. } => None,
    }
}
