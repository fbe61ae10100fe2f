use crate::limits::Limits;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Command-line options of `enroute-mock-server`.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "enroute-mock-server", version, about = "Enroute mock dispatch server")]
pub struct Options {
    /// Address to listen on. Use port 0 to let the system pick a free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Directory holding the built app (`trunk build` output) to serve.
    #[arg(long, default_value = "dist")]
    pub dist: PathBuf,
    /// SQLite database file (created if missing; `:memory:` keeps everything in memory), or a
    /// PostgreSQL URL, `postgres://user@host:port/database`.
    #[arg(long, default_value = "enroute.db")]
    pub db: PathBuf,
    /// For tests of crashes only: abort the process at `POINT` of the `N`th group commit of
    /// drivers' records, `POINT:N`, POINT `before-commit` or `after-commit` (committed, not yet
    /// answered). Hidden from `--help`.
    #[arg(long, hide = true, value_name = "POINT:N", value_parser = crate::crash_points::parse_crash_plan)]
    pub crash_at: Option<crate::crash_points::CrashPlan>,
    /// Token the dispatcher API and page require. Default: one generated on first start and
    /// kept in the database; printed at every start.
    #[arg(long, env = "ENROUTE_DISPATCHER_TOKEN")]
    pub dispatcher_token: Option<String>,
    /// A JSON file of jobs to offer on a timer (see `docs/mock-server.md`), for demos and tests.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Token of the demo driver `demo-driver`. Default: one generated on first start and kept
    /// in the database; printed at every start with a sign-in link for the app.
    #[arg(long, env = "ENROUTE_DEMO_TOKEN")]
    pub demo_token: Option<String>,
    /// Registers a driver with a fixed token, `ID:TOKEN` (repeatable), for tests and fixed
    /// fleets. Drivers are otherwise registered through `POST /api/drivers`.
    #[arg(long = "driver", value_name = "ID:TOKEN", value_parser = parse_driver)]
    pub drivers: Vec<(String, String)>,
    /// Most WebSocket connections open at once; more are refused with `server_full`.
    #[arg(long, default_value_t = Limits::default().max_connections)]
    pub max_connections: usize,
    /// Seconds without any frame before a connection is closed with `idle_timeout`.
    #[arg(long, default_value_t = Limits::default().idle_timeout.as_secs())]
    pub idle_timeout_secs: u64,
    /// Frames per second a connection may send on average (token bucket refill).
    #[arg(long, default_value_t = Limits::default().frames_per_second)]
    pub frames_per_second: f64,
    /// Frames a connection may send in one burst (token bucket capacity).
    #[arg(long, default_value_t = Limits::default().frame_burst)]
    pub frame_burst: f64,
    /// Seconds a new WebSocket connection has to send `hello`.
    #[arg(long, default_value_t = Limits::default().hello_timeout.as_secs())]
    pub hello_timeout_secs: u64,
    /// Connections from one IP address that have not signed in yet, at once.
    #[arg(long, default_value_t = Limits::default().max_unsigned_per_address)]
    pub max_unsigned_per_address: usize,
    /// Map tiles for the dispatch console, as an `{z}/{x}/{y}` URL template (an `https://` or
    /// `http://` URL). Without it the console draws a plain coordinate grid (works offline).
    #[arg(long, value_name = "URL_TEMPLATE")]
    pub tiles: Option<String>,
    /// The attribution the tile server requires, shown on the console's map.
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub tiles_attribution: String,
    /// Another dispatch server the app this server serves may connect to, as
    /// `wss://host[:port]` (repeatable): the driver's "Server address" setting can then name
    /// it. Without it the app's Content Security Policy allows only this server.
    #[arg(long = "connect-origin", value_name = "ORIGIN", value_parser = crate::static_files::parse_connect_origin)]
    pub connect_origins: Vec<Vec<String>>,
}

impl Options {
    /// The console's tile server, if `--tiles` names one.
    pub fn tiles(&self) -> Option<crate::router::TileSource> {
        self.tiles.as_ref().map(|url_template| crate::router::TileSource {
            url_template: url_template.clone(),
            attribution: self.tiles_attribution.clone(),
        })
    }

    /// The limits these options ask for.
    pub fn limits(&self) -> Limits {
        Limits {
            max_connections: self.max_connections,
            idle_timeout: std::time::Duration::from_secs(self.idle_timeout_secs),
            frames_per_second: self.frames_per_second,
            frame_burst: self.frame_burst,
            hello_timeout: std::time::Duration::from_secs(self.hello_timeout_secs),
            max_unsigned_per_address: self.max_unsigned_per_address,
            ..Limits::default()
        }
    }
}

fn parse_driver(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((driver_id, token))
            if crate::driver_registry::is_valid_driver_id(driver_id) && token.len() >= 16 =>
        {
            Ok((driver_id.to_string(), token.to_string()))
        }
        _ => Err("expected ID:TOKEN, with a plain driver id and a token of at least 16 characters".into()),
    }
}
