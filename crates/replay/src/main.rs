//! `enroute-replay`: run a throttle policy over a GPS trace, evaluate policies, or drive simulated
//! drivers against a server. `enroute-replay --help` for the commands.

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
        }
    }
}
