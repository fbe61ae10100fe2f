//! The driver's jobs on the device: offers, offline actions, confirmations, refusals, and
//! events handled once and acknowledged only once stored.

use enroute_core::assignments::{ActError, ChangedBy, Confirmation, JobGroup, job_group};
use enroute_core::*;
use enroute_protocol::*;

const T0: i64 = 1_763_769_600_000;

fn job(id: &str, status: AssignmentStatus) -> Assignment {
    Assignment {
        id: id.into(),
        pickup: Stop { address: "A".into(), lat: 48.1, lon: 11.5 },
        dropoff: Stop { address: "B".into(), lat: 48.2, lon: 11.6 },
        window: TimeWindow { from_ms: T0, to_ms: T0 + 3_600_000 },
        notes: String::new(),
        accept_by_ms: Some(T0 + 300_000),
        status,
        failure_reason: None,
    }
}

fn event(event_id: u64, assignment: Assignment, notice: Option<&str>, refused_seq: Option<u64>) -> Event {
    Event {
        event_id,
        created_at_ms: T0,
        payload: EventPayload::Assignment { assignment, notice: notice.map(str::to_string), refused_seq },
    }
}

#[test]
fn an_offer_arrives_once_even_when_replayed() {
    let mut book = AssignmentBook::default();
    let offer = event(1, job("j1", AssignmentStatus::Offered), None, None);
    assert_eq!(book.handle_event(&offer, T0), EventEffect::NewOffer { assignment_id: "j1".into() });
    assert_eq!(book.handle_event(&offer, T0 + 5), EventEffect::Duplicate);
    assert_eq!(book.entries().count(), 1);
    assert_eq!(book.next_actions("j1"), vec![DriverAction::Accept, DriverAction::Decline]);
}

#[test]
fn accepting_offline_applies_at_once_and_the_ack_confirms_it() {
    let mut book = AssignmentBook::default();
    book.handle_event(&event(1, job("j1", AssignmentStatus::Offered), None, None), T0);
    let record = book.act("j1", DriverAction::Accept, None, T0 + 10).unwrap();
    assert_eq!(
        record,
        RecordKind::Assignment { assignment_id: "j1".into(), action: DriverAction::Accept, reason: None }
    );
    book.attach_seq("j1", 7);
    let entry = book.entry("j1").unwrap();
    assert_eq!(entry.status, AssignmentStatus::Accepted);
    let last = entry.history.last().unwrap();
    assert_eq!((last.by, last.seq, last.confirmation), (ChangedBy::Driver, Some(7), Confirmation::Pending));
    book.handle_acked(6);
    assert_eq!(book.entry("j1").unwrap().history.last().unwrap().confirmation, Confirmation::Pending);
    book.handle_acked(7);
    assert_eq!(book.entry("j1").unwrap().history.last().unwrap().confirmation, Confirmation::Confirmed);
}

#[test]
fn invalid_actions_are_refused_on_the_device_with_the_servers_words() {
    let mut book = AssignmentBook::default();
    book.handle_event(&event(1, job("j1", AssignmentStatus::Offered), None, None), T0);
    assert_eq!(
        book.act("j1", DriverAction::PickUp, None, T0).unwrap_err().to_string(),
        "cannot pick up a job that is offered"
    );
    assert!(matches!(book.act("nope", DriverAction::Accept, None, T0), Err(ActError::UnknownJob(_))));
}

#[test]
fn failing_a_delivery_needs_a_reason() {
    let mut book = AssignmentBook::default();
    book.handle_event(&event(1, job("j1", AssignmentStatus::ArrivedAtDropoff), None, None), T0);
    assert_eq!(book.act("j1", DriverAction::Fail, Some("  ".into()), T0), Err(ActError::ReasonRequired));
    assert!(book.act("j1", DriverAction::Fail, Some("nobody home".into()), T0).is_ok());
    assert_eq!(book.entry("j1").unwrap().status, AssignmentStatus::Failed);
}

#[test]
fn a_refusal_from_the_server_sets_the_job_back_with_a_notice() {
    let mut book = AssignmentBook::default();
    book.handle_event(&event(1, job("j1", AssignmentStatus::Offered), None, None), T0);
    book.act("j1", DriverAction::Accept, None, T0).unwrap();
    book.attach_seq("j1", 3);
    book.handle_acked(3); // stored, then refused: the dispatcher had cancelled
    let refusal =
        event(2, job("j1", AssignmentStatus::Cancelled), Some("The dispatcher cancelled this job."), Some(3));
    assert_eq!(book.handle_event(&refusal, T0 + 50), EventEffect::Changed { assignment_id: "j1".into() });
    let entry = book.entry("j1").unwrap();
    assert_eq!(entry.status, AssignmentStatus::Cancelled);
    assert_eq!(entry.notice.as_deref(), Some("The dispatcher cancelled this job."));
    assert!(
        entry.history.iter().any(|item| item.seq == Some(3) && item.confirmation == Confirmation::Refused)
    );
    assert!(book.next_actions("j1").is_empty());
    book.dismiss_notice("j1");
    assert_eq!(book.entry("j1").unwrap().notice, None);
}

