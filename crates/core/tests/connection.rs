//! The connection state machine under simulated time: no sockets, no sleeps.

use enroute_core::*;
use enroute_protocol::*;
use std::time::Duration;

fn identity() -> DeviceIdentity {
    DeviceIdentity { driver_id: "driver-1".into(), token: None, app_version: "test".into() }
}

fn at(milliseconds: u64) -> Instant {
    Instant::from_millis(milliseconds)
}

fn welcome() -> ServerMessage {
    ServerMessage::Welcome(Welcome {
        rejected: Vec::new(),
        protocol: PROTOCOL_VERSION,
        acked_seq: 0,
        server_time_ms: 0,
    })
}

fn drain(connection: &mut Connection) -> Vec<ConnectionAction> {
    std::iter::from_fn(|| connection.poll_action()).collect()
}

fn opened_socket(actions: &[ConnectionAction]) -> SocketId {
    actions
        .iter()
        .find_map(|action| match action {
            ConnectionAction::Open(socket) => Some(*socket),
            _ => None,
        })
        .unwrap_or_else(|| panic!("expected an Open action in {actions:?}"))
}

/// Starts a connection and walks it to Online at `now`; returns the socket.
fn connect_online(connection: &mut Connection, now: Instant) -> SocketId {
    connection.handle_start(now);
    let socket = opened_socket(&drain(connection));
    connection.handle_socket_opened(now, socket);
    let actions = drain(connection);
    assert!(matches!(actions.as_slice(), [ConnectionAction::Send(ClientMessage::Hello(_))]), "{actions:?}");
    assert!(connection.handle_message(now, socket, &welcome()));
    assert_eq!(connection.status(), LinkStatus::Online);
    socket
}

fn retry_delay(connection: &Connection, now: Instant) -> Duration {
    match connection.status() {
        LinkStatus::Waiting { retry_at, .. } => retry_at - now,
        other => panic!("expected waiting, got {other:?}"),
    }
}

#[test]
fn start_opens_a_socket_and_greets_with_hello() {
    let mut connection = Connection::new(ConnectionConfig::default(), identity(), 1);
    assert_eq!(connection.status(), LinkStatus::Idle);
    assert_eq!(connection.poll_timeout(), None);
    connection.set_last_event_id(12);
    connection.handle_start(at(0));
    let socket = opened_socket(&drain(&mut connection));
    assert_eq!(connection.status(), LinkStatus::Connecting);
    connection.handle_socket_opened(at(40), socket);
    match drain(&mut connection).as_slice() {
        [ConnectionAction::Send(ClientMessage::Hello(hello))] => {
            assert_eq!(hello.protocol, PROTOCOL_VERSION);
            assert_eq!(hello.driver_id, "driver-1");
            assert_eq!(hello.last_event_id, 12);
        }
        other => panic!("expected hello, got {other:?}"),
    }
    assert_eq!(connection.status(), LinkStatus::Connecting, "not online before welcome");
    connection.handle_message(at(60), socket, &welcome());
    assert_eq!(connection.status(), LinkStatus::Online);
    assert_eq!(connection.open_socket(), Some(socket));
}

#[test]
fn failed_attempts_back_off_exponentially_up_to_the_cap() {
    let config = ConnectionConfig::default();
    let mut connection = Connection::new(config, identity(), 7);
    let mut now = at(0);
    connection.handle_start(now);
    let mut ceilings_seen = Vec::new();
    for _ in 0..10 {
        let socket = opened_socket(&drain(&mut connection));
        connection.handle_socket_closed(now, socket, None);
        let delay = retry_delay(&connection, now);
        ceilings_seen.push(delay);
        now = now + delay;
        assert_eq!(connection.poll_timeout(), Some(now));
        connection.handle_timeout(now);
    }
    let caps = [1, 2, 4, 8, 16, 30, 30, 30, 30, 30];
    for (delay, cap) in ceilings_seen.iter().zip(caps) {
        assert!(
            *delay >= Duration::from_millis(500) && *delay <= Duration::from_secs(cap),
            "{delay:?} > {cap}s"
        );
    }
}

