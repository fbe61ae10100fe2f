//! `enroute-replay load`: the project's load generator. N simulated drivers, each on its own
//! WebSocket, sign in and send one location record every interval (steady mode), or all
//! reconnect at once with a backlog of records (`--backlog`, the reconnect storm). It measures
//! the ack latency of every record (send of its frame to the first cumulative `ack` covering
//! it), failures by cause, and optionally the server's CPU and memory and the effect of
//! `/metrics` scrapes.
//!
//! Load goes to loopback servers only (127.0.0.0/8, ::1, `localhost`). Runs are repeatable: a
//! fixed seed drives a small built-in PRNG for phases, positions and record ids.
//!
//! This module validates options, registers the drivers, runs them ([`crate::load_driver`]),
//! watches the server (`/proc` samples, `/metrics` scrapes) and assembles the
//! [`LoadReport`]. Messages come from `enroute-protocol` through [`crate::load_peer`] (never
//! hand-written JSON); it must not depend on `enroute-core`.

use crate::latency::LatencySummary;
use crate::load_driver::{Progress, Sample, Shared, Timeline, run_driver};
use crate::load_peer::Peer;
use crate::load_report::{BacklogSummary, LoadReport, ScrapeSummary, ServerProcess};
use crate::process_stats::{self, Process};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// After the measurement window, how long drivers wait for their last acks.
pub const DRAIN: Duration = Duration::from_secs(30);
/// Most TCP connects (and WebSocket handshakes) in flight at once.
pub const MAX_CONNECTS_IN_FLIGHT: usize = 512;
/// Most drivers registered through the dispatcher API at once.
pub const REGISTRATION_CONCURRENCY: usize = 16;
/// Most records one backlog frame holds.
pub const MAX_BACKLOG: usize = 500;

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// `ws://HOST:PORT/PATH` of a loopback server (for Socket.IO only host and port count).
    pub server: String,
    pub peer: Peer,
    pub drivers: usize,
    /// Driver ids are this prefix and a number.
    pub prefix: String,
    pub interval_s: f64,
    /// The measurement window, after the ramp.
    pub duration_s: f64,
    /// Connections are spread evenly over this time (default: the interval).
    pub ramp_s: Option<f64>,
    pub seed: u64,
    /// Registers the drivers through `POST /api/drivers`.
    pub dispatcher_token: String,
    /// Reconnect storm: every driver connects at once and sends this many records in one frame.
    pub backlog: Option<usize>,
    /// Outgoing sockets are bound to this many loopback addresses (127.0.0.1, .2, …).
    pub source_ips: usize,
    /// The server's process, sampled for CPU and RSS.
    pub server_pid: Option<u32>,
    /// `http://HOST:PORT/metrics` to scrape during the window.
    pub scrape: Option<String>,
    pub scrape_every_s: f64,
    /// Progress lines on stderr every 5 s.
    pub progress: bool,
}

impl LoadOptions {
    /// The defaults of the command line, against `server`.
    pub fn new(server: &str, dispatcher_token: &str) -> LoadOptions {
        LoadOptions {
            server: server.to_string(),
            peer: Peer::Enroute,
            drivers: 100,
            prefix: "load-".into(),
            interval_s: 5.0,
            duration_s: 60.0,
            ramp_s: None,
            seed: 1,
            dispatcher_token: dispatcher_token.to_string(),
            backlog: None,
            source_ips: 1,
            server_pid: None,
            scrape: None,
            scrape_every_s: 5.0,
            progress: false,
        }
    }
}

/// Why a run could not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// The URL cannot be used (scheme, form, port).
    BadUrl { url: String, reason: String },
    /// The server is not a loopback address: load goes to loopback only.
    NotLoopback { url: String, host: String },
    /// An option is out of range.
    BadOption(String),
    /// Registering the drivers through the dispatcher API failed.
    Registration(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::BadUrl { url, reason } => write!(formatter, "cannot use {url:?}: {reason}"),
            LoadError::NotLoopback { url, host } => write!(
                formatter,
                "refusing {url:?}: {host} is not a loopback address (127.0.0.0/8, ::1, localhost); load goes to loopback only"
            ),
            LoadError::BadOption(reason) => write!(formatter, "{reason}"),
            LoadError::Registration(reason) => write!(formatter, "registering drivers: {reason}"),
        }
    }
}

