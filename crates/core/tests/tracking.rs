//! Tracking while on duty: every pause is on record, with its reason, and so is every resume.

use enroute_core::*;
use enroute_protocol::{DriverStatus, PauseReason, RecordKind};

const T0: i64 = 1_700_000_000_000;

fn fix(seconds: i64, east_m: f64) -> Fix {
    Fix {
        time_ms: T0 + seconds * 1000,
        lat: 48.137,
        lon: 11.575 + east_m / 74_000.0,
        accuracy_m: 5.0,
        speed_mps: None,
        heading_deg: None,
        altitude_m: None,
    }
}

fn statuses(records: &[RecordKind]) -> Vec<(DriverStatus, Option<PauseReason>)> {
    records
        .iter()
        .filter_map(|record| match record {
            RecordKind::Status { status, reason } => Some((*status, *reason)),
            _ => None,
        })
        .collect()
}

fn locations(records: &[RecordKind]) -> usize {
    records.iter().filter(|record| matches!(record, RecordKind::Location { .. })).count()
}

#[test]
fn going_on_duty_records_it_and_starts_watching() {
    let mut tracker = Tracker::new(ThrottlePolicy::default(), false);
    assert!(!tracker.wants_position());
    assert_eq!(tracker.view().state, TrackingState::OffDuty);
    let records = tracker.handle_duty(true);
    assert_eq!(statuses(&records), vec![(DriverStatus::OnDuty, None)]);
    assert!(tracker.wants_position() && tracker.wants_screen_awake());
    assert_eq!(tracker.view().state, TrackingState::WaitingForPosition);
    assert_eq!(locations(&tracker.handle_fix(fix(0, 0.0))), 1, "the first fix is sent");
    assert_eq!(tracker.view().state, TrackingState::Tracking);
    assert_eq!(tracker.view().permission, LocationPermission::Granted);
}

#[test]
fn fixes_off_duty_are_ignored() {
    let mut tracker = Tracker::new(ThrottlePolicy::default(), false);
    assert!(tracker.handle_fix(fix(0, 0.0)).is_empty());
    assert_eq!(tracker.view().seen, 0);
}

#[test]
fn going_off_duty_ends_the_track_where_the_vehicle_is() {
    let mut tracker = Tracker::new(ThrottlePolicy::default(), true);
    tracker.handle_fix(fix(0, 0.0));
    tracker.handle_fix(fix(1, 5.0)); // held
    let records = tracker.handle_duty(false);
    assert_eq!(locations(&records), 1, "the held fix is sent");
    assert!(matches!(records.last(), Some(RecordKind::Status { status: DriverStatus::OffDuty, .. })));
    assert!(!tracker.wants_position());
}

#[test]
fn hiding_the_page_pauses_with_the_reason_and_showing_it_resumes() {
    let mut tracker = Tracker::new(ThrottlePolicy::default(), true);
    tracker.handle_fix(fix(0, 0.0));
    tracker.handle_fix(fix(1, 5.0));
    let records = tracker.handle_visibility(false);
    assert_eq!(locations(&records), 1, "the track ends first");
    assert_eq!(statuses(&records), vec![(DriverStatus::TrackingPaused, Some(PauseReason::PageHidden))]);
    assert!(!tracker.wants_position() && !tracker.wants_screen_awake());
    assert_eq!(tracker.view().state, TrackingState::Paused(PauseReason::PageHidden));
    assert!(tracker.handle_visibility(false).is_empty(), "no repeat");
    assert_eq!(statuses(&tracker.handle_visibility(true)), vec![(DriverStatus::TrackingResumed, None)]);
    assert!(tracker.wants_position());
}

#[test]
fn hiding_the_page_off_duty_records_nothing() {
    let mut tracker = Tracker::new(ThrottlePolicy::default(), false);
    assert!(tracker.handle_visibility(false).is_empty());
    assert!(tracker.handle_visibility(true).is_empty());
}

#[test]
fn going_on_duty_while_hidden_is_paused_from_the_start() {
    let mut tracker = Tracker::new(ThrottlePolicy::default(), false);
    tracker.handle_visibility(false);
    let records = tracker.handle_duty(true);
    assert_eq!(
        statuses(&records),
        vec![(DriverStatus::OnDuty, None), (DriverStatus::TrackingPaused, Some(PauseReason::PageHidden))]
    );
}