#[test]
fn late_attempts_spread_over_the_whole_thirty_seconds() {
    // Across many phones (seeds), the 8th retry lands anywhere up to the 30 s cap.
    let eighth_delays: Vec<Duration> = (0..200)
        .map(|seed| {
            let mut connection = Connection::new(ConnectionConfig::default(), identity(), seed);
            let mut now = at(0);
            connection.handle_start(now);
            for _ in 0..7 {
                let socket = opened_socket(&drain(&mut connection));
                connection.handle_socket_closed(now, socket, None);
                now = now + retry_delay(&connection, now);
                connection.handle_timeout(now);
            }
            let socket = opened_socket(&drain(&mut connection));
            connection.handle_socket_closed(now, socket, None);
            retry_delay(&connection, now)
        })
        .collect();
    assert!(eighth_delays.iter().all(|delay| *delay <= Duration::from_secs(30)));
    assert!(eighth_delays.iter().any(|delay| *delay > Duration::from_secs(25)));
    assert!(eighth_delays.iter().any(|delay| *delay < Duration::from_secs(5)));
}

#[test]
fn backoff_resets_only_after_the_connection_stayed_up() {
    let mut connection = Connection::new(ConnectionConfig::default(), identity(), 3);
    let mut now = at(0);
    connection.handle_start(now);
    // Fail 6 times: the ceiling reaches 30 s.
    for _ in 0..6 {
        let socket = opened_socket(&drain(&mut connection));
        connection.handle_socket_closed(now, socket, None);
        now = now + retry_delay(&connection, now);
        connection.handle_timeout(now);
    }
    // Open and drop after 2 s: still counts as a failure.
    let socket = opened_socket(&drain(&mut connection));
    connection.handle_socket_opened(now, socket);
    connection.handle_message(now, socket, &welcome());
    now = now + Duration::from_secs(2);
    connection.handle_socket_closed(now, socket, None);
    assert_eq!(connection.failed_attempts(), 7);
    now = now + retry_delay(&connection, now);
    connection.handle_timeout(now);
    // Open and drop after 6 s: stable, so the next delay is from the start of the schedule.
    let socket = opened_socket(&drain(&mut connection));
    connection.handle_socket_opened(now, socket);
    connection.handle_message(now, socket, &welcome());
    now = now + Duration::from_secs(6);
    connection.handle_socket_closed(now, socket, None);
    assert_eq!(connection.failed_attempts(), 1);
    assert!(retry_delay(&connection, now) <= Duration::from_secs(1));
}

#[test]
fn connect_timeout_gives_up_on_a_socket_that_never_opens() {
    let mut connection = Connection::new(ConnectionConfig::default(), identity(), 1);
    connection.handle_start(at(0));
    let socket = opened_socket(&drain(&mut connection));
    assert_eq!(connection.poll_timeout(), Some(at(10_000)));
    connection.handle_timeout(at(9_999));
    assert!(drain(&mut connection).is_empty());
    connection.handle_timeout(at(10_000));
    assert_eq!(drain(&mut connection), vec![ConnectionAction::Close(socket)]);
    assert!(matches!(connection.status(), LinkStatus::Waiting { .. }));
}

#[test]
fn missing_welcome_counts_as_a_failed_attempt() {
    let mut connection = Connection::new(ConnectionConfig::default(), identity(), 1);
    connection.handle_start(at(0));
    let socket = opened_socket(&drain(&mut connection));
    connection.handle_socket_opened(at(100), socket);
    drain(&mut connection);
    connection.handle_timeout(at(10_100));
    assert_eq!(drain(&mut connection), vec![ConnectionAction::Close(socket)]);
    assert_eq!(connection.failed_attempts(), 1);
}

#[test]
fn silence_triggers_a_ping_and_a_missing_pong_kills_the_socket() {
    let mut connection = Connection::new(ConnectionConfig::default(), identity(), 11);
    let socket = connect_online(&mut connection, at(0));
    let ping_at = connection.poll_timeout().unwrap();
    assert!((20_000..=25_000).contains(&ping_at.as_millis()), "ping after 20 to 25 s: {ping_at:?}");
    connection.handle_timeout(ping_at);
    let nonce = match drain(&mut connection).as_slice() {
        [ConnectionAction::Send(ClientMessage::Ping(ping))] => ping.nonce,
        other => panic!("expected ping, got {other:?}"),
    };
    assert_eq!(connection.poll_timeout(), Some(ping_at + Duration::from_secs(10)));
    // A pong with the wrong nonce does not count.
    connection.handle_message(ping_at, socket, &ServerMessage::Pong(Pong { nonce: nonce + 1 }));
    connection.handle_timeout(ping_at + Duration::from_secs(10));
    assert_eq!(drain(&mut connection), vec![ConnectionAction::Close(socket)]);
    assert!(matches!(connection.status(), LinkStatus::Waiting { .. }));
}

