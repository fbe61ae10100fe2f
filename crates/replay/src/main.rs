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
    use enroute_replay::{csv_trace, drive, read_trace, wire_report};
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
        /// Count the bytes one driver costs on the wire per hour of driving: one simulated driver
        /// per trace (the app's engine and throttle) against the server, every WebSocket frame
        /// counted each way, beside one Socket.IO event per fix; writes a Markdown table.
        Wire {
            traces: Vec<PathBuf>,
            /// WebSocket URL of the server.
            #[arg(long, default_value = "ws://127.0.0.1:8080/ws")]
            server: String,
            /// Playback speed; the engine's timers (pings, backoff) run in trace time too.
            #[arg(long, default_value_t = 20.0)]
            speed: f64,
            /// The server's dispatcher token (drivers `wire-1`, `wire-2`, … are registered).
            #[arg(long, env = "ENROUTE_DISPATCHER_TOKEN")]
            dispatcher_token: String,
            #[command(flatten)]
            policy: PolicyArgs,
            /// Also write the figures as JSON to this file.
            #[arg(long)]
            json: Option<PathBuf>,
            /// The newest protocol version the driver offers: 2 (compact, what the app offers)
            /// or 1 (every frame an object). Repeatable; default both, one drive each.
            #[arg(long, default_values_t = [1, enroute_protocol::MAX_PROTOCOL_VERSION])]
            protocol: Vec<u32>,
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
                let options = drive::DriveOptions {
                    server,
                    drivers,
                    prefix,
                    speed,
                    policy: policy.policy()?,
                    tokens,
                    timers_in_trace_time: false,
                    max_protocol: enroute_protocol::MAX_PROTOCOL_VERSION,
                };
                let report =
                    runtime.block_on(drive::drive(options, fixes)).map_err(|error| error.to_string())?;
                println!("{report}");
                Ok(())
            }
            Command::Load(args) => load_command(args),
            Command::Wire { traces, server, speed, dispatcher_token, policy, json, protocol } => {
                if traces.is_empty() {
                    return Err("name at least one trace".into());
                }
                let runtime = tokio::runtime::Runtime::new().map_err(|error| error.to_string())?;
                let policy = policy.policy()?;
                let mut named = Vec::new();
                for path in &traces {
                    let name =
                        path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
                    named.push((name, load(path)?));
                }
                let runs: Vec<(u32, usize)> = protocol
                    .iter()
                    .flat_map(|version| (0..named.len()).map(move |index| (*version, index)))
                    .collect();
                let drives = runs.iter().map(|(version, index)| {
                    let prefix = format!("wire-v{version}-{}-", index + 1);
                    let server = server.clone();
                    let dispatcher_token = dispatcher_token.clone();
                    let fixes = named[*index].1.clone();
                    let max_protocol = *version;
                    async move {
                        let ids = drive::driver_ids(&prefix, 1);
                        let tokens = drive::register_drivers(&server, &dispatcher_token, &ids).await?;
                        let options = drive::DriveOptions {
                            server,
                            drivers: 1,
                            prefix,
                            speed,
                            policy,
                            tokens,
                            timers_in_trace_time: true,
                            max_protocol,
                        };
                        drive::drive(options, fixes).await.map_err(|error| error.to_string())
                    }
                });
                // Every drive at once: they are independent drivers, and the run takes the
                // longest trace's time, not the sum.
                let reports = runtime.block_on(futures_util::future::join_all(drives));
                let mut drives_by_trace = vec![Vec::new(); named.len()];
                for ((version, index), report) in runs.iter().zip(reports) {
                    let report = report?;
                    let name = &named[*index].0;
                    if !report.failures.is_empty() {
                        return Err(format!("{name}: {}", report.failures.join("; ")));
                    }
                    drives_by_trace[*index].push((*version, report));
                }
                let rows: Vec<wire_report::WireRow> = named
                    .iter()
                    .zip(drives_by_trace)
                    .map(|((name, fixes), drives)| wire_report::WireRow::new(name, fixes, drives))
                    .collect();
                print!("{}", wire_report::markdown(&rows));
                if let Some(path) = json {
                    std::fs::write(&path, wire_report::json(&rows))
                        .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
                }
                Ok(())
            }
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
