//! The driver's jobs as the screens show them: grouped, ordered, with the next actions.

use crate::assignments::{AssignmentBook, HistoryItem, JobGroup, job_group};
use crate::geo::distance_m;
use crate::workflow::driver_actions;
use enroute_protocol::{AssignmentStatus, DriverAction, Stop, TimeWindow};
use serde::{Deserialize, Serialize};

/// One job on the screens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    pub id: String,
    pub status: AssignmentStatus,
    pub group: JobGroup,
    pub pickup: Stop,
    pub dropoff: Stop,
    pub window: TimeWindow,
    pub notes: String,
    pub accept_by_ms: Option<i64>,
    pub notice: Option<String>,
    pub failure_reason: Option<String>,
    /// What the driver can do next, in screen order.
    pub actions: Vec<DriverAction>,
    pub history: Vec<HistoryItem>,
    pub received_at_ms: i64,
}

/// Every job to list: active first, then offers, then those finished today; newest first
/// within each group.
pub fn job_views(book: &AssignmentBook, start_of_today_ms: i64) -> Vec<JobView> {
    let mut views: Vec<JobView> = book
        .entries()
        .filter_map(|entry| {
            let group = job_group(entry, start_of_today_ms)?;
            Some(JobView {
                id: entry.assignment.id.clone(),
                status: entry.status,
                group,
                pickup: entry.assignment.pickup.clone(),
                dropoff: entry.assignment.dropoff.clone(),
                window: entry.assignment.window,
                notes: entry.assignment.notes.clone(),
                accept_by_ms: entry.assignment.accept_by_ms,
                notice: entry.notice.clone(),
                failure_reason: entry.assignment.failure_reason.clone(),
                actions: driver_actions(entry.status),
                history: entry.history.clone(),
                received_at_ms: entry.received_at_ms,
            })
        })
        .collect();
    views.sort_by(|a, b| {
        a.group.cmp(&b.group).then(b.received_at_ms.cmp(&a.received_at_ms)).then(a.id.cmp(&b.id))
    });
    views
}

/// How far the driver is from the drop-off when tapping "delivered": a warning above this.
pub const DELIVERY_DISTANCE_WARNING_M: f64 = 100.0;

/// The distance to warn about when the driver marks `job` delivered at `position`, if it is
/// over [`DELIVERY_DISTANCE_WARNING_M`]. `None` when close enough or the position is unknown.
pub fn delivery_distance_warning(job: &JobView, position: Option<(f64, f64)>) -> Option<f64> {
    let (lat, lon) = position?;
    let distance = distance_m(lat, lon, job.dropoff.lat, job.dropoff.lon);
    (distance > DELIVERY_DISTANCE_WARNING_M).then_some(distance)
}

/// "Accept within 2:05", or `None` when the offer has no deadline; "0:00" once past.
pub fn accept_countdown(job: &JobView, now_ms: i64) -> Option<String> {
    let deadline = job.accept_by_ms?;
    let seconds = ((deadline - now_ms).max(0) + 999) / 1000;
    Some(format!("{}:{:02}", seconds / 60, seconds % 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(dropoff_lat: f64, accept_by_ms: Option<i64>) -> JobView {
        JobView {
            id: "j".into(),
            status: AssignmentStatus::ArrivedAtDropoff,
            group: JobGroup::Active,
            pickup: Stop { address: "A".into(), lat: 48.0, lon: 11.0 },
            dropoff: Stop { address: "B".into(), lat: dropoff_lat, lon: 11.0 },
            window: TimeWindow { from_ms: 0, to_ms: 1 },
            notes: String::new(),
            accept_by_ms,
            notice: None,
            failure_reason: None,
            actions: vec![],
            history: vec![],
            received_at_ms: 0,
        }
    }

    #[test]
    fn delivering_far_from_the_drop_off_warns_with_the_distance() {
        let job = view(48.0, None);
        assert_eq!(delivery_distance_warning(&job, Some((48.0005, 11.0))), None, "55 m away");
        let distance = delivery_distance_warning(&job, Some((48.002, 11.0))).unwrap();
        assert!((distance - 222.0).abs() < 2.0, "{distance}");
        assert_eq!(delivery_distance_warning(&job, None), None);
    }

    #[test]
    fn the_countdown_rounds_up_and_stops_at_zero() {
        let job = view(48.0, Some(125_000));
        assert_eq!(accept_countdown(&job, 0).as_deref(), Some("2:05"));
        assert_eq!(accept_countdown(&job, 124_001).as_deref(), Some("0:01"));
        assert_eq!(accept_countdown(&job, 200_000).as_deref(), Some("0:00"));
        assert_eq!(accept_countdown(&view(48.0, None), 0), None);
    }
}