#[test]
fn pong_in_time_keeps_the_connection() {
    let mut connection = Connection::new(ConnectionConfig::default(), identity(), 12);
    let socket = connect_online(&mut connection, at(0));
    let ping_at = connection.poll_timeout().unwrap();
    connection.handle_timeout(ping_at);
    let Some(ConnectionAction::Send(ClientMessage::Ping(ping))) = connection.poll_action() else { panic!() };
    connection.handle_message(
        ping_at + Duration::from_secs(9),
        socket,
        &ServerMessage::Pong(Pong { nonce: ping.nonce }),
    );
    connection.handle_timeout(ping_at + Duration::from_secs(10));
    assert!(drain(&mut connection).is_empty());
    assert_eq!(connection.status(), LinkStatus::Online);
    assert!(
        connection.poll_timeout().unwrap() >= ping_at + Duration::from_secs(29),
        "next ping after silence"
    );
}

#[test]
fn regression_frames_from_the_server_postpone_pings_so_a_busy_link_sends_none() {
    let mut connection = Connection::new(ConnectionConfig::default(), identity(), 13);
    let socket = connect_online(&mut connection, at(0));
    let mut now = at(0);
    for _ in 0..100 {
        now = now + Duration::from_secs(15);
        connection.handle_timeout(now);
        connection.handle_message(
            now,
            socket,
            &ServerMessage::Ack(RecordAck { acked_seq: 1, rejected: Vec::new() }),
        );
    }
    assert!(drain(&mut connection).is_empty(), "no pings while acks keep arriving");
}

#[test]
fn events_from_an_abandoned_socket_are_ignored() {
    let mut connection = Connection::new(ConnectionConfig::default(), identity(), 1);
    connection.handle_start(at(0));
    let first = opened_socket(&drain(&mut connection));
    connection.handle_timeout(at(10_000)); // gives up on the first socket
    drain(&mut connection);
    let retry_at = connection.poll_timeout().unwrap();
    connection.handle_timeout(retry_at);
    let second = opened_socket(&drain(&mut connection));
    assert_ne!(first, second);
    // The first socket's late events change nothing.
    connection.handle_socket_opened(retry_at, first);
    assert!(!connection.handle_message(retry_at, first, &welcome()));
    connection.handle_socket_closed(retry_at, first, None);
    assert_eq!(connection.status(), LinkStatus::Connecting);
    assert!(drain(&mut connection).is_empty());
}

#[test]
fn online_event_cuts_the_backoff_short() {
    let mut connection = Connection::new(ConnectionConfig::default(), identity(), 5);
    let socket = connect_online(&mut connection, at(0));
    connection.handle_socket_closed(at(1_000), socket, None);
    assert!(matches!(connection.status(), LinkStatus::Waiting { .. }));
    connection.handle_browser_online(at(1_010), true);
    opened_socket(&drain(&mut connection));
    assert_eq!(connection.status(), LinkStatus::Connecting);
}

#[test]
fn page_becoming_visible_cuts_the_backoff_short() {
    let mut connection = Connection::new(ConnectionConfig::default(), identity(), 5);
    connection.handle_start(at(0));
    let socket = opened_socket(&drain(&mut connection));
    connection.handle_socket_closed(at(10), socket, None);
    connection.handle_page_visible(at(20));
    opened_socket(&drain(&mut connection));
}

#[test]
fn page_becoming_visible_while_online_probes_the_socket() {
    let mut connection = Connection::new(ConnectionConfig::default(), identity(), 5);
    connect_online(&mut connection, at(0));
    connection.handle_page_visible(at(300_000));
    assert!(matches!(drain(&mut connection).as_slice(), [ConnectionAction::Send(ClientMessage::Ping(_))]));
    assert_eq!(connection.poll_timeout(), Some(at(310_000)), "dead if no pong in 10 s");
}

