//! `enroute-replay`: run a throttle policy over a GPS trace, evaluate policies, drive simulated
//! drivers against a server, or load a server with many. `enroute-replay --help` for the commands.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    use clap::Parser;
    match cli::run(cli::Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("enroute-replay: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use enroute_core::{ThrottleMode, ThrottlePolicy};
    use enroute_replay::evaluate::{describe, replay};
    use enroute_replay::load::{LoadOptions, run as run_load};
    use enroute_replay::load_peer::Peer;
    use enroute_replay::report::{NamedTrace, throttle_report};
    use enroute_replay::{csv_trace, drive, read_trace};
    use std::path::PathBuf;

    #[derive(clap::Parser)]
    #[command(name = "enroute-replay", version, about = "Replays GPS traces through Enroute's throttle")]
    pub struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(clap::Subcommand)]
    enum Command {
        /// Run a policy over a trace: print the sent fixes (stdout) and a summary (stderr).
        Run {
            /// GPX 1.1, NMEA 0183 or CSV (`time,lat,lon,accuracy_m,speed_mps,heading_deg`).
            trace: PathBuf,
            #[command(flatten)]
            policy: PolicyArgs,
            /// Output format of the sent fixes.
            #[arg(long, value_enum, default_value = "csv")]
            format: Format,
        },
        /// Evaluate the default policy, the error-bounded mode at 10, 20 and 50 m, and the best
        /// Traccar-style settings on traces; write Markdown (docs/throttle.md).
        Evaluate {
            traces: Vec<PathBuf>,
            /// Where to write the report ("-" for stdout).
            #[arg(long, default_value = "docs/throttle.md")]
            output: PathBuf,
        },
        /// Drive simulated drivers through a trace against a server: real protocol, real acks.
        Drive {
            trace: PathBuf,
            /// WebSocket URL of the server.
            #[arg(long, default_value = "ws://127.0.0.1:8080/ws")]
            server: String,
            /// How many drivers, each on its own connection.
            #[arg(long, default_value_t = 1)]
            drivers: usize,
            /// Driver ids are this prefix followed by a number.
            #[arg(long, default_value = "sim-")]
            prefix: String,
            /// Playback speed: 10 replays ten seconds of trace per second.
            #[arg(long, default_value_t = 1.0)]
            speed: f64,
            /// The server's dispatcher token: the drivers are registered (or given new tokens)
            /// through its API before the drive, as the server only accepts registered drivers.
            #[arg(long, env = "ENROUTE_DISPATCHER_TOKEN")]
            dispatcher_token: String,
            #[command(flatten)]
            policy: PolicyArgs,
        },
        /// Load a loopback server: many drivers each sending a location every interval (or, with
        /// --backlog, all reconnecting at once); reports ack latency, failures, server CPU/RSS.
        /// Exits non-zero if a driver failed to connect or a record was not acknowledged.
        Load(LoadArgs),
    }

    #[derive(clap::Args)]
    struct LoadArgs {
        /// WebSocket URL of the server; loopback only (127.0.0.0/8, ::1, localhost). With
        /// `--peer socketio` only its host and port are used.
        #[arg(long, default_value = "ws://127.0.0.1:8080/ws")]
        server: String,
        /// The server's kind: the Enroute server, or a Socket.IO 4 server carrying Enroute messages.
        #[arg(long, value_enum, default_value = "enroute")]
        peer: PeerArg,
        /// How many drivers, each on its own connection.
        #[arg(long, default_value_t = 100)]
        drivers: usize,
        /// Driver ids are this prefix followed by a number.
        #[arg(long, default_value = "load-")]
        prefix: String,
        /// Each driver sends one location record this often (seconds).
        #[arg(long, default_value_t = 5.0)]
        interval_s: f64,
        /// Measurement window after the ramp (seconds). The run ends at most 30 s after it.
        #[arg(long, default_value_t = 60.0)]
        duration_s: f64,
        /// Connections are spread evenly over this time (seconds; default: the interval).
        #[arg(long)]
        ramp_s: Option<f64>,
        /// Seed of the phases, positions and record ids: the same seed gives the same run.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The server's dispatcher token: drivers are registered (or given new tokens) first.
        #[arg(long, env = "ENROUTE_DISPATCHER_TOKEN")]
        dispatcher_token: String,
        /// Reconnect storm: every driver connects at once and sends this many records (≤ 500)
        /// in one frame; reports how long until every backlog is acknowledged.
        #[arg(long)]
        backlog: Option<usize>,
        /// Bind outgoing sockets to this many loopback addresses (127.0.0.1, 127.0.0.2, …), as
        /// real drivers come from many addresses (and the server caps connections per address
        /// that have not signed in yet, which a storm from one address would hit).
        #[arg(long, default_value_t = 1)]
        source_ips: usize,
        /// The server's process id: its CPU and RSS are sampled from /proc once a second.
        #[arg(long)]
        server_pid: Option<u32>,
        /// The server's metrics URL (`http://127.0.0.1:PORT/metrics`), fetched every
        /// --scrape-every-s during the window; latency is reported with and without a scrape.
        #[arg(long)]
        scrape: Option<String>,
        /// Seconds between scrapes.
        #[arg(long, default_value_t = 5.0)]
        scrape_every_s: f64,
        /// Also write the report as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    }

    #[derive(Clone, Copy, clap::ValueEnum)]
    enum PeerArg {
        Enroute,
        Socketio,
    }

    #[derive(clap::Args)]
    struct PolicyArgs {
        /// `default`, `error-bounded=<metres>[,<live metres>]` or
        /// `traccar=<min interval s>,<distance m>,<heading °>`.
        #[arg(long, default_value = "default")]
        policy: String,
        /// Heartbeat interval in seconds (default: the default policy's).
        #[arg(long)]
        heartbeat: Option<f64>,
    }

    #[derive(Clone, Copy, clap::ValueEnum)]
    enum Format {
        Csv,
        Jsonl,
    }

    impl PolicyArgs {
        fn policy(&self) -> Result<ThrottlePolicy, String> {
            let mut policy = ThrottlePolicy::default();
            let (kind, value) = self.policy.split_once('=').unwrap_or((self.policy.as_str(), ""));
            let numbers = || -> Result<Vec<f64>, String> {
                value
                    .split(',')
                    .map(|part| {
                        part.trim().parse::<f64>().map_err(|_| format!("not a number in --policy: {part:?}"))
                    })
                    .collect()
            };
            match kind {
                "default" => {}
                "error-bounded" => match numbers()?.as_slice() {
                    [bound] => {
                        policy.mode = ThrottleMode::ErrorBounded { max_error_m: *bound, live_error_m: None }
                    }
                    [bound, live] => {
                        policy.mode =
                            ThrottleMode::ErrorBounded { max_error_m: *bound, live_error_m: Some(*live) }
                    }
                    _ => return Err("--policy error-bounded=<metres>[,<live metres>]".into()),
                },
                "traccar" => match numbers()?.as_slice() {
                    [interval, distance, heading] => {
                        policy.min_interval_s = *interval;
                        policy.mode = ThrottleMode::Traccar {
                            min_distance_m: *distance,
                            min_heading_change_deg: *heading,
                        };
                    }
                    _ => return Err("--policy traccar=<min interval s>,<distance m>,<heading °>".into()),
                },
                other => {
                    return Err(format!("unknown policy {other:?}: default, error-bounded=…, traccar=…"));
                }
            }
            if let Some(heartbeat) = self.heartbeat {
                policy.max_interval_s = heartbeat;
            }
            match policy.problem() {
                Some(problem) => Err(format!("bad policy: {problem}")),
                None => Ok(policy),
            }
        }
    }

    /// The fixes of a trace file; what the reader skipped is reported on stderr.
    fn load(path: &std::path::Path) -> Result<Vec<enroute_core::Fix>, String> {
        let trace = read_trace(path).map_err(|error| format!("{}: {error}", path.display()))?;
        if trace.skipped.total() > 0 {
            eprintln!("{}: {} fixes read, {}", path.display(), trace.fixes.len(), trace.skipped);
        }
        Ok(trace.fixes.iter().map(|fix| fix.to_fix()).collect())
    }

    pub fn run(cli: Cli) -> Result<(), String> {
        match cli.command {
            Command::Run { trace, policy, format } => {
                let policy = policy.policy()?;
                let fixes = load(&trace)?;
                let result = replay(&fixes, policy);
                match format {
                    Format::Csv => print!("{}", csv_trace::write_csv(&result.sent)),
                    Format::Jsonl => {
                        for fix in &result.sent {
                            println!("{}", serde_json::to_string(fix).map_err(|error| error.to_string())?);
                        }
                    }
                }
                let summary = &result.summary;
                eprintln!("policy: {}", describe(&policy));
                eprintln!("raw fixes: {}, sane: {}, sent: {}", summary.raw, summary.sane, summary.sent);
                for (reason, count) in &summary.dropped {
                    eprintln!("dropped {}: {count}", reason.as_str());
                }
                eprintln!("messages per hour: {:.1}", summary.messages_per_hour);
                eprintln!("max error: {:.2} m, p95 error: {:.2} m", summary.max_error_m, summary.p95_error_m);
                eprintln!(
                    "live position error: max {:.1} m, p95 {:.1} m",
                    summary.max_live_error_m, summary.p95_live_error_m
                );
                Ok(())
            }
            Command::Evaluate { traces, output } => {
                if traces.is_empty() {
                    return Err("name at least one trace".into());
                }
                let mut named = Vec::new();
                for path in &traces {
                    named.push(NamedTrace {
                        name: path
                            .file_name()
                            .map(|name| name.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                        fixes: load(path)?,
                    });
                }
                let command = format!(
                    "cargo run -p enroute-replay -- evaluate {}",
                    traces.iter().map(|path| path.display().to_string()).collect::<Vec<_>>().join(" ")
                );
                let report = throttle_report(&named, &command);
                if output.as_os_str() == "-" {
                    print!("{report}");
                } else {
                    std::fs::write(&output, report)
                        .map_err(|error| format!("cannot write {}: {error}", output.display()))?;
                    eprintln!("wrote {}", output.display());
                }
                Ok(())
            }
            Command::Drive { trace, server, drivers, prefix, speed, dispatcher_token, policy } => {
                let fixes = load(&trace)?;
                let runtime = tokio::runtime::Runtime::new().map_err(|error| error.to_string())?;
                let ids = drive::driver_ids(&prefix, drivers);
                let tokens = runtime.block_on(drive::register_drivers(&server, &dispatcher_token, &ids))?;
                let options =
                    drive::DriveOptions { server, drivers, prefix, speed, policy: policy.policy()?, tokens };
                let report =
                    runtime.block_on(drive::drive(options, fixes)).map_err(|error| error.to_string())?;
                println!("{report}");
                Ok(())
            }
            Command::Load(args) => load_command(args),
        }
    }

    fn load_command(args: LoadArgs) -> Result<(), String> {
        let options = LoadOptions {
            server: args.server,
            peer: match args.peer {
                PeerArg::Enroute => Peer::Enroute,
                PeerArg::Socketio => Peer::SocketIo,
            },
            drivers: args.drivers,
            prefix: args.prefix,
            interval_s: args.interval_s,
            duration_s: args.duration_s,
            ramp_s: args.ramp_s,
            seed: args.seed,
            dispatcher_token: args.dispatcher_token,
            backlog: args.backlog,
            source_ips: args.source_ips,
            server_pid: args.server_pid,
            scrape: args.scrape,
            scrape_every_s: args.scrape_every_s,
            progress: true,
        };
        let runtime = tokio::runtime::Runtime::new().map_err(|error| error.to_string())?;
        let report = runtime.block_on(run_load(options)).map_err(|error| error.to_string())?;
        // Drivers that were torn down may leave tasks behind; do not wait for them.
        runtime.shutdown_background();
        println!("{report}");
        if let Some(path) = &args.json {
            let json = serde_json::to_string_pretty(&report).map_err(|error| error.to_string())?;
            std::fs::write(path, json + "\n")
                .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        let problems = report.problems();
        if problems.is_empty() { Ok(()) } else { Err(format!("load run failed: {}", problems.join("; "))) }
    }
}
