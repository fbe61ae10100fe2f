//! The server over a real socket: serve on 127.0.0.1:0 and connect a real WebSocket client.

#![cfg(not(target_arch = "wasm32"))] // the server is native only

use enroute_mock_server::store::Store;
use enroute_mock_server::{AppState, router};
use enroute_protocol::*;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

type Client = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn start_server(store: Store) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = router(AppState::new(store), std::path::Path::new("no-such-dist"));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

async fn connect(address: std::net::SocketAddr) -> Client {
    let (client, _response) = tokio_tungstenite::connect_async(format!("ws://{address}/ws")).await.unwrap();
    client
}

async fn send(client: &mut Client, message: ClientMessage) {
    client.send(Message::text(message.encode())).await.unwrap();
}

async fn receive(client: &mut Client) -> ServerMessage {
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), client.next())
            .await
            .expect("server answered within 5 s")
            .expect("connection still open")
            .unwrap();
        if let Message::Text(text) = frame {
            return ServerMessage::decode(&text).unwrap();
        }
    }
}

fn hello(driver_id: &str) -> ClientMessage {
    ClientMessage::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        driver_id: driver_id.into(),
        token: None,
        app_version: "test".into(),
        last_event_id: 0,
    })
}

fn status_record(seq: u64) -> Record {
    Record {
        seq,
        id: RecordId::from_random_bits(seq as u128),
        created_at_ms: 1_700_000_000_000 + seq as i64,
        kind: RecordKind::Status { status: DriverStatus::OnDuty },
    }
}

fn records(seqs: impl IntoIterator<Item = u64>) -> ClientMessage {
    ClientMessage::Records(RecordBatch {
        live: false,
        records: seqs.into_iter().map(status_record).collect(),
    })
}

async fn greet(client: &mut Client, driver_id: &str) -> Welcome {
    send(client, hello(driver_id)).await;
    match receive(client).await {
        ServerMessage::Welcome(welcome) => welcome,
        other => panic!("expected welcome, got {other:?}"),
    }
}

async fn expect_ack(client: &mut Client) -> u64 {
    match receive(client).await {
        ServerMessage::Ack(ack) => ack.acked_seq,
        other => panic!("expected ack, got {other:?}"),
    }
}

#[tokio::test]
async fn hello_gets_welcome_with_nothing_stored() {
    let address = start_server(Store::in_memory()).await;
    let mut client = connect(address).await;
    let welcome = greet(&mut client, "driver-1").await;
    assert_eq!(welcome.protocol, PROTOCOL_VERSION);
    assert_eq!(welcome.acked_seq, 0);
    assert!(welcome.server_time_ms > 1_700_000_000_000);
}

#[tokio::test]
async fn records_are_acked_cumulatively_and_welcome_remembers_them() {
    let store = Store::in_memory();
    let address = start_server(store.clone()).await;
    let mut client = connect(address).await;
    greet(&mut client, "driver-1").await;
    send(&mut client, records(1..=3)).await;
    assert_eq!(expect_ack(&mut client).await, 3);
    client.close(None).await.unwrap();

    let mut again = connect(address).await;
    assert_eq!(greet(&mut again, "driver-1").await.acked_seq, 3);
    assert_eq!(greet(&mut connect(address).await, "driver-2").await.acked_seq, 0, "drivers are separate");
}

#[tokio::test]
async fn duplicates_are_counted_and_not_applied_twice() {
    let store = Store::in_memory();
    let address = start_server(store.clone()).await;
    let mut client = connect(address).await;
    greet(&mut client, "driver-1").await;
    send(&mut client, records(1..=2)).await;
    assert_eq!(expect_ack(&mut client).await, 2);
    send(&mut client, records(1..=3)).await;
    assert_eq!(expect_ack(&mut client).await, 3);
    let driver = store.driver("driver-1").unwrap();
    assert_eq!(driver.applied.iter().map(|record| record.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(driver.duplicates, 2);
}

#[tokio::test]
async fn records_after_a_gap_wait_and_the_ack_stays_contiguous() {
    let store = Store::in_memory();
    let address = start_server(store.clone()).await;
    let mut client = connect(address).await;
    greet(&mut client, "driver-1").await;
    send(&mut client, records([5])).await;
    assert_eq!(expect_ack(&mut client).await, 0, "5 is held, but 1 to 4 are missing");
    send(&mut client, records(1..=4)).await;
    assert_eq!(expect_ack(&mut client).await, 5);
    let applied: Vec<u64> =
        store.driver("driver-1").unwrap().applied.iter().map(|record| record.seq).collect();
    assert_eq!(applied, vec![1, 2, 3, 4, 5], "applied in sequence order");
}

#[tokio::test]
async fn ping_gets_pong_with_the_same_nonce() {
    let address = start_server(Store::in_memory()).await;
    let mut client = connect(address).await;
    greet(&mut client, "driver-1").await;
    send(&mut client, ClientMessage::Ping(Ping { nonce: 77 })).await;
    assert_eq!(receive(&mut client).await, ServerMessage::Pong(Pong { nonce: 77 }));
}

#[tokio::test]
async fn records_before_hello_are_refused_and_the_socket_closes() {
    let address = start_server(Store::in_memory()).await;
    let mut client = connect(address).await;
    send(&mut client, records([1])).await;
    match receive(&mut client).await {
        ServerMessage::Error(error) => assert_eq!(error.code, ErrorCode::HelloRequired),
        other => panic!("expected error, got {other:?}"),
    }
    let next = tokio::time::timeout(std::time::Duration::from_secs(5), client.next()).await.unwrap();
    assert!(matches!(next, Some(Ok(Message::Close(_))) | None), "socket closes, got {next:?}");
}

#[tokio::test]
async fn wrong_protocol_version_is_refused_with_a_clear_message() {
    let address = start_server(Store::in_memory()).await;
    let mut client = connect(address).await;
    let frame = r#"{"type":"hello","protocol":99,"driver_id":"d","app_version":"x","last_event_id":0}"#;
    client.send(Message::text(frame)).await.unwrap();
    match receive(&mut client).await {
        ServerMessage::Error(error) => {
            assert_eq!(error.code, ErrorCode::UnsupportedProtocol);
            assert!(error.message.contains("99"), "{}", error.message);
        }
        other => panic!("expected error, got {other:?}"),
    }
}

#[tokio::test]
async fn malformed_frame_gets_an_error_and_the_connection_keeps_working() {
    let address = start_server(Store::in_memory()).await;
    let mut client = connect(address).await;
    greet(&mut client, "driver-1").await;
    client.send(Message::text("{not json")).await.unwrap();
    match receive(&mut client).await {
        ServerMessage::Error(error) => assert_eq!(error.code, ErrorCode::BadMessage),
        other => panic!("expected error, got {other:?}"),
    }
    send(&mut client, records([1])).await;
    assert_eq!(expect_ack(&mut client).await, 1);
}