impl std::error::Error for LoadError {}

/// A loopback server address taken from a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub addr: SocketAddr,
    /// `host:port` as written in the URL (for `Host` headers).
    pub authority: String,
    /// Path and query, `/` when the URL has none.
    pub path: String,
}

/// Parses `url` with `scheme` (`ws` or `http`) and refuses any host that is not loopback.
pub fn loopback_target(url: &str, scheme: &str) -> Result<Target, LoadError> {
    let bad = |reason: &str| LoadError::BadUrl { url: url.to_string(), reason: reason.to_string() };
    let (given_scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
    if !given_scheme.eq_ignore_ascii_case(scheme) {
        return Err(bad(&format!("expected a {scheme}:// URL (no TLS: the load goes to loopback)")));
    }
    let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let path = if path.is_empty() { "/".to_string() } else { path.to_string() };
    if authority.contains('@') {
        return Err(bad("credentials in the URL are not supported"));
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or_else(|| bad("unclosed ["))?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':').ok_or_else(|| bad("junk after ]"))?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => return Err(bad("IPv6 addresses need brackets")),
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = match port {
        Some(port) => port.parse::<u16>().map_err(|_| bad("bad port"))?,
        None => 80,
    };
    let ip = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        match host.parse::<IpAddr>() {
            Ok(ip) if ip.is_loopback() => ip,
            _ => return Err(LoadError::NotLoopback { url: url.to_string(), host: host.to_string() }),
        }
    };
    Ok(Target { addr: SocketAddr::new(ip, port), authority: authority.to_string(), path })
}

