//! The load generator against the real mock server on 127.0.0.1:0: steady load, a reconnect
//! storm, and the loopback-only rule. Short runs (a few seconds), loopback only.

#![cfg(not(target_arch = "wasm32"))]

use enroute_mock_server::AppState;
use enroute_mock_server::store::SqliteStore;
use enroute_replay::load::{LoadError, LoadOptions, run};

/// Serves a fresh in-memory mock server; returns its address and state.
async fn start_server() -> (std::net::SocketAddr, AppState) {
    let state = AppState::new(SqliteStore::in_memory());
    let address = enroute_mock_server::http_server::serve_on_loopback(state.clone()).await.unwrap();
    (address, state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_drivers_at_one_record_a_second_get_every_record_acked_and_the_counts_add_up() {
    let (address, state) = start_server().await;
    // One driver exists already with records: the load continues after them.
    state.store.register_driver("steady-7", 0).unwrap();
    let mut options = LoadOptions::new(&format!("ws://{address}/ws"), "test-dispatcher-token");
    options.drivers = 20;
    options.prefix = "steady-".into();
    options.interval_s = 1.0;
    options.duration_s = 3.0;
    options.scrape = Some(format!("http://{address}/metrics"));
    options.scrape_every_s = 0.5;
    options.server_pid = Some(std::process::id()); // the server runs in this process

    let started = std::time::Instant::now();
    let report = run(options).await.unwrap();
    assert!(started.elapsed().as_secs_f64() < 15.0, "{report}");
    assert!(report.problems().is_empty(), "{report}");
    assert_eq!(report.drivers_asked, 20);
    assert_eq!(report.drivers_connected, 20);
    assert!(report.connect_failures.is_empty() && report.disconnects.is_empty(), "{report}");
    assert!(report.errors_by_code.is_empty(), "{report}");
    assert_eq!(report.records_unacked, 0);
    assert_eq!(report.records_acked, report.records_sent);
    // Ramp (1 s) plus window (3 s) at one record a second: 3 to 4 records a driver.
    // (A busy machine may delay a send across the window's edges: a little slack.)
    assert!((55..=20 * 4).contains(&report.records_sent), "{report}");
    // Every driver has three send times in the window; each measured record has one latency.
    assert!((55..=60).contains(&report.measured_records), "{report}");
    assert_eq!(report.latency.count, report.measured_records);
    assert!(report.latency.p50_ms <= report.latency.p99_ms && report.latency.p99_ms <= report.latency.max_ms);
    assert!((15.0..=25.0).contains(&report.send_rate_per_s), "{report}");
    let during = report.latency_during_scrape.unwrap();
    let without = report.latency_without_scrape.unwrap();
    assert_eq!(during.count + without.count, report.latency.count);
    let scrapes = report.scrapes.as_ref().unwrap();
    assert!(scrapes.count >= 5 && scrapes.failed == 0, "{report}");
    let server = report.server_process.as_ref().unwrap();
    assert!(server.rss_max_kib.is_some() && server.cpu_percent.is_some(), "{report}");
    assert!(report.generator_cpu_percent.is_some());

    // The server holds every record, numbered without gaps.
    let mut held = 0;
    for index in 1..=20 {
        let history = state.store.history(&format!("steady-{index}")).unwrap();
        let seqs: Vec<u64> = history.records.iter().map(|record| record.seq).collect();
        assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
        held += seqs.len() as u64;
    }
    assert_eq!(held, report.records_sent);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["records_sent"], report.records_sent);

    // A second run with the same prefix continues each driver's numbers after what the server holds.
    let mut again = LoadOptions::new(&format!("ws://{address}/ws"), "test-dispatcher-token");
    again.drivers = 3;
    again.prefix = "steady-".into();
    again.interval_s = 0.5;
    again.ramp_s = Some(0.0);
    again.duration_s = 1.0;
    let second = run(again).await.unwrap();
    assert!(second.problems().is_empty(), "{second}");
    let history = state.store.history("steady-1").unwrap();
    let seqs: Vec<u64> = history.records.iter().map(|record| record.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_storm_of_ten_drivers_with_fifty_records_each_is_fully_acked() {
    let (address, state) = start_server().await;
    let mut options = LoadOptions::new(&format!("ws://{address}/ws"), "test-dispatcher-token");
    options.drivers = 10;
    options.prefix = "storm-".into();
    options.backlog = Some(50);
    options.duration_s = 5.0;
    options.source_ips = 3;
    let report = run(options).await.unwrap();
    assert!(report.problems().is_empty(), "{report}");
    assert_eq!(report.drivers_connected, 10);
    assert_eq!(report.records_sent, 500);
    assert_eq!(report.records_acked, 500);
    assert_eq!(report.latency.count, 500);
    let backlog = report.backlog.as_ref().unwrap();
    assert_eq!(backlog.drivers_drained, 10);
    let drained = backlog.all_drained_after_s.unwrap();
    assert!(drained < 5.0 && drained <= report.wall_time_s, "{report}");
    assert!(report.latency.max_ms / 1000.0 <= drained, "{report}");
    for index in 1..=10 {
        assert_eq!(state.store.history(&format!("storm-{index}")).unwrap().records.len(), 50);
    }
}

#[tokio::test]
async fn a_server_that_is_not_on_loopback_is_refused_before_anything_is_sent() {
    let options = LoadOptions::new("ws://10.0.0.1/ws", "test-dispatcher-token");
    let error = run(options).await.unwrap_err();
    assert!(matches!(&error, LoadError::NotLoopback { host, .. } if host == "10.0.0.1"), "{error}");
    assert!(error.to_string().contains("loopback"));
    let mut scrape_elsewhere = LoadOptions::new("ws://127.0.0.1:9/ws", "test-dispatcher-token");
    scrape_elsewhere.scrape = Some("http://192.168.1.1/metrics".into());
    assert!(matches!(run(scrape_elsewhere).await, Err(LoadError::NotLoopback { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_the_server_refuses_are_counted_by_cause_and_a_bad_dispatcher_token_stops_the_run() {
    let (address, _state) = start_server().await;
    // The server registers the drivers, but no WebSocket answers on this path.
    let mut options = LoadOptions::new(&format!("ws://{address}/no-socket-here"), "test-dispatcher-token");
    options.drivers = 2;
    options.interval_s = 0.5;
    options.duration_s = 0.5;
    let report = run(options).await.unwrap();
    assert_eq!(report.drivers_connected, 0, "{report}");
    assert_eq!(report.connect_failures.values().sum::<u64>(), 2, "{report}");
    assert!(
        report.connect_failures.keys().all(|cause| cause.starts_with("handshake refused: HTTP")),
        "{report}"
    );
    assert!(!report.problems().is_empty());

    let wrong = LoadOptions::new(&format!("ws://{address}/ws"), "not-the-dispatcher-token");
    assert!(matches!(run(wrong).await, Err(LoadError::Registration(_))));
}

/// A stand-in for the Socket.IO peer, speaking its contract: the dispatcher API's
/// registration (every driver gets the token "socketio-token") and engine.io v4 framing on
/// `/socket.io/`, with Enroute messages as event payloads. It pings each client twice.
mod fake_socketio {
    use enroute_protocol::{ClientMessage, RecordAck, ServerMessage, Welcome};
    use enroute_replay::socketio_client::{Frame, event_frame, parse_frame};
    use futures_util::{SinkExt, StreamExt};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio_tungstenite::tungstenite::Message;

    #[derive(Default)]
    pub struct Seen {
        pub pongs: AtomicU64,
        pub records: AtomicU64,
        pub paths: std::sync::Mutex<Vec<String>>,
    }

    pub async fn serve(listener: TcpListener, seen: Arc<Seen>) {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(connection(stream, seen.clone()));
        }
    }

    // tungstenite's handshake callback returns its (large) error response type.
    #[allow(clippy::result_large_err)]
    async fn connection(mut stream: TcpStream, seen: Arc<Seen>) {
        let mut start = [0u8; 4];
        if stream.peek(&mut start).await.is_err() {
            return;
        }
        if &start == b"POST" {
            // Read the whole request (headers and the announced body), then answer.
            let mut request = Vec::new();
            let mut buffer = [0u8; 1024];
            loop {
                let Ok(read) = stream.read(&mut buffer).await else { return };
                if read == 0 {
                    return;
                }
                request.extend_from_slice(&buffer[..read]);
                let text = String::from_utf8_lossy(&request).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|line| line.strip_prefix("Content-Length: "))
                        .and_then(|length| length.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if body.len() >= length {
                        break;
                    }
                }
            }
            let body = r#"{"token":"socketio-token"}"#;
            let answer = format!(
                "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes()).await;
            let _ = stream.shutdown().await;
            return;
        }
        let record_path = |request: &tokio_tungstenite::tungstenite::handshake::server::Request, response| {
            seen.paths.lock().unwrap().push(request.uri().to_string());
            Ok(response)
        };
        let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(stream, record_path).await else { return };
        let open =
            r#"0{"sid":"e1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
        if socket.send(Message::text(open)).await.is_err() {
            return;
        }
        let mut pinged_after_ack = false;
        while let Some(Ok(message)) = socket.next().await {
            let Message::Text(text) = message else { continue };
            let reply = match text.as_str() {
                "40" => vec![r#"40{"sid":"s1"}"#.to_string(), "2".to_string()],
                "3" => {
                    seen.pongs.fetch_add(1, Ordering::Relaxed);
                    vec![]
                }
                other => {
                    let Ok(Frame::Event { name, payload, .. }) = parse_frame(other) else {
                        panic!("{other}")
                    };
                    match (name.as_str(), ClientMessage::decode(&payload.to_string()).unwrap()) {
                        ("hello", ClientMessage::Hello(hello)) => {
                            assert_eq!(hello.token.as_deref(), Some("socketio-token"));
                            let welcome = ServerMessage::Welcome(Welcome {
                                protocol: 1,
                                acked_seq: 0,
                                server_time_ms: 1_700_000_000_000,
                                rejected: vec![],
                            });
                            vec![event_frame("welcome", &welcome.encode())]
                        }
                        ("records", ClientMessage::Records(batch)) => {
                            seen.records.fetch_add(batch.records.len() as u64, Ordering::Relaxed);
                            let acked_seq = batch.records.iter().map(|record| record.seq).max().unwrap();
                            let ack = ServerMessage::Ack(RecordAck { acked_seq, rejected: vec![] });
                            let mut frames = vec![event_frame("ack", &ack.encode())];
                            if !pinged_after_ack {
                                pinged_after_ack = true;
                                frames.push("2".to_string());
                            }
                            frames
                        }
                        (name, message) => panic!("unexpected {name}: {message:?}"),
                    }
                }
            };
            for frame in reply {
                if socket.send(Message::text(frame)).await.is_err() {
                    return;
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socketio_peer_gets_enroute_messages_as_events_and_every_ping_is_answered() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(fake_socketio::Seen::default());
    tokio::spawn(fake_socketio::serve(listener, seen.clone()));
    let mut options = LoadOptions::new(&format!("ws://{address}/ignored-path"), "test-dispatcher-token");
    options.peer = enroute_replay::load_peer::Peer::SocketIo;
    options.drivers = 5;
    options.interval_s = 0.5;
    options.duration_s = 1.5;
    let report = run(options).await.unwrap();
    assert!(report.problems().is_empty(), "{report}");
    assert_eq!(report.peer, "socketio");
    assert_eq!(report.drivers_connected, 5);
    assert!(report.records_sent >= 5 * 3, "{report}");
    assert_eq!(report.records_acked, report.records_sent);
    assert_eq!(seen.records.load(std::sync::atomic::Ordering::Relaxed), report.records_sent);
    // One ping during the sign-in, one after the first ack, on each connection.
    assert_eq!(seen.pongs.load(std::sync::atomic::Ordering::Relaxed), 10);
    let paths = seen.paths.lock().unwrap().clone();
    assert_eq!(paths.len(), 5);
    assert!(paths.iter().all(|path| path == "/socket.io/?EIO=4&transport=websocket"), "{paths:?}");
}
