//! The real server binary, killed with SIGKILL and restarted on the same database: nothing it
//! acknowledged is lost and its `welcome` still says what it holds.

#![cfg(unix)]

mod support;

use enroute_protocol::*;
use futures_util::{SinkExt, StreamExt};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use tokio_tungstenite::tungstenite::Message;

struct ServerProcess {
    child: Child,
    address: String,
}

impl ServerProcess {
    fn start(database: &std::path::Path) -> ServerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_enroute-mock-server"))
            .args(["--addr", "127.0.0.1:0", "--dist", "no-such-dist", "--db"])
            .arg(database)
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
        driver_id: "driver-1".into(),
        token: Some(support::token_of("driver-1")),
        app_version: "test".into(),
        last_event_id: 0,
    })
}

#[tokio::test]
async fn sigkill_loses_no_acknowledged_record_and_welcome_stays_right() {
    let directory = std::env::temp_dir().join(format!("enroute-durability-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let database = directory.join("enroute.db");
    let _ = std::fs::remove_file(&database);

    let server = ServerProcess::start(&database);
    let (mut client, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws", server.address)).await.unwrap();
    assert!(matches!(
        exchange(&mut client, hello()).await,
        ServerMessage::Welcome(Welcome { acked_seq: 0, .. })
    ));
    let mut acked = 0;
    for batch_start in (1..=500).step_by(50) {
        let records = (batch_start..batch_start + 50)
            .map(|seq| Record {
                seq,
                id: RecordId::from_random_bits(seq as u128),
                created_at_ms: 1_700_000_000_000,
                kind: RecordKind::Status { status: DriverStatus::OnDuty, reason: None },
            })
            .collect();
        match exchange(&mut client, ClientMessage::Records(RecordBatch::new(records))).await {
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
    let history =
        enroute_mock_server::store::SqliteStore::open(&database).unwrap().history("driver-1").unwrap();
    assert_eq!(
        history.records.iter().map(|record| record.seq).collect::<Vec<_>>(),
        (1..=500).collect::<Vec<_>>()
    );
    let _ = std::fs::remove_dir_all(&directory);
}