/// Validates the options, registers the drivers, runs the load and reports. The report says
/// what failed; only options, URLs and registration are errors.
pub async fn run(options: LoadOptions) -> Result<LoadReport, LoadError> {
    let target = loopback_target(&options.server, "ws")?;
    let scrape = match &options.scrape {
        Some(url) => Some(loopback_target(url, "http")?),
        None => None,
    };
    let bad = |reason: String| Err(LoadError::BadOption(reason));
    let positive = |value: f64| value.is_finite() && value > 0.0;
    if options.drivers == 0 {
        return bad("--drivers must be at least 1".into());
    }
    if !positive(options.interval_s) {
        return bad(format!("--interval-s must be a positive number of seconds, got {}", options.interval_s));
    }
    if !(options.duration_s.is_finite() && (0.0..=7.0 * 86_400.0).contains(&options.duration_s)) {
        return bad(format!("--duration-s must be 0 to a week, got {}", options.duration_s));
    }
    let ramp_s = if options.backlog.is_some() { 0.0 } else { options.ramp_s.unwrap_or(options.interval_s) };
    if !(ramp_s.is_finite() && (0.0..=86_400.0).contains(&ramp_s)) {
        return bad(format!("--ramp-s must be 0 to a day, got {ramp_s}"));
    }
    if let Some(backlog) = options.backlog
        && !(1..=MAX_BACKLOG).contains(&backlog)
    {
        return bad(format!("--backlog must be 1 to {MAX_BACKLOG}, got {backlog}"));
    }
    if options.scrape.is_some() && !positive(options.scrape_every_s) {
        return bad(format!("--scrape-every-s must be positive, got {}", options.scrape_every_s));
    }
    if !(1..=254 * 256 * 4).contains(&options.source_ips) {
        return bad(format!("--source-ips must be 1 to {}, got {}", 254 * 256 * 4, options.source_ips));
    }
    if options.source_ips > 1 && target.addr.is_ipv6() {
        return bad("--source-ips needs an IPv4 server address".into());
    }

    if let Err(problem) = process_stats::raise_open_files_limit()
        && options.progress
    {
        eprintln!("load: cannot raise the open-files limit: {problem}");
    }

    let registration_started = Instant::now();
    let ids = crate::drive::driver_ids(&options.prefix, options.drivers);
    let tokens = register(&target, &options.dispatcher_token, &ids).await?;
    let registration_s = registration_started.elapsed().as_secs_f64();

    let start = Instant::now();
    let ramp = Duration::from_secs_f64(ramp_s);
    let window_start = start + ramp;
    let window_end = window_start + Duration::from_secs_f64(options.duration_s);
    let timeline = Timeline { start, ramp, window_start, window_end, deadline: window_end + DRAIN };
    let shared = Arc::new(Shared {
        peer: options.peer,
        addr: target.addr,
        url: format!("ws://{}{}", target.authority, options.peer.socket_path(&target.path)),
        drivers: options.drivers,
        interval: Duration::from_secs_f64(options.interval_s),
        backlog: options.backlog,
        seed: options.seed,
        source_ips: options.source_ips,
        timeline,
        connect_slots: Semaphore::new(MAX_CONNECTS_IN_FLIGHT),
        progress: Progress::default(),
    });

    let samples = Arc::new(Mutex::new(Vec::new()));
    let sampler = tokio::spawn(sample_processes(options.server_pid, start, samples.clone()));
    let scrapes = Arc::new(Mutex::new(Vec::new()));
    let scraper = scrape.map(|scrape| {
        let every = Duration::from_secs_f64(options.scrape_every_s);
        tokio::spawn(scrape_metrics(
            scrape,
            options.dispatcher_token.clone(),
            every,
            timeline,
            scrapes.clone(),
        ))
    });
    let progress = options.progress.then(|| tokio::spawn(print_progress(shared.clone())));

    let tasks: Vec<_> = ids
        .into_iter()
        .zip(tokens)
        .enumerate()
        .map(|(index, (driver_id, token))| tokio::spawn(run_driver(shared.clone(), index, driver_id, token)))
        .collect();
    let mut outcomes = Vec::with_capacity(tasks.len());
    let mut lost_tasks = 0u64;
    // Drivers end by themselves at the deadline; this only guards against a stuck task.
    let guard = timeline.deadline + Duration::from_secs(5);
    for task in tasks {
        let abort = task.abort_handle();
        match tokio::time::timeout_at(guard, task).await {
            Ok(Ok(outcome)) => outcomes.push(outcome),
            Ok(Err(_)) => lost_tasks += 1,
            Err(_) => {
                abort.abort();
                lost_tasks += 1;
            }
        }
    }
    let ended = Instant::now();
    sampler.abort();
    if let Some(scraper) = scraper {
        scraper.abort();
    }
    if let Some(progress) = progress {
        progress.abort();
    }
    let final_sample = ProcSample::take(options.server_pid, start);
    let mut process_samples =
        std::mem::take(&mut *samples.lock().unwrap_or_else(|poison| poison.into_inner()));
    process_samples.push(final_sample);
    let scrapes = std::mem::take(&mut *scrapes.lock().unwrap_or_else(|poison| poison.into_inner()));

    let mut report = LoadReport {
        peer: options.peer.as_str().to_string(),
        server: options.server.clone(),
        mode: if options.backlog.is_some() { "backlog" } else { "steady" }.to_string(),
        seed: options.seed,
        interval_s: options.interval_s,
        ramp_s,
        duration_s: options.duration_s,
        drivers_asked: options.drivers,
        registration_s,
        wall_time_s: timeline.seconds(ended),
        ..LoadReport::default()
    };
    if lost_tasks > 0 {
        report.connect_failures.insert("driver task lost".into(), lost_tasks);
    }
    let mut all_samples = Vec::new();
    let mut drained_at: Option<Instant> = None;
    let mut drivers_drained = 0;
    for outcome in outcomes {
        if let Some(cause) = outcome.connect_failure {
            *report.connect_failures.entry(cause).or_default() += 1;
            continue;
        }
        report.drivers_connected += 1;
        if let Some(cause) = outcome.disconnect {
            *report.disconnects.entry(cause).or_default() += 1;
        }
        report.drivers_cut_off += u64::from(outcome.cut_off);
        report.records_sent += outcome.sent;
        report.records_acked += outcome.acked;
        report.records_rejected += outcome.rejected;
        report.records_unacked += outcome.unacked;
        report.measured_records += outcome.measured;
        report.events_received += outcome.events;
        for (code, count) in outcome.errors {
            *report.errors_by_code.entry(code).or_default() += count;
        }
        all_samples.extend(outcome.samples);
        if let Some(at) = outcome.drained_at {
            drivers_drained += 1;
            drained_at = drained_at.max(Some(at));
        }
    }

    // The measurement window as it really was.
    let (window_from, window_to) = match options.backlog {
        Some(_) => (start, drained_at.unwrap_or(ended)),
        None => (window_start, window_end.min(ended)),
    };
    let window_s = window_to.saturating_duration_since(window_from).as_secs_f64();
    report.send_rate_per_s = if window_s > 0.0 { report.measured_records as f64 / window_s } else { 0.0 };
    if let Some(records_per_driver) = options.backlog {
        report.backlog = Some(BacklogSummary {
            records_per_driver,
            drivers_drained,
            all_drained_after_s: (drivers_drained == options.drivers as u64)
                .then(|| drained_at.map(|at| timeline.seconds(at)))
                .flatten(),
        });
    }

    if options.scrape.is_some() {
        let (during, without) = split_by_scrapes(&all_samples, &scrapes);
        report.latency_during_scrape = Some(LatencySummary::of_micros(during));
        report.latency_without_scrape = Some(LatencySummary::of_micros(without));
        let durations: Vec<f64> =
            scrapes.iter().map(|scrape| (scrape.end_us - scrape.start_us) as f64 / 1000.0).collect();
        report.scrapes = Some(ScrapeSummary {
            count: scrapes.len() as u64,
            failed: scrapes.iter().filter(|scrape| !scrape.ok).count() as u64,
            mean_ms: if durations.is_empty() {
                0.0
            } else {
                durations.iter().sum::<f64>() / durations.len() as f64
            },
            max_ms: durations.iter().copied().fold(0.0, f64::max),
        });
    }
    report.latency =
        LatencySummary::of_micros(all_samples.into_iter().map(|sample| sample.latency_us).collect());

    let from_s = timeline.seconds(window_from);
    let to_s = timeline.seconds(window_to);
    let ticks = process_stats::clock_ticks_per_second() as f64;
    report.generator_cpu_percent =
        cpu_percent(&process_samples, from_s, to_s, ticks, |sample| sample.own_ticks);
    if let Some(pid) = options.server_pid {
        let rss: Vec<u64> = process_samples.iter().filter_map(|sample| sample.server_rss_kib).collect();
        report.server_process = Some(ServerProcess {
            pid,
            cpu_percent: cpu_percent(&process_samples, from_s, to_s, ticks, |sample| sample.server_ticks),
            rss_max_kib: rss.iter().copied().max(),
            rss_end_kib: process_samples.last().and_then(|sample| sample.server_rss_kib),
            problem: process_samples.iter().rev().find_map(|sample| sample.server_problem.clone()),
        });
    }
    Ok(report)
}

