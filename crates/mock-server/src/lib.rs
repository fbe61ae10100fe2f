//! The Enroute mock dispatch server: speaks protocol v1 over `GET /ws`, stores what drivers send,
//! and serves the built app from `dist/`.
//!
//! Everything about the wire format comes from `enroute-protocol`; this crate never writes or
//! parses JSON frames by hand. Protocol decisions for one connection live in [`session`], which
//! does no I/O, so they can be tested without sockets; [`socket`] drives a session over any
//! `Sink`/`Stream` pair, and [`router`] wires it to axum. [`store`] keeps everything in SQLite.
//!
//! The crate is native only; built for wasm32 it is empty.

#![cfg(not(target_arch = "wasm32"))]

pub mod assignment_store;
pub mod checkpointer;
pub mod commit_hint;
pub mod console_files;
pub mod crash_points;
pub mod dispatcher_api;
pub mod driver_registry;
pub mod feed;
pub mod feed_socket;
pub mod fleet_snapshot;
pub mod group_commit;
pub mod histogram;
pub mod http_server;
pub mod hub;
pub mod limits;
pub mod metrics;
pub mod node_messenger;
pub mod node_notice;
pub mod options;
pub mod position_coalescer;
pub mod postgres_fanout;
pub mod postgres_schema;
pub mod postgres_sql;
pub mod postgres_store;
pub mod rate_limit;
pub mod record_intake;
pub mod record_upload;
pub mod router;
pub mod scenario;
pub mod session;
pub mod shared_feed;
pub mod sign_ins;
pub mod socket;
pub mod sql;
pub mod sqlite_schema;
pub mod static_files;
pub mod store;
pub mod store_interface;
pub mod unsigned_connections;

pub use options::Options;
pub use router::{AppState, router};

use std::io::Write;

/// Binds the listener, prints the address it serves on, and serves until Ctrl-C or SIGTERM.
pub async fn run(options: Options) -> Result<(), ServerError> {
    raise_open_file_limit();
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|source| ServerError::Bind { addr: options.addr, source })?;
    let local_addr = listener.local_addr().map_err(ServerError::Serve)?;
    if let Some(plan) = options.crash_at {
        crash_points::arm(plan);
    }
    // The store's setup reads and writes the database: off the async threads (PostgreSQL's
    // client runs a runtime of its own).
    let (store, dispatcher_token, demo_token) = {
        let db = options.db.clone();
        let given_dispatcher_token = options.dispatcher_token.clone();
        let given_demo_token = options.demo_token.clone();
        let drivers = options.drivers.clone();
        tokio::task::spawn_blocking(move || -> Result<_, ServerError> {
            let store = open_store(&db).map_err(ServerError::Store)?;
            let dispatcher_token =
                dispatcher_token(&*store, given_dispatcher_token.as_deref()).map_err(ServerError::Store)?;
            let demo_token =
                demo_driver_token(&*store, given_demo_token.as_deref()).map_err(ServerError::Registry)?;
            for (driver_id, token) in &drivers {
                store
                    .set_driver_token(driver_id, token, socket::unix_time_ms())
                    .map_err(ServerError::Registry)?;
            }
            Ok((store, dispatcher_token, demo_token))
        })
        .await
        .map_err(|error| {
            ServerError::Store(store::StoreError::Writer(format!("the store's setup failed: {error}")))
        })??
    };
    let connect_origins: Vec<String> = options.connect_origins.iter().flatten().cloned().collect();
    let state = AppState::with_store(store, &dispatcher_token)
        .with_limits(options.limits())
        .with_connect_origins(&connect_origins)
        .with_tiles(options.tiles());
    if let Some(url) = options.db.to_str().filter(|text| is_postgres_url(text)) {
        let (state, url) = (state.clone(), url.to_string());
        tokio::task::spawn_blocking(move || link_nodes(&state, &url, postgres_fanout::SWEEP_EVERY))
            .await
            .map_err(|error| ServerError::Store(store::StoreError::Writer(error.to_string())))?
            .map_err(ServerError::Store)?;
    }
    tokio::spawn(expire_offers(state.clone()));
    if let Some(path) = &options.scenario {
        let scenario = scenario::Scenario::load(path).map_err(ServerError::Scenario)?;
        tokio::spawn(scenario::play(scenario, state.clone()));
    }
    let header_timeout = state.limits.http_header_timeout;
    let app = router(state, &options.dist);
    if !options.dist.join("index.html").exists() {
        tracing::warn!(dist = %options.dist.display(), "no built app here; only /ws and /health are useful");
    }
    // Scripts and tests read this line to learn the port (with `--addr 127.0.0.1:0`).
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "enroute mock server listening on http://{local_addr}");
    let _ = writeln!(stdout, "dispatcher page: http://{local_addr}/dispatch?token={dispatcher_token}");
    let _ = writeln!(stdout, "demo driver: {DEMO_DRIVER_ID}, token {demo_token}");
    let _ = writeln!(
        stdout,
        "sign the app in as the demo driver: http://{local_addr}/?driver_id={DEMO_DRIVER_ID}&token={demo_token}"
    );
    let _ = stdout.flush();
    tracing::info!(%local_addr, dist = %options.dist.display(), db = %describe_db(&options.db), "listening");
    http_server::serve(listener, app, header_timeout, shutdown_signal()).await.map_err(ServerError::Serve)
}

