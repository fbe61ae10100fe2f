//! The real server binary, killed with SIGKILL (or aborting at a crash point of a group commit)
//! and restarted on the same database: nothing it acknowledged is lost, its `welcome` still says
//! what it holds, and a batch it died before answering is applied once when the phone sends it
//! again.

#![cfg(unix)]

mod support;

use enroute_protocol::*;
use futures_util::{SinkExt, StreamExt};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use tokio_tungstenite::tungstenite::Message;

/// Where the server under test keeps its data: a SQLite file in a directory of its own, or (with
/// `ENROUTE_TEST_POSTGRES_URL`) a fresh schema of the test cluster's database.
struct Database {
    directory: std::path::PathBuf,
    db: std::ffi::OsString,
}

impl Database {
    fn new(name: &str) -> Database {
        let directory = std::env::temp_dir().join(format!("enroute-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&directory);
        std::fs::create_dir_all(&directory).unwrap();
        let db = match std::env::var("ENROUTE_TEST_POSTGRES_URL") {
            Ok(url) => support::fresh_postgres_schema(&url).into(),
            Err(_) => directory.join("enroute.db").into_os_string(),
        };
        Database { directory, db }
    }

    /// The driver's history as the database holds it, read by a store of its own.
    fn history(&self, driver_id: &str) -> enroute_mock_server::store::DriverHistory {
        let store = enroute_mock_server::open_store(std::path::Path::new(&self.db)).unwrap();
        store.history(driver_id).unwrap()
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}

struct ServerProcess {
    child: Child,
    address: String,
}

impl ServerProcess {
    fn start(database: &Database) -> ServerProcess {
        ServerProcess::start_with(database, &[])
    }

    fn start_with(database: &Database, extra: &[&str]) -> ServerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_enroute-mock-server"))
            .args(["--addr", "127.0.0.1:0", "--dist", "no-such-dist", "--db"])
            .arg(&database.db)
            .args(extra)
            // A core file, where they are on, lands beside the database and goes with it.
            .current_dir(&database.directory)
            .args(["--driver", &format!("driver-1:{}", support::token_of("driver-1"))])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let address = line.trim().rsplit("http://").next().unwrap().to_string();
        ServerProcess { child, address }
    }

    /// Waits for the process to end by itself (at its crash point); its exit status.
    fn wait_for_crash(mut self) -> std::process::ExitStatus {
        self.child.wait().unwrap()
    }

    fn kill(mut self) {
        self.child.kill().unwrap(); // SIGKILL: no shutdown code runs
        self.child.wait().unwrap();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn exchange(
    client: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    message: ClientMessage,
) -> ServerMessage {
    client.send(Message::text(message.encode())).await.unwrap();
    loop {
        if let Message::Text(text) = client.next().await.unwrap().unwrap() {
            return ServerMessage::decode(&text).unwrap();
        }
    }
}

fn hello() -> ClientMessage {
    ClientMessage::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        max_protocol: None,
        driver_id: "driver-1".into(),
        token: Some(support::token_of("driver-1")),
        app_version: "test".into(),
        last_event_id: 0,
    })
}

#[tokio::test]
async fn sigkill_loses_no_acknowledged_record_and_welcome_stays_right() {
    let database = Database::new("durability");

    let server = ServerProcess::start(&database);
    let (mut client, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws", server.address)).await.unwrap();
    assert!(matches!(
        exchange(&mut client, hello()).await,
        ServerMessage::Welcome(Welcome { acked_seq: 0, .. })
    ));
    let mut acked = 0;
    for batch_start in (1..=500).step_by(50) {
        match exchange(&mut client, status_batch(batch_start..=batch_start + 49)).await {
            ServerMessage::Ack(ack) => acked = ack.acked_seq,
            other => panic!("expected ack, got {other:?}"),
        }
    }
    assert_eq!(acked, 500);
    server.kill();

    let restarted = ServerProcess::start(&database);
    let (mut client, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws", restarted.address)).await.unwrap();
    match exchange(&mut client, hello()).await {
        ServerMessage::Welcome(welcome) => assert_eq!(welcome.acked_seq, 500),
        other => panic!("expected welcome, got {other:?}"),
    }
    restarted.kill();
    let history = database.history("driver-1");
    assert_eq!(
        history.records.iter().map(|record| record.seq).collect::<Vec<_>>(),
        (1..=500).collect::<Vec<_>>()
    );
}

fn status_batch(seqs: std::ops::RangeInclusive<u64>) -> ClientMessage {
    let records = seqs
        .map(|seq| Record {
            seq,
            id: RecordId::from_random_bits(seq as u128),
            created_at_ms: 1_700_000_000_000,
            kind: RecordKind::Status { status: DriverStatus::OnDuty, reason: None },
        })
        .collect();
    ClientMessage::Records(RecordBatch::new(records))
}

/// Sends a batch to a server that dies at its commit: no ack comes, the socket just ends.
async fn send_into_crash(
    client: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    message: ClientMessage,
) {
    client.send(Message::text(message.encode())).await.unwrap();
    loop {
        let Some(frame) = tokio::time::timeout(std::time::Duration::from_secs(30), client.next())
            .await
            .expect("the server should have died at its commit within 30 s")
        else {
            break;
        };
        match frame {
            Ok(Message::Text(text)) => {
                let answer = ServerMessage::decode(&text).unwrap();
                assert!(
                    !matches!(answer, ServerMessage::Ack(_)),
                    "a batch was acked by a server that died at its commit: {answer:?}"
                );
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
}

/// The two crash points of a group commit: before it commits (nothing of the batch is kept)
/// and after it committed but before the ack (the batch is kept, the phone does not know). In
/// both, the phone sends the batch again to the restarted server, which applies it exactly once.
#[tokio::test]
async fn a_crash_at_either_side_of_a_commit_acks_nothing_and_the_batch_sent_again_is_applied_once() {
    for (point, kept_by_crash) in [("before-commit", 100), ("after-commit", 150)] {
        let database = Database::new(&format!("crash-{point}"));

        // Group commits of records: batch 1 and batch 2 commit, the third dies.
        let server = ServerProcess::start_with(&database, &["--crash-at", &format!("{point}:3")]);
        let (mut client, _) =
            tokio_tungstenite::connect_async(format!("ws://{}/ws", server.address)).await.unwrap();
        assert!(matches!(exchange(&mut client, hello()).await, ServerMessage::Welcome(_)));
        for (first, last) in [(1, 50), (51, 100)] {
            match exchange(&mut client, status_batch(first..=last)).await {
                ServerMessage::Ack(ack) => assert_eq!(ack.acked_seq, last, "{point}"),
                other => panic!("{point}: expected ack, got {other:?}"),
            }
        }
        send_into_crash(&mut client, status_batch(101..=150)).await;
        let status = server.wait_for_crash();
        assert!(!status.success(), "{point}: the server should have aborted, it exited with {status}");

        // The restarted server holds what the crash left; the phone, which had no ack for
        // 101–150, sends them again, then goes on.
        let restarted = ServerProcess::start(&database);
        let (mut client, _) =
            tokio_tungstenite::connect_async(format!("ws://{}/ws", restarted.address)).await.unwrap();
        match exchange(&mut client, hello()).await {
            ServerMessage::Welcome(welcome) => assert_eq!(welcome.acked_seq, kept_by_crash, "{point}"),
            other => panic!("{point}: expected welcome, got {other:?}"),
        }
        for (first, last) in [(101, 150), (151, 200)] {
            match exchange(&mut client, status_batch(first..=last)).await {
                ServerMessage::Ack(ack) => assert_eq!(ack.acked_seq, last, "{point}"),
                other => panic!("{point}: expected ack, got {other:?}"),
            }
        }
        restarted.kill();
        let history = database.history("driver-1");
        assert_eq!(
            history.records.iter().map(|record| record.seq).collect::<Vec<_>>(),
            (1..=200).collect::<Vec<_>>(),
            "{point}: every record once, in order"
        );
    }
}