/// Registers (or re-tokens) the drivers, [`REGISTRATION_CONCURRENCY`] requests at a time.
async fn register(target: &Target, dispatcher_token: &str, ids: &[String]) -> Result<Vec<String>, LoadError> {
    // `register_drivers` takes the host from a server URL.
    let server = format!("ws://{}/", target.addr);
    let chunk = ids.len().div_ceil(REGISTRATION_CONCURRENCY).max(1);
    let tasks: Vec<_> = ids
        .chunks(chunk)
        .map(|chunk| {
            let (server, token, chunk) = (server.clone(), dispatcher_token.to_string(), chunk.to_vec());
            tokio::spawn(async move { crate::drive::register_drivers(&server, &token, &chunk).await })
        })
        .collect();
    let mut tokens = Vec::with_capacity(ids.len());
    for task in tasks {
        let chunk = task.await.map_err(|error| LoadError::Registration(error.to_string()))?;
        tokens.extend(chunk.map_err(LoadError::Registration)?);
    }
    Ok(tokens)
}

async fn print_progress(shared: Arc<Shared>) {
    let mut ticker = tokio::time::interval(Duration::from_secs(5));
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let progress = &shared.progress;
        eprintln!(
            "load: {:>6.1} s  connected {}/{}  sent {}  acked {}",
            shared.timeline.seconds(Instant::now()),
            progress.connected.load(Ordering::Relaxed),
            shared.drivers,
            progress.sent.load(Ordering::Relaxed),
            progress.acked.load(Ordering::Relaxed),
        );
    }
}