#[test]
fn a_denied_permission_pauses_and_a_position_after_allowing_resumes() {
    let mut tracker = Tracker::new(ThrottlePolicy::default(), true);
    let records = tracker.handle_error(GeolocationError::PermissionDenied, T0);
    assert_eq!(statuses(&records), vec![(DriverStatus::TrackingPaused, Some(PauseReason::PermissionDenied))]);
    assert!(!tracker.wants_position(), "asking again is pointless until the driver allows it");
    assert_eq!(tracker.view().guidance().0, "Location blocked");
    assert!(tracker.view().guidance().1.contains("allow Location"));
    assert!(tracker.handle_permission(LocationPermission::Granted).is_empty());
    assert!(tracker.wants_position());
    let records = tracker.handle_fix(fix(10, 0.0));
    assert_eq!(statuses(&records), vec![(DriverStatus::TrackingResumed, None)]);
    assert_eq!(locations(&records), 1);
}

#[test]
fn going_on_duty_with_the_permission_denied_is_on_record() {
    let mut tracker = Tracker::new(ThrottlePolicy::default(), false);
    tracker.handle_permission(LocationPermission::Denied);
    let records = tracker.handle_duty(true);
    assert_eq!(
        statuses(&records),
        vec![
            (DriverStatus::OnDuty, None),
            (DriverStatus::TrackingPaused, Some(PauseReason::PermissionDenied))
        ]
    );
}

#[test]
fn a_timeout_pauses_at_once_and_the_next_fix_resumes() {
    let mut tracker = Tracker::new(ThrottlePolicy::default(), true);
    tracker.handle_fix(fix(0, 0.0));
    let records = tracker.handle_error(GeolocationError::Timeout, T0 + 30_000);
    assert_eq!(statuses(&records), vec![(DriverStatus::TrackingPaused, Some(PauseReason::Timeout))]);
    assert!(
        tracker.handle_error(GeolocationError::Timeout, T0 + 60_000).is_empty(),
        "a pause is recorded once"
    );
    assert!(tracker.wants_position(), "keep watching: it may come back");
    assert_eq!(tracker.view().guidance().0, "Position late");
    assert_eq!(statuses(&tracker.handle_fix(fix(70, 0.0))), vec![(DriverStatus::TrackingResumed, None)]);
}

#[test]
fn regression_a_momentary_position_unavailable_between_two_fixes_records_nothing() {
    // Chromium (and phones switching location sources) report one between good positions.
    let mut tracker = Tracker::new(ThrottlePolicy::default(), true);
    tracker.handle_fix(fix(0, 0.0));
    assert!(tracker.handle_error(GeolocationError::PositionUnavailable, T0 + 500).is_empty());
    assert!(tracker.handle_fix(fix(1, 5.0)).is_empty(), "held as usual, no pause or resume");
    assert!(tracker.handle_timeout(T0 + 60_000).is_empty());
}

#[test]
fn position_unavailable_for_fifteen_seconds_is_a_pause() {
    let mut tracker = Tracker::new(ThrottlePolicy::default(), true);
    tracker.handle_fix(fix(0, 0.0));
    tracker.handle_error(GeolocationError::PositionUnavailable, T0 + 1_000);
    assert_eq!(tracker.timeout_ms(), Some(T0 + 16_000));
    assert!(tracker.handle_timeout(T0 + 15_999).is_empty());
    let records = tracker.handle_timeout(T0 + 16_000);
    assert_eq!(
        statuses(&records),
        vec![(DriverStatus::TrackingPaused, Some(PauseReason::PositionUnavailable))]
    );
    assert_eq!(tracker.view().guidance().0, "No position");
    assert_eq!(statuses(&tracker.handle_fix(fix(30, 0.0))), vec![(DriverStatus::TrackingResumed, None)]);
}

#[test]
fn a_heartbeat_goes_out_when_the_phone_stands_still_and_sends_nothing() {
    let mut tracker = Tracker::new(ThrottlePolicy::default(), true);
    tracker.handle_fix(fix(0, 0.0));
    let due = tracker.timeout_ms().unwrap();
    assert_eq!(due, T0 + 120_000);
    assert!(tracker.handle_timeout(due - 1).is_empty());
    assert_eq!(locations(&tracker.handle_timeout(due)), 1);
    tracker.handle_visibility(false);
    assert_eq!(tracker.timeout_ms(), None, "no heartbeat while paused");
}