/// Links the node serving `state` to the others on its PostgreSQL database at `url`: it tells
/// them about its drivers' connections (`node_messenger`), and their events, feed changes and
/// sign-ins reach its drivers and consoles (`postgres_fanout`, looking without a hint every
/// `sweep_every`). Returns once it listens; its threads end when the last clone of `state` is
/// dropped. Does nothing for a store that no other process can share.
pub fn link_nodes(
    state: &AppState,
    url: &str,
    sweep_every: std::time::Duration,
) -> Result<(), store::StoreError> {
    let Some(node) = state.store.node_name() else { return Ok(()) };
    let messenger = node_messenger::start(state.store.clone())
        .map_err(|error| store::StoreError::Writer(format!("cannot start the node messenger: {error}")))?;
    state.sign_ins.tell_other_nodes_through(messenger);
    let fanout = postgres_fanout::Fanout::new(
        url.to_string(),
        node,
        state.hub.clone(),
        state.sign_ins.clone(),
        state.feed.clone(),
        sweep_every,
        std::sync::Arc::downgrade(&state.clones),
    );
    postgres_store::off_runtime(move || fanout.start())
}

/// The store `--db` names: a PostgreSQL URL (`postgres://…`, for several nodes on one database)
/// or a SQLite file.
pub fn open_store(db: &std::path::Path) -> Result<std::sync::Arc<dyn store::Store>, store::StoreError> {
    match db.to_str().filter(|text| is_postgres_url(text)) {
        Some(url) => Ok(std::sync::Arc::new(postgres_store::PgStore::open(url)?)),
        None => Ok(std::sync::Arc::new(store::SqliteStore::open(db)?)),
    }
}

fn is_postgres_url(text: &str) -> bool {
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

/// `--db` for the log: a file's path, or a URL without its password.
fn describe_db(db: &std::path::Path) -> String {
    match db.to_str().filter(|text| is_postgres_url(text)) {
        Some(url) => match (url.find("://"), url.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                format!("{}://…{}", &url[..scheme_end], &url[at..])
            }
            _ => url.to_string(),
        },
        None => db.display().to_string(),
    }
}

/// Each connection is a file descriptor: lets the process have as many as the system allows it
/// (the soft limit is often 1,024 or 20,000; the hard one higher).
fn raise_open_file_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            let wanted = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) == 0 {
                tracing::info!(from = limit.rlim_cur, to = limit.rlim_max, "raised the open file limit");
            }
        }
    }
}

/// The dispatcher token: the one given on the command line, or the one stored in the database,
/// or a new random one (stored, so it stays the same across restarts).
fn dispatcher_token(store: &dyn store::Store, given: Option<&str>) -> Result<String, store::StoreError> {
    if let Some(token) = given {
        return Ok(token.to_string());
    }
    if let Some(token) = store.setting("dispatcher_token")? {
        return Ok(token);
    }
    let token = random_token();
    store.set_setting("dispatcher_token", &token)?;
    Ok(token)
}

/// The driver every fresh server has, so the app can be tried at once.
pub const DEMO_DRIVER_ID: &str = "demo-driver";

/// The demo driver's token: the one given on the command line, or the one stored in the
/// database, or a new random one (stored). The driver is registered with it.
fn demo_driver_token(
    store: &dyn store::Store,
    given: Option<&str>,
) -> Result<String, driver_registry::RegistryError> {
    let token = match (given, store.setting("demo_driver_token")?) {
        (Some(token), _) => token.to_string(),
        (None, Some(token)) => token,
        (None, None) => random_token(),
    };
    store.set_setting("demo_driver_token", &token)?;
    store.set_driver_token(DEMO_DRIVER_ID, &token, socket::unix_time_ms())?;
    Ok(token)
}

/// 128 random bits as hex, from the operating system's generator.
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    // Tokens from a guessable source would let anyone sign in, so there is no fallback: a
    // machine without /dev/urandom cannot issue tokens (every first start issues some, so
    // such a machine fails at once, not later).
    std::fs::File::open("/dev/urandom")
        .and_then(|mut file| std::io::Read::read_exact(&mut file, &mut bytes))
        .expect("/dev/urandom must be readable to issue tokens");
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Expires offers whose accept deadline passed, once a second, and tells their drivers.
async fn expire_offers(state: AppState) {
    let mut interval = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        interval.tick().await;
        let store = state.store.clone();
        match tokio::task::spawn_blocking(move || store.expire_due(socket::unix_time_ms())).await {
            Ok(Ok(events)) => {
                for (driver_id, event) in events {
                    state.hub.publish(&driver_id, &event);
                }
            }
            Ok(Err(error)) => tracing::error!(%error, "cannot expire offers"),
            Err(_) => tracing::error!("expiring offers panicked"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

/// Why the server could not start or stopped with an error.
#[derive(Debug)]
pub enum ServerError {
    /// The listening address could not be bound (in use, not local, no permission).
    Bind { addr: std::net::SocketAddr, source: std::io::Error },
    /// Serving failed after the listener was bound.
    Serve(std::io::Error),
    /// The database could not be opened.
    Store(store::StoreError),
    /// The scenario file could not be read.
    Scenario(String),
    /// A driver given on the command line could not be registered.
    Registry(driver_registry::RegistryError),
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerError::Bind { addr, source } => write!(formatter, "cannot listen on {addr}: {source}"),
            ServerError::Serve(source) => write!(formatter, "server failed: {source}"),
            ServerError::Store(source) => write!(formatter, "{source}"),
            ServerError::Scenario(reason) => write!(formatter, "{reason}"),
            ServerError::Registry(source) => write!(formatter, "{source}"),
        }
    }
}

impl std::error::Error for ServerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServerError::Bind { source, .. } | ServerError::Serve(source) => Some(source),
            ServerError::Store(source) => Some(source),
            ServerError::Registry(source) => Some(source),
            ServerError::Scenario(_) => None,
        }
    }
}