/// One reading of the processes' counters.
#[derive(Debug, Clone, Default)]
struct ProcSample {
    /// Seconds since the start.
    at_s: f64,
    server_ticks: Option<u64>,
    server_rss_kib: Option<u64>,
    server_problem: Option<String>,
    own_ticks: Option<u64>,
}

impl ProcSample {
    fn take(server_pid: Option<u32>, start: Instant) -> ProcSample {
        let mut sample = ProcSample {
            at_s: start.elapsed().as_secs_f64(),
            own_ticks: process_stats::cpu_ticks(Process::Current).ok(),
            ..ProcSample::default()
        };
        if let Some(pid) = server_pid {
            let process = Process::Pid(pid);
            match (process_stats::cpu_ticks(process), process_stats::rss_kib(process)) {
                (Ok(ticks), Ok(rss)) => {
                    sample.server_ticks = Some(ticks);
                    sample.server_rss_kib = Some(rss);
                }
                (Err(error), _) | (_, Err(error)) => sample.server_problem = Some(error.to_string()),
            }
        }
        sample
    }
}

async fn sample_processes(server_pid: Option<u32>, start: Instant, samples: Arc<Mutex<Vec<ProcSample>>>) {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let sample = ProcSample::take(server_pid, start);
        samples.lock().unwrap_or_else(|poison| poison.into_inner()).push(sample);
    }
}

/// Average CPU % between the samples nearest to `from_s` and `to_s`.
fn cpu_percent(
    samples: &[ProcSample],
    from_s: f64,
    to_s: f64,
    ticks_per_second: f64,
    ticks: impl Fn(&ProcSample) -> Option<u64>,
) -> Option<f64> {
    let usable: Vec<(f64, u64)> =
        samples.iter().filter_map(|sample| Some((sample.at_s, ticks(sample)?))).collect();
    let nearest =
        |at: f64| usable.iter().copied().min_by(|a, b| (a.0 - at).abs().total_cmp(&(b.0 - at).abs()));
    let (first, last) = (nearest(from_s)?, nearest(to_s)?);
    let seconds = last.0 - first.0;
    (seconds > 0.5).then(|| last.1.saturating_sub(first.1) as f64 / ticks_per_second / seconds * 100.0)
}

/// One `/metrics` request.
#[derive(Debug, Clone, Copy)]
struct Scrape {
    start_us: u64,
    end_us: u64,
    ok: bool,
}

async fn scrape_metrics(
    target: Target,
    bearer: String,
    every: Duration,
    timeline: Timeline,
    scrapes: Arc<Mutex<Vec<Scrape>>>,
) {
    let mut at = timeline.window_start;
    while at < timeline.window_end {
        tokio::time::sleep_until(at).await;
        let started = Instant::now();
        let result = tokio::time::timeout(
            Duration::from_secs(10),
            http_get(target.addr, &target.authority, &target.path, &bearer),
        )
        .await;
        let ended = Instant::now();
        let micros = |at: Instant| at.saturating_duration_since(timeline.start).as_micros() as u64;
        let ok = matches!(result, Ok(Ok(200)));
        scrapes.lock().unwrap_or_else(|poison| poison.into_inner()).push(Scrape {
            start_us: micros(started),
            end_us: micros(ended),
            ok,
        });
        at += every;
        while at < ended {
            at += every;
        }
    }
}