#[test]
fn the_view_rounds_the_position_and_counts_fixes() {
    let mut tracker = Tracker::new(ThrottlePolicy::default(), true);
    tracker.handle_fix(Fix { speed_mps: Some(13.9), ..fix(0, 0.0) });
    tracker.handle_fix(Fix { lat: f64::NAN, ..fix(1, 0.0) });
    let view = tracker.view();
    assert_eq!((view.seen, view.sent, view.dropped), (2, 1, 1));
    let position = view.position.unwrap();
    assert_eq!(position.speed_kmh, Some(50.0));
    assert_eq!(position.lat, 48.137);
}

#[test]
fn the_sketch_fits_the_recent_track_into_the_square() {
    let mut tracker = Tracker::new(ThrottlePolicy::default(), true);
    for second in 0..60 {
        tracker.handle_fix(fix(second, second as f64 * 12.0));
    }
    let (raw, sent) = tracking::sketch(&tracker.view(), 200.0);
    assert_eq!(raw.len(), 60);
    assert!(!sent.is_empty());
    for (x, y) in raw.iter().chain(sent.iter()) {
        assert!((0.0..=200.0).contains(x) && (0.0..=200.0).contains(y), "({x}, {y})");
    }
    assert!(raw.first().unwrap().0 < raw.last().unwrap().0, "east is to the right");
}

/// Regression (issue: a stale position sent as new after every resume): after the page was
/// hidden and shown again, the heartbeat sent the last position restamped to now, with speed 0,
/// and made it the reference, so real fixes 5 km away were dropped as impossible jumps.
#[test]
fn regression_a_resume_after_a_pause_does_not_resend_the_old_position_as_new() {
    let mut tracker = Tracker::new(ThrottlePolicy::default(), true);
    assert_eq!(locations(&tracker.handle_fix(fix(0, 0.0))), 1);
    tracker.handle_visibility(false);
    tracker.handle_visibility(true);
    assert_eq!(tracker.timeout_ms(), None, "no heartbeat is due for a position from before the pause");
    assert!(tracker.handle_timeout(T0 + 600_000).is_empty(), "nothing is sent for the old position");
    // The vehicle is 5 km further on now: every real fix counts.
    let mut sent = Vec::new();
    for second in 0..5 {
        let records = tracker.handle_fix(fix(600 + second, 5_000.0 + second as f64 * 15.0));
        sent.extend(records.into_iter().filter_map(|record| match record {
            RecordKind::Location { fix } => Some(fix),
            _ => None,
        }));
    }
    assert_eq!(tracker.view().dropped, 0, "the first fix after a pause is never doubted against the old one");
    assert!(!sent.is_empty());
    assert!(
        sent.iter().all(|fix| fix.time_ms >= T0 + 600_000),
        "only fixes measured after the pause: {sent:?}"
    );
}

#[test]
fn after_any_pause_the_first_fix_starts_a_new_segment() {
    for pause in [
        |tracker: &mut Tracker| tracker.handle_error(GeolocationError::Timeout, T0 + 10_000),
        |tracker: &mut Tracker| tracker.handle_permission(LocationPermission::Denied),
        |tracker: &mut Tracker| tracker.handle_visibility(false),
    ] {
        let mut tracker = Tracker::new(ThrottlePolicy::default(), true);
        tracker.handle_fix(fix(0, 0.0));
        tracker.handle_fix(fix(1, 10.0));
        assert_eq!(statuses(&pause(&mut tracker)).len(), 1, "paused");
        tracker.handle_permission(LocationPermission::Granted);
        tracker.handle_visibility(true);
        // Far away and soon after: a jump if it were compared with the fix before the pause.
        let records = tracker.handle_fix(fix(20, 3_000.0));
        assert_eq!(locations(&records), 1, "sent as the start of a new segment");
        assert_eq!(tracker.view().dropped, 0);
    }
}

#[test]
fn duty_ended_and_started_again_sends_no_old_position() {
    let mut tracker = Tracker::new(ThrottlePolicy::default(), true);
    tracker.handle_fix(fix(0, 0.0));
    tracker.handle_duty(false);
    tracker.handle_duty(true);
    assert_eq!(tracker.timeout_ms(), None);
    assert!(tracker.handle_timeout(T0 + 3_600_000).is_empty(), "no heartbeat from yesterday's position");
}