#[test]
fn offline_browser_slows_attempts_but_never_stops_them() {
    let mut connection = Connection::new(ConnectionConfig::default(), identity(), 21);
    connection.handle_browser_online(at(0), false);
    connection.handle_start(at(0));
    let mut now = at(0);
    for _ in 0..20 {
        let socket = opened_socket(&drain(&mut connection));
        connection.handle_socket_closed(now, socket, None);
        match connection.status() {
            LinkStatus::Waiting { browser_offline, .. } => assert!(browser_offline),
            other => panic!("{other:?}"),
        }
        let delay = retry_delay(&connection, now);
        assert!(delay >= Duration::from_secs(15) && delay <= Duration::from_secs(30), "{delay:?}");
        now = now + delay;
        connection.handle_timeout(now);
    }
}

#[test]
fn unsupported_protocol_stops_retrying_until_started_again() {
    let mut connection = Connection::new(ConnectionConfig::default(), identity(), 1);
    connection.handle_start(at(0));
    let socket = opened_socket(&drain(&mut connection));
    connection.handle_socket_opened(at(1), socket);
    drain(&mut connection);
    let refusal = ServerMessage::Error(ErrorMessage {
        code: ErrorCode::UnsupportedProtocol,
        message: "this server speaks protocol 2".into(),
    });
    connection.handle_message(at(2), socket, &refusal);
    assert_eq!(drain(&mut connection), vec![ConnectionAction::Close(socket)]);
    assert_eq!(
        connection.status(),
        LinkStatus::Refused {
            code: ErrorCode::UnsupportedProtocol,
            message: "this server speaks protocol 2".into()
        }
    );
    assert_eq!(connection.poll_timeout(), None, "no reconnect storm");
    connection.handle_socket_closed(at(3), socket, None);
    assert!(matches!(connection.status(), LinkStatus::Refused { .. }));
    connection.handle_start(at(4));
    opened_socket(&drain(&mut connection));
}

fn welcome_of(protocol: u32, server_time_ms: i64) -> ServerMessage {
    ServerMessage::Welcome(Welcome { rejected: Vec::new(), protocol, acked_seq: 0, server_time_ms })
}

/// Opens a connection with `config` up to its `hello`; returns it, the socket and the hello.
fn greeting(config: ConnectionConfig) -> (Connection, SocketId, Hello) {
    let mut connection = Connection::new(config, identity(), 1);
    connection.handle_start(at(0));
    let socket = opened_socket(&drain(&mut connection));
    connection.handle_socket_opened(at(1), socket);
    let hello = drain(&mut connection)
        .into_iter()
        .find_map(|action| match action {
            ConnectionAction::Send(ClientMessage::Hello(hello)) => Some(hello),
            _ => None,
        })
        .expect("a hello");
    (connection, socket, hello)
}

#[test]
fn welcome_with_a_protocol_version_newer_than_offered_is_refused() {
    let (mut connection, socket, hello) = greeting(ConnectionConfig::default());
    assert_eq!((hello.protocol, hello.max_protocol), (1, Some(MAX_PROTOCOL_VERSION)));
    connection.handle_message(at(2), socket, &welcome_of(MAX_PROTOCOL_VERSION + 1, 0));
    assert!(matches!(connection.status(), LinkStatus::Refused { code: ErrorCode::UnsupportedProtocol, .. }));

    let version_1_only = ConnectionConfig { max_protocol: 1, ..ConnectionConfig::default() };
    let (mut connection, socket, hello) = greeting(version_1_only);
    assert_eq!(hello.max_protocol, None, "an app that speaks only version 1 says nothing more");
    connection.handle_message(at(2), socket, &welcome_of(2, 0));
    assert!(matches!(connection.status(), LinkStatus::Refused { code: ErrorCode::UnsupportedProtocol, .. }));
}

#[test]
fn the_welcome_chooses_the_form_of_the_frames_after_it() {
    let (mut connection, socket, _) = greeting(ConnectionConfig::default());
    assert_eq!(connection.wire_format(), WireFormat::Objects, "the hello is an object");
    connection.handle_message(at(2), socket, &welcome_of(2, 1_763_769_600_123));
    assert_eq!(connection.status(), LinkStatus::Online);
    assert_eq!(connection.wire_format(), WireFormat::Compact { time_base_ms: 1_763_769_600_123 });

    // A server that knows only version 1 ignores `max_protocol` and welcomes with 1.
    let (mut connection, socket, _) = greeting(ConnectionConfig::default());
    connection.handle_message(at(2), socket, &welcome_of(1, 1_763_769_600_123));
    assert_eq!(connection.status(), LinkStatus::Online);
    assert_eq!(connection.wire_format(), WireFormat::Objects);
}

