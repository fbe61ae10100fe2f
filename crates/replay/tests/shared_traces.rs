//! The real recorded traces in ../shared/traces: the readers read them, the glitches in them
//! are dropped, and the error bound holds on them for every bound.

#![cfg(not(target_arch = "wasm32"))]

use enroute_core::{Decision, DropReason, Fix, ThrottlePolicy};
use enroute_replay::evaluate::replay;
use enroute_replay::read_trace;
use std::path::PathBuf;

fn traces_directory() -> PathBuf {
    std::env::var_os("ENROUTE_TRACES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traces"))
}

fn load(name: &str) -> Vec<Fix> {
    let path = traces_directory().join(name);
    assert!(
        path.exists(),
        "missing shared trace {} (set ENROUTE_TRACES_DIR to the traces directory)",
        path.display()
    );
    let trace = read_trace(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    assert_eq!(trace.skipped.total(), 0, "{}: {}", path.display(), trace.skipped);
    trace.fixes.iter().map(|fix| fix.to_fix()).collect()
}

#[test]
fn the_munich_gpx_reads_whole() {
    let fixes = load("barefoot-munich-car.gpx");
    assert_eq!(fixes.len(), 1194, "the README's count");
    let minutes = (fixes.last().unwrap().time_ms - fixes[0].time_ms) as f64 / 60_000.0;
    assert!((minutes - 19.9).abs() < 0.1, "{minutes}");
}

#[test]
fn the_regensburg_nmea_reads_with_garmin_accuracy() {
    let fixes = load("geko-regensburg-car.nmea");
    assert_eq!(fixes.len(), 774, "the README's count");
    assert!(fixes.iter().all(|fix| fix.accuracy_m > 0.0 && fix.accuracy_m < 100.0));
    assert!(
        fixes.iter().any(|fix| fix.accuracy_m != fixes[0].accuracy_m),
        "accuracy varies: it is read, not assumed"
    );
    assert!(fixes.windows(2).any(|pair| pair[1].time_ms - pair[0].time_ms == 18_000), "the 18 s gap");
}

#[test]
fn regression_the_470_metres_per_second_glitch_in_the_munich_trace_is_dropped() {
    let fixes = load("barefoot-munich-car.gpx");
    let result = replay(&fixes, ThrottlePolicy::default());
    let jumps: Vec<usize> = result
        .decisions
        .iter()
        .enumerate()
        .filter(|(_, decision)| **decision == Decision::Drop(DropReason::ImpossibleJump))
        .map(|(index, _)| index)
        .collect();
    assert_eq!(jumps, vec![619, 620], "the step at fix 619 is doubted, then believed at the third fix");
    assert!(result.summary.max_error_m <= 20.0, "{}", result.summary.max_error_m);
}

#[test]
fn the_error_bound_holds_on_every_shared_trace_for_every_bound() {
    for name in ["barefoot-munich-car.gpx", "geko-regensburg-car.nmea"] {
        let fixes = load(name);
        for bound in [5.0, 10.0, 20.0, 50.0, 100.0] {
            for policy in [
                ThrottlePolicy::error_bounded(bound, 120.0),
                ThrottlePolicy::error_bounded(bound, 120.0).with_live_bound(4.0 * bound),
            ] {
                let summary = replay(&fixes, policy).summary;
                assert!(summary.max_error_m <= bound + 1e-6, "{name} at {bound} m: {}", summary.max_error_m);
                assert!(summary.sent < summary.raw, "{name} at {bound} m sent everything");
            }
        }
    }
}

#[test]
fn the_default_policy_meets_the_message_target_on_the_1_hz_trace() {
    // Not a timing: a count that the evaluation in docs/throttle.md relies on.
    let fixes = load("barefoot-munich-car.gpx");
    let summary = replay(&fixes, ThrottlePolicy::default()).summary;
    assert!(summary.sent * 15 <= summary.raw, "{} of {}", summary.sent, summary.raw);
    assert!(summary.max_live_error_m <= 100.0 + 1e-6);
}
