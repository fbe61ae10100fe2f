//! What the integration tests share: a server state with the test drivers registered, and a
//! real server on 127.0.0.1:0 with real WebSocket clients.

#![allow(dead_code)] // each test file uses part of it

use enroute_mock_server::AppState;
use enroute_mock_server::store::SqliteStore;

/// A WebSocket client of the test server.
pub type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Serves `state` (and no app files) on a free port of 127.0.0.1; returns the address.
pub async fn start_server(state: AppState) -> std::net::SocketAddr {
    enroute_mock_server::http_server::serve_on_loopback(state).await.unwrap()
}

/// Opens a WebSocket to the server at `address` (nothing sent yet).
pub async fn connect(address: std::net::SocketAddr) -> Client {
    tokio_tungstenite::connect_async(format!("ws://{address}/ws")).await.unwrap().0
}

/// Drivers registered in [`test_state`], each with the token [`token_of`] gives.
pub const TEST_DRIVERS: [&str; 9] = [
    "driver-1", "driver-2", "driver-3", "driver-4", "driver-5", "driver-6", "driver-7", "driver-8",
    "driver-9",
];

/// The next text frame the server sends, as sent (control frames skipped); panics after 5 s.
pub async fn next_text(client: &mut Client) -> String {
    use futures_util::StreamExt;
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), client.next())
            .await
            .expect("server answered within 5 s")
            .expect("connection still open")
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(text) = frame {
            return text.to_string();
        }
    }
}

/// A test driver's token.
pub fn token_of(driver_id: &str) -> String {
    format!("{driver_id}-test-token")
}

/// Registers the test drivers in `state`'s store.
pub fn register_test_drivers(state: &AppState) {
    for driver_id in TEST_DRIVERS {
        state.store.set_driver_token(driver_id, &token_of(driver_id), 0).unwrap();
    }
}

/// A server state with the test drivers registered, on a store of its own: SQLite in memory,
/// or, when `ENROUTE_TEST_POSTGRES_URL` names a database (scripts/test starts a throwaway
/// cluster and runs these tests again with it), a fresh schema of that PostgreSQL database,
/// linked as a node (`link_nodes`) the way the server links itself.
pub fn test_state() -> AppState {
    let state = match std::env::var("ENROUTE_TEST_POSTGRES_URL") {
        Ok(url) => {
            // A node as `--db postgres://…` runs it: linked to any others on the database.
            let url = fresh_postgres_schema(&url);
            let state = AppState::new(enroute_mock_server::postgres_store::PgStore::open(&url).unwrap());
            enroute_mock_server::link_nodes(&state, &url, enroute_mock_server::postgres_fanout::SWEEP_EVERY)
                .unwrap();
            state
        }
        Err(_) => AppState::new(SqliteStore::in_memory()),
    };
    register_test_drivers(&state);
    state
}

/// Whether the tests run against PostgreSQL (`ENROUTE_TEST_POSTGRES_URL`).
pub fn on_postgres() -> bool {
    std::env::var_os("ENROUTE_TEST_POSTGRES_URL").is_some()
}

/// A new, empty schema in the database at `url`; the URL of a connection that uses it.
pub fn fresh_postgres_schema(url: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let schema =
        format!("test_{}_{}", std::process::id(), COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    // PostgreSQL's client runs a runtime of its own: not inside the test's.
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
                client.batch_execute(&format!("CREATE SCHEMA {schema}")).unwrap();
            })
            .join()
            .unwrap()
    });
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}