#[test]
fn stop_closes_the_socket_and_stays_idle() {
    let mut connection = Connection::new(ConnectionConfig::default(), identity(), 1);
    let socket = connect_online(&mut connection, at(0));
    connection.handle_stop();
    assert_eq!(drain(&mut connection), vec![ConnectionAction::Close(socket)]);
    assert_eq!(connection.status(), LinkStatus::Idle);
    connection.handle_socket_closed(at(5), socket, None);
    assert_eq!(connection.status(), LinkStatus::Idle);
    assert_eq!(connection.poll_timeout(), None);
}

#[test]
fn going_offline_closes_the_socket_at_once_instead_of_waiting_for_the_ping() {
    let mut connection = Connection::new(ConnectionConfig::default(), identity(), 31);
    let socket = connect_online(&mut connection, at(0));
    connection.handle_browser_online(at(1_000), false);
    assert_eq!(drain(&mut connection), vec![ConnectionAction::Close(socket)]);
    match connection.status() {
        LinkStatus::Waiting { browser_offline, retry_at } => {
            assert!(browser_offline);
            assert!(retry_at >= at(16_000), "offline cadence: {retry_at:?}");
        }
        other => panic!("{other:?}"),
    }
    // A second offline event (or the same state at start) changes nothing.
    connection.handle_browser_online(at(1_100), false);
    assert!(drain(&mut connection).is_empty());
    // Back online: connect at once.
    connection.handle_browser_online(at(2_000), true);
    opened_socket(&drain(&mut connection));
}

#[test]
fn starting_while_offline_still_tries_once() {
    let mut connection = Connection::new(ConnectionConfig::default(), identity(), 32);
    connection.handle_browser_online(at(0), false);
    connection.handle_start(at(0));
    opened_socket(&drain(&mut connection));
}

#[test]
fn a_rejected_sign_in_stops_retrying_until_the_driver_starts_again() {
    let mut connection = Connection::new(ConnectionConfig::default(), identity(), 1);
    connection.handle_start(at(0));
    let socket = opened_socket(&drain(&mut connection));
    connection.handle_socket_opened(at(10), socket);
    drain(&mut connection);
    let refusal = ServerMessage::Error(ErrorMessage { code: ErrorCode::Unauthorized, message: "no".into() });
    connection.handle_message(at(20), socket, &refusal);
    assert!(matches!(connection.status(), LinkStatus::Refused { code: ErrorCode::Unauthorized, .. }));
    assert!(
        matches!(drain(&mut connection).as_slice(), [ConnectionAction::Close(closed)] if *closed == socket)
    );
    assert_eq!(connection.poll_timeout(), None, "no retry is scheduled: no reconnect storm");
    // The close that follows the error changes nothing.
    connection.handle_socket_closed(at(30), socket, Some(4401));
    connection.handle_timeout(at(3_600_000));
    assert!(drain(&mut connection).is_empty());
    assert!(matches!(connection.status(), LinkStatus::Refused { .. }));
    // New credentials (the app restarts the connection) or the Reconnect button try again.
    connection.handle_start(at(3_600_001));
    opened_socket(&drain(&mut connection));
}

#[test]
fn a_close_code_for_a_final_error_refuses_even_when_the_error_frame_was_lost() {
    for (close_code, expected) in
        [(4401, ErrorCode::Unauthorized), (4403, ErrorCode::TokenRevoked), (4409, ErrorCode::Replaced)]
    {
        let mut connection = Connection::new(ConnectionConfig::default(), identity(), 1);
        let socket = connect_online(&mut connection, at(0));
        connection.handle_socket_closed(at(100), socket, Some(close_code));
        assert!(
            matches!(connection.status(), LinkStatus::Refused { code, .. } if code == expected),
            "{close_code}: {:?}",
            connection.status()
        );
        assert_eq!(connection.poll_timeout(), None);
    }
}

#[test]
fn errors_that_may_pass_are_retried_with_backoff() {
    for close_code in [4429, 4408, 4503, 1011, 1006, 1009] {
        let mut connection = Connection::new(ConnectionConfig::default(), identity(), 1);
        let socket = connect_online(&mut connection, at(0));
        connection.handle_socket_closed(at(100), socket, Some(close_code));
        assert!(matches!(connection.status(), LinkStatus::Waiting { .. }), "{close_code}");
        assert!(connection.poll_timeout().is_some());
    }
}
