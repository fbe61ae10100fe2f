//! Places where the server can be made to die on purpose, for tests of what survives a crash
//! (`--crash-at`, hidden from `--help`): just before a group commit of drivers' records commits,
//! and just after it committed, before any batch in it is answered. The process aborts there, as
//! if killed: no destructor, no shutdown, no answer. Nothing happens unless a test armed one.
//!
//! This module owns the plan and its counter; the writer only says where it is.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where in a group commit the process dies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashPoint {
    /// The transaction holds the group's records but has not committed: nothing of it is kept.
    BeforeCommit,
    /// The group is committed and durable, and no batch in it was answered yet.
    AfterCommit,
}

impl std::str::FromStr for CrashPoint {
    type Err = String;

    fn from_str(text: &str) -> Result<CrashPoint, String> {
        match text {
            "before-commit" => Ok(CrashPoint::BeforeCommit),
            "after-commit" => Ok(CrashPoint::AfterCommit),
            _ => Err(format!("unknown crash point {text:?}: expected before-commit or after-commit")),
        }
    }
}

/// Die at `point` of the `nth` group commit that holds drivers' records (1 = the first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrashPlan {
    pub point: CrashPoint,
    pub nth: u64,
}

/// Parses `POINT:N`, as `--crash-at` takes it.
pub fn parse_crash_plan(text: &str) -> Result<CrashPlan, String> {
    let (point, nth) = text.split_once(':').ok_or("expected POINT:N, e.g. after-commit:3")?;
    let nth: u64 = nth.parse().map_err(|_| format!("{nth:?} is not a positive whole number"))?;
    if nth == 0 {
        return Err("N counts group commits from 1".into());
    }
    Ok(CrashPlan { point: point.parse()?, nth })
}

static PLAN: OnceLock<CrashPlan> = OnceLock::new();
/// Group commits holding records that reached [`CrashPoint::BeforeCommit`] so far.
static COMMITS: AtomicU64 = AtomicU64::new(0);

/// Arms the plan for this process (once; later calls change nothing).
pub fn arm(plan: CrashPlan) {
    if PLAN.set(plan).is_ok() {
        tracing::warn!(?plan, "crash point armed: this server will abort on purpose (tests only)");
    }
}

/// The writer is at `point` of a group commit holding records: aborts here if that is the plan.
pub fn reached(point: CrashPoint) {
    let Some(plan) = PLAN.get() else { return };
    let commit = match point {
        // Each group commit passes here first: this is where it is counted.
        CrashPoint::BeforeCommit => COMMITS.fetch_add(1, Ordering::SeqCst) + 1,
        CrashPoint::AfterCommit => COMMITS.load(Ordering::SeqCst),
    };
    if plan.point == point && plan.nth == commit {
        eprintln!("enroute-mock-server: aborting at {point:?} of group commit {commit}, as --crash-at asked");
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_plans_parse_and_bad_ones_say_why() {
        assert_eq!(
            parse_crash_plan("after-commit:3"),
            Ok(CrashPlan { point: CrashPoint::AfterCommit, nth: 3 })
        );
        assert_eq!(
            parse_crash_plan("before-commit:1"),
            Ok(CrashPlan { point: CrashPoint::BeforeCommit, nth: 1 })
        );
        assert!(parse_crash_plan("after-commit").unwrap_err().contains("POINT:N"));
        assert!(parse_crash_plan("after-commit:0").unwrap_err().contains("from 1"));
        assert!(parse_crash_plan("during-lunch:2").unwrap_err().contains("unknown crash point"));
        assert!(parse_crash_plan("before-commit:x").unwrap_err().contains("not a positive"));
    }
}
