//! What the app does with a frame from the server: decode it and hand it to the engine in the
//! middle of a session (the sans-io core, exactly as the app runs it). Any input must end in a
//! value or an error, never a panic.

#![no_main]

use enroute_core::{DeviceIdentity, Engine, EngineAction, EngineConfig, Instant, Now, StoredOutbox};
use enroute_protocol::{DriverStatus, RecordKind, ServerMessage, Welcome, PROTOCOL_VERSION};
use libfuzzer_sys::fuzz_target;

const T0: i64 = 1_763_769_600_000;

fn at(milliseconds: u64) -> Now {
    Now { monotonic: Instant::from_millis(milliseconds), unix_ms: T0 + milliseconds as i64 }
}

fn drain(engine: &mut Engine, now: Now) -> Option<enroute_core::SocketId> {
    let mut socket = None;
    for _ in 0..1_000 {
        match engine.poll_action(now) {
            Some(EngineAction::OpenSocket(id)) => socket = Some(id),
            Some(EngineAction::Store(write)) => engine.handle_storage_written(write.id),
            Some(EngineAction::StoreAssignments(write)) => engine.handle_assignments_stored(write.id),
            Some(_) => {}
            None => break,
        }
    }
    socket
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(message) = ServerMessage::decode(text) else { return };
    let identity = DeviceIdentity { driver_id: "fuzz".into(), token: Some("fuzz-token".into()), app_version: "fuzz".into() };
    let mut engine = Engine::new(EngineConfig::default(), identity, StoredOutbox::default(), 7);
    engine.record(at(0), RecordKind::Status { status: DriverStatus::OnDuty, reason: None });
    engine.start(at(0));
    let Some(socket) = drain(&mut engine, at(0)) else { return };
    engine.handle_socket_opened(at(1), socket);
    drain(&mut engine, at(1));
    // Once as the answer to hello, once in an open session.
    engine.handle_message(at(2), socket, &message);
    drain(&mut engine, at(2));
    let welcome = ServerMessage::Welcome(Welcome {
        protocol: PROTOCOL_VERSION,
        acked_seq: 0,
        server_time_ms: T0,
        rejected: Vec::new(),
    });
    engine.handle_message(at(3), socket, &welcome);
    drain(&mut engine, at(3));
    engine.handle_message(at(4), socket, &message);
    drain(&mut engine, at(4));
    engine.handle_timeout(at(60_000));
    drain(&mut engine, at(60_000));
    let _ = engine.snapshot();
});