#[test]
fn a_repeated_offer_does_not_undo_the_drivers_progress() {
    let mut book = AssignmentBook::default();
    book.handle_event(&event(1, job("j1", AssignmentStatus::Offered), None, None), T0);
    book.act("j1", DriverAction::Accept, None, T0).unwrap();
    book.handle_event(&event(2, job("j1", AssignmentStatus::Offered), None, None), T0);
    assert_eq!(book.entry("j1").unwrap().status, AssignmentStatus::Accepted);
}

#[test]
fn events_are_stored_before_they_count_as_received() {
    let mut book = AssignmentBook::default();
    book.handle_event(&event(1, job("j1", AssignmentStatus::Offered), None, None), T0);
    book.handle_event(
        &Event { event_id: 2, created_at_ms: T0, payload: EventPayload::Message { text: "hi".into() } },
        T0,
    );
    assert_eq!(book.stored_last_event_id(), 0);
    let write = book.poll_write().unwrap();
    assert_eq!(write.last_event_id, 2);
    assert_eq!(write.entries.len(), 1);
    assert_eq!(write.messages.len(), 1);
    assert_eq!(book.poll_write(), None, "one write at a time");
    assert_eq!(book.handle_written(write.id), Some(2));
    assert_eq!(book.stored_last_event_id(), 2);
    let reloaded = AssignmentBook::new(StoredAssignments {
        entries: write.entries.clone(),
        messages: write.messages.clone(),
        last_event_id: 2,
    });
    assert_eq!(reloaded.entries().count(), 1);
    assert_eq!(reloaded.messages()[0].text, "hi");
}

#[test]
fn a_failed_write_is_written_again() {
    let mut book = AssignmentBook::default();
    book.handle_event(&event(1, job("j1", AssignmentStatus::Offered), None, None), T0);
    let write = book.poll_write().unwrap();
    book.handle_write_failed(write.id);
    let retry = book.poll_write().unwrap();
    assert_eq!(retry.entries.len(), 1);
    assert_eq!(retry.last_event_id, 1);
}

#[test]
fn the_jobs_list_groups_active_offered_and_done_today() {
    let mut book = AssignmentBook::default();
    for (index, status) in [AssignmentStatus::Offered, AssignmentStatus::EnRoute, AssignmentStatus::Delivered]
        .into_iter()
        .enumerate()
    {
        book.handle_event(&event(index as u64 + 1, job(&format!("j{index}"), status), None, None), T0);
    }
    let groups: Vec<Option<JobGroup>> = book.entries().map(|entry| job_group(entry, T0 - 1)).collect();
    assert_eq!(groups, vec![Some(JobGroup::Offered), Some(JobGroup::Active), Some(JobGroup::Done)]);
    let yesterday: Vec<Option<JobGroup>> = book.entries().map(|entry| job_group(entry, T0 + 1)).collect();
    assert_eq!(yesterday[2], None, "finished before today: not listed");
}

#[test]
fn the_engine_acknowledges_events_only_after_storing_them() {
    let identity = DeviceIdentity { driver_id: "d".into(), token: None, app_version: "t".into() };
    let now = Now { monotonic: Instant::from_millis(0), unix_ms: T0 };
    let mut engine = Engine::new(EngineConfig::default(), identity, StoredOutbox::default(), 1)
        .with_assignments(StoredAssignments { last_event_id: 4, ..Default::default() });
    engine.start(now);
    let socket = match engine.poll_action(now) {
        Some(EngineAction::OpenSocket(socket)) => socket,
        other => panic!("{other:?}"),
    };
    engine.handle_socket_opened(now, socket);
    match engine.poll_action(now) {
        Some(EngineAction::Send(ClientMessage::Hello(hello))) => assert_eq!(hello.last_event_id, 4),
        other => panic!("{other:?}"),
    }
    let welcome = ServerMessage::Welcome(Welcome {
        rejected: Vec::new(),
        protocol: PROTOCOL_VERSION,
        acked_seq: 0,
        server_time_ms: T0,
    });
    engine.handle_message(now, socket, &welcome);
    while engine.poll_action(now).is_some() {}
    engine.handle_message(
        now,
        socket,
        &ServerMessage::Event(event(5, job("j1", AssignmentStatus::Offered), None, None)),
    );
    assert_eq!(engine.poll_event_effect(), Some(EventEffect::NewOffer { assignment_id: "j1".into() }));
    let write = match engine.poll_action(now) {
        Some(EngineAction::StoreAssignments(write)) => write,
        other => panic!("expected a write before any ack, got {other:?}"),
    };
    assert_eq!(engine.poll_action(now), None, "no ack yet");
    engine.handle_assignments_stored(write.id);
    assert_eq!(
        engine.poll_action(now),
        Some(EngineAction::Send(ClientMessage::Ack(EventAck { event_id: 5 })))
    );
    // The accept goes out as a record.
    let seq = engine.act(now, "j1", DriverAction::Accept, None).unwrap();
    assert_eq!(seq, 1);
}
