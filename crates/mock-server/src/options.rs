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
    /// SQLite database file; created if missing. `:memory:` keeps everything in memory.
    #[arg(long, default_value = "enroute.db")]
    pub db: PathBuf,
    /// Token the dispatcher API and page require. Default: one generated on first start and
    /// kept in the database; printed at every start.
    #[arg(long, env = "ENROUTE_DISPATCHER_TOKEN")]
    pub dispatcher_token: Option<String>,
    /// A JSON file of jobs to offer on a timer (see `docs/mock-server.md`), for demos and tests.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
}
