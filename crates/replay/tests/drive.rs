//! Simulated drivers against a real server on 127.0.0.1:0: real protocol, real acks.

#![cfg(not(target_arch = "wasm32"))]

use enroute_core::geo::LocalFrame;
use enroute_core::{Fix, ThrottlePolicy};
use enroute_mock_server::AppState;
use enroute_mock_server::store::SqliteStore;
use enroute_replay::drive::{DriveOptions, drive};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_drivers_deliver_every_record_and_the_server_holds_them_in_order() {
    let state = AppState::new(SqliteStore::in_memory());
    let ids = enroute_replay::drive::driver_ids("sim-", 5);
    // Registered through the dispatcher API, as the command line does (one exists already).
    state.store.register_driver("sim-3", 0).unwrap();
    let address = enroute_mock_server::http_server::serve_on_loopback(state.clone()).await.unwrap();
    let server = format!("ws://{address}/ws");
    let tokens =
        enroute_replay::drive::register_drivers(&server, "test-dispatcher-token", &ids).await.unwrap();

    // Two minutes of driving east at 12 m/s with a turn, one fix a second.
    let frame = LocalFrame::around(48.137, 11.575);
    let fixes: Vec<Fix> = (0..120)
        .map(|second| {
            let (east, north) =
                if second < 60 { (second as f64 * 12.0, 0.0) } else { (720.0, (second - 60) as f64 * 12.0) };
            let (lat, lon) = frame.to_degrees(east, north);
            Fix {
                time_ms: 1_700_000_000_000 + second * 1000,
                lat,
                lon,
                accuracy_m: 5.0,
                speed_mps: None,
                heading_deg: None,
                altitude_m: None,
            }
        })
        .collect();
    let options = DriveOptions {
        server,
        drivers: 5,
        prefix: "sim-".into(),
        speed: 60.0, // two minutes in two seconds
        policy: ThrottlePolicy::default(),
        tokens,
        timers_in_trace_time: false,
        max_protocol: enroute_protocol::MAX_PROTOCOL_VERSION,
    };
    let report = drive(options, fixes).await.unwrap();
    assert!(report.failures.is_empty(), "{report}");
    assert_eq!(report.fixes, 5 * 120);
    assert_eq!(report.acknowledged, report.records);
    for index in 1..=5 {
        let history = state.store.history(&format!("sim-{index}")).unwrap();
        let seqs: Vec<u64> = history.records.iter().map(|record| record.seq).collect();
        assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
        assert_eq!(seqs.len() as u64 * 5, report.records, "every driver made the same records");
        assert!(history.records.len() < 40, "the throttle thinned 120 fixes to {}", history.records.len());
    }
}