/// A minimal HTTP/1.1 GET; the status, with the whole answer read and dropped.
async fn http_get(addr: SocketAddr, host: &str, path: &str, bearer: &str) -> Result<u16, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.map_err(|error| error.to_string())?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {bearer}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.map_err(|error| error.to_string())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.map_err(|error| error.to_string())?;
    let head = String::from_utf8_lossy(&response[..response.len().min(64)]).into_owned();
    head.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| "no HTTP status".to_string())
}

/// The latencies of records whose round trip overlapped a scrape, and of the others.
fn split_by_scrapes(samples: &[Sample], scrapes: &[Scrape]) -> (Vec<u32>, Vec<u32>) {
    // One scraper, one request at a time: the scrapes are sorted and do not overlap.
    let (mut during, mut without) = (Vec::new(), Vec::new());
    for sample in samples {
        let sent = u64::from(sample.sent_ms) * 1000;
        let acked = sent + u64::from(sample.latency_us) + 1000; // sent_ms is rounded down
        let next = scrapes.partition_point(|scrape| scrape.end_us <= sent);
        let overlaps = scrapes.get(next).is_some_and(|scrape| scrape.start_us < acked);
        if overlaps { &mut during } else { &mut without }.push(sample.latency_us);
    }
    (during, without)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_servers_are_accepted() {
        let target = loopback_target("ws://127.0.0.1:8080/ws", "ws").unwrap();
        assert_eq!(target.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(target.path, "/ws");
        assert_eq!(loopback_target("ws://127.3.2.1/ws", "ws").unwrap().addr, "127.3.2.1:80".parse().unwrap());
        assert_eq!(loopback_target("ws://[::1]:9/x?y", "ws").unwrap().addr, "[::1]:9".parse().unwrap());
        assert_eq!(loopback_target("ws://LocalHost:7", "ws").unwrap().path, "/");
        assert_eq!(loopback_target("http://localhost:7/metrics", "http").unwrap().path, "/metrics");
        for refused in
            ["ws://10.0.0.1/ws", "ws://example.com/ws", "ws://[::2]:1/", "ws://0.0.0.0:1/", "ws://128.0.0.1/"]
        {
            assert!(
                matches!(loopback_target(refused, "ws"), Err(LoadError::NotLoopback { .. })),
                "{refused}"
            );
        }
        for bad in [
            "127.0.0.1:80",
            "wss://127.0.0.1/",
            "ws://127.0.0.1:x/",
            "ws://::1/",
            "ws://a@127.0.0.1/",
            "ws:///",
        ] {
            assert!(matches!(loopback_target(bad, "ws"), Err(LoadError::BadUrl { .. })), "{bad}");
        }
    }

    #[test]
    fn acks_overlapping_a_scrape_are_told_apart_from_the_others() {
        let scrapes = [Scrape { start_us: 10_000, end_us: 20_000, ok: true }];
        let samples = [
            Sample { sent_ms: 0, latency_us: 2_000 },  // before
            Sample { sent_ms: 9, latency_us: 5_000 },  // into it
            Sample { sent_ms: 15, latency_us: 1_000 }, // inside
            Sample { sent_ms: 30, latency_us: 1_000 }, // after
        ];
        let (during, without) = split_by_scrapes(&samples, &scrapes);
        assert_eq!(during, vec![5_000, 1_000]);
        assert_eq!(without, vec![2_000, 1_000]);
    }

    #[test]
    fn cpu_is_averaged_between_the_samples_nearest_the_window() {
        let sample =
            |at_s: f64, ticks: u64| ProcSample { at_s, own_ticks: Some(ticks), ..ProcSample::default() };
        let samples = [sample(0.0, 0), sample(1.0, 10), sample(2.0, 60), sample(3.0, 110)];
        assert_eq!(cpu_percent(&samples, 1.0, 3.0, 100.0, |sample| sample.own_ticks), Some(50.0));
        assert_eq!(cpu_percent(&samples[..1], 0.0, 3.0, 100.0, |sample| sample.own_ticks), None);
    }
}
