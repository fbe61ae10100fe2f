//! The error computation on hand-made tracks whose answers are known.

#![cfg(not(target_arch = "wasm32"))]

use enroute_core::Fix;
use enroute_core::geo::LocalFrame;
use enroute_replay::evaluate::{percentile, rebuild_errors};

fn fix_at(seconds: i64, east: f64, north: f64) -> Fix {
    let (lat, lon) = LocalFrame::around(48.0, 11.0).to_degrees(east, north);
    Fix {
        time_ms: seconds * 1000,
        lat,
        lon,
        accuracy_m: 5.0,
        speed_mps: None,
        heading_deg: None,
        altitude_m: None,
    }
}

#[test]
fn a_point_off_the_line_has_its_perpendicular_distance_as_error() {
    let track = [fix_at(0, 0.0, 0.0), fix_at(5, 50.0, 30.0), fix_at(10, 100.0, 0.0)];
    let sent = [track[0], track[2]];
    let errors = rebuild_errors(&track, &sent);
    assert_eq!(errors.len(), 3);
    assert!(errors[0] < 1e-6 && errors[2] < 1e-6);
    assert!((errors[1] - 30.0).abs() < 0.01, "{}", errors[1]);
}

#[test]
fn the_error_is_time_synchronous_not_the_distance_to_the_line() {
    // Exactly on the line, but where the line puts the vehicle 3 s later: 30 m behind.
    let track = [fix_at(0, 0.0, 0.0), fix_at(5, 20.0, 0.0), fix_at(10, 100.0, 0.0)];
    let errors = rebuild_errors(&track, &[track[0], track[2]]);
    assert!((errors[1] - 30.0).abs() < 0.01, "{}", errors[1]);
}

#[test]
fn a_stop_between_sent_fixes_is_measured_at_each_second() {
    let mut track: Vec<Fix> = (0..=10).map(|second| fix_at(second, 0.0, 0.0)).collect();
    track.push(fix_at(20, 100.0, 0.0));
    let errors = rebuild_errors(&track, &[track[0], track[11]]);
    // At second s the line is at 5·s metres; the vehicle is at 0.
    assert!((errors[10] - 50.0).abs() < 0.01);
    let mut sorted = errors.clone();
    sorted.sort_by(f64::total_cmp);
    assert!((percentile(&sorted, 1.0) - 50.0).abs() < 0.01);
    // Sorted: 0, 0, 5, 10, … 50 (12 values): the 6th is the median by nearest rank.
    assert!((percentile(&sorted, 0.5) - 20.0).abs() < 0.01);
}

#[test]
fn percentile_uses_nearest_rank() {
    let values: Vec<f64> = (1..=20).map(f64::from).collect();
    assert_eq!(percentile(&values, 0.95), 19.0);
    assert_eq!(percentile(&values, 0.5), 10.0);
    assert_eq!(percentile(&[], 0.5), 0.0);
}
