//! Three server processes on one PostgreSQL database, failing in every way the design must
//! survive, while simulated drivers (the load generator's failover drivers) spread over them
//! send records, get events and accept the jobs offered to them, a dispatcher sends messages and
//! jobs through any node, and a console follows the feed. Then a checker proves from the database and the logs:
//! - every driver's applied sequence numbers are 1..k without duplicates, k ≥ the highest ever
//!   acknowledged, and k is everything it made (its outbox drained);
//! - every device saw its event ids rise one by one, and saw every event committed for it;
//! - the console saw every job change committed, each as a delta while its connection lived,
//!   and shows every driver offline at the end; the shared feed is numbered 1..N and holds each
//!   job change once;
//! - each offer past its deadline expired once, and none is left open past it.
//!
//! The failures: SIGKILL; a node that aborts at its crash points (`--crash-at`, just before a
//! commit and just after one, before the ack); a node paused (SIGSTOP) and resumed; the nodes'
//! listening connections ended by the database (`pg_terminate_backend`); PostgreSQL itself
//! stopped at once (`pg_ctl stop -m immediate`) and started again.
//!
//! Runs with the PostgreSQL layer of `scripts/test` (`ENROUTE_TEST_POSTGRES_URL`, and
//! `ENROUTE_TEST_POSTGRES_DIR` for the restart); skipped on SQLite. Loopback only, bounded:
//! the drivers give up at [`RUN_LIMIT`].

mod support;

use enroute_protocol::{ConsoleMessage, FeedMessage, FeedPosition, Ping, Subscribe};
use enroute_replay::failover_driver::{DriverLog, FailoverDriver};
use futures_util::{SinkExt, StreamExt};
use std::collections::{BTreeSet, HashMap};
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

const NODES: usize = 3;
const DRIVERS: usize = 24;
/// Each driver records one location every 100 ms for 30 s.
const RECORDS_PER_DRIVER: u64 = 300;
const RECORD_INTERVAL: Duration = Duration::from_millis(100);
/// Everything ends by then, done or not (then the checker says what is missing).
const RUN_LIMIT: Duration = Duration::from_secs(150);
const DISPATCHER_TOKEN: &str = "chaos-dispatcher-token";

/// One server process, always on the same port.
struct Node {
    index: usize,
    port: u16,
    url: String,
    child: Option<Child>,
    logs: PathBuf,
}

impl Node {
    fn address(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Starts the process and waits until it serves; `crash_at` arms a crash point.
    fn start(&mut self, crash_at: Option<&str>) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_enroute-mock-server"));
        command
            .args(["--addr", &format!("127.0.0.1:{}", self.port)])
            .args(["--db", &self.url])
            .args(["--dist", "no-such-dist"])
            .args(["--dispatcher-token", DISPATCHER_TOKEN]);
        for driver in 0..DRIVERS {
            command.args(["--driver", &format!("chaos-{driver}:{}", token_of(driver))]);
        }
        if let Some(plan) = crash_at {
            command.args(["--crash-at", plan]);
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.logs.join(format!("node-{}.log", self.index)))
            .unwrap();
        let mut child = command.stdout(Stdio::piped()).stderr(log).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (ready, listening) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("listening on") {
                    let _ = ready.send(());
                }
            }
        });
        listening.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| {
            panic!("node {} serves within 30 s (its log: {})", self.index, self.logs.display())
        });
        self.child = Some(child);
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("a running node").id();
        let status = Command::new("kill").args([&format!("-{signal}"), &pid.to_string()]).status().unwrap();
        assert!(status.success(), "kill -{signal} {pid}");
    }

    /// Waits (up to `within`) for the process to end on its own; whether it did.
    fn ended_within(&mut self, within: Duration) -> bool {
        let until = std::time::Instant::now() + within;
        while std::time::Instant::now() < until {
            if let Some(child) = self.child.as_mut()
                && child.try_wait().unwrap().is_some()
            {
                self.child = None;
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // A paused node must be resumed to die promptly.
            let _ = Command::new("kill").args(["-CONT", &child.id().to_string()]).status();
        }
        self.kill();
    }
}

fn token_of(driver: usize) -> String {
    format!("chaos-driver-token-{driver}")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// What the console saw.
#[derive(Default)]
struct ConsoleLog {
    /// Every job change, (job id, status), from snapshots and deltas.
    job_changes: BTreeSet<(String, String)>,
    /// Each connection that got its snapshot (or resumed): from when to when (server clock,
    /// ms), and the job changes that came as deltas on it.
    connections: Vec<ConsoleConnection>,
    /// Drivers the console shows connected at the end.
    connected_at_end: BTreeSet<String>,
}

struct ConsoleConnection {
    from_ms: i64,
    until_ms: i64,
    deltas: BTreeSet<(String, String)>,
}

/// A console that follows the feed through any node: on a failure it connects to the next one,
/// asking to resume (a different node answers with a snapshot). Once `stop` is set it goes on
/// until it shows every driver offline, or 20 s more.
async fn follow_feed(nodes: Vec<SocketAddr>, stop: Arc<AtomicBool>) -> ConsoleLog {
    let mut log = ConsoleLog::default();
    let mut position: Option<FeedPosition> = None;
    let mut connected: BTreeSet<String> = BTreeSet::new();
    let mut next_node = 0;
    let mut stopping_since: Option<Instant> = None;
    let finished = |connected: &BTreeSet<String>, stopping_since: &mut Option<Instant>| {
        if !stop.load(Ordering::Relaxed) {
            return false;
        }
        let since = *stopping_since.get_or_insert_with(Instant::now);
        connected.is_empty() || since.elapsed() > Duration::from_secs(20)
    };
    while !finished(&connected, &mut stopping_since) {
        let address = nodes[next_node % nodes.len()];
        next_node += 1;
        let url = format!("ws://{address}/dispatch/ws?token={DISPATCHER_TOKEN}");
        let Ok(Ok((mut socket, _))) =
            tokio::time::timeout(Duration::from_secs(3), tokio_tungstenite::connect_async(url)).await
        else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let subscribe = ConsoleMessage::Subscribe(Subscribe { drivers: None, resume: position.clone() });
        if socket.send(Message::text(subscribe.encode())).await.is_err() {
            continue;
        }
        let mut heard = Instant::now();
        let mut nonce = 0;
        let mut this: Option<ConsoleConnection> = None;
        while !finished(&connected, &mut stopping_since) {
            let frame = tokio::select! {
                frame = socket.next() => frame,
                () = tokio::time::sleep(Duration::from_secs(1)) => {
                    if heard.elapsed() > Duration::from_secs(3) {
                        break; // silent: a paused node
                    }
                    nonce += 1;
                    let ping = ConsoleMessage::Ping(Ping { nonce }).encode();
                    if socket.send(Message::text(ping)).await.is_err() {
                        break;
                    }
                    continue;
                }
            };
            heard = Instant::now();
            let Some(Ok(Message::Text(text))) = frame else {
                if matches!(frame, Some(Ok(Message::Ping(_) | Message::Pong(_)))) {
                    continue;
                }
                break;
            };
            let now_ms = enroute_mock_server::socket::unix_time_ms();
            let deltas = match FeedMessage::decode(&text) {
                Ok(FeedMessage::Snapshot(snapshot)) => {
                    for job in &snapshot.jobs {
                        for entry in &job.history {
                            log.job_changes
                                .insert((job.assignment.id.clone(), format!("{:?}", entry.status)));
                        }
                    }
                    connected = snapshot
                        .drivers
                        .iter()
                        .filter(|driver| driver.connected)
                        .map(|driver| driver.driver_id.clone())
                        .collect();
                    position = Some(FeedPosition { feed_id: snapshot.feed_id, feed_seq: snapshot.feed_seq });
                    this = Some(ConsoleConnection {
                        from_ms: now_ms,
                        until_ms: now_ms,
                        deltas: BTreeSet::new(),
                    });
                    continue;
                }
                Ok(FeedMessage::Resumed(_)) => {
                    this = Some(ConsoleConnection {
                        from_ms: now_ms,
                        until_ms: now_ms,
                        deltas: BTreeSet::new(),
                    });
                    continue;
                }
                Ok(FeedMessage::Delta(delta)) => vec![delta],
                Ok(FeedMessage::Deltas(several)) => several.deltas,
                Ok(_) => continue,
                Err(error) => panic!("the console got an unreadable frame: {error}"),
            };
            for delta in deltas {
                match &delta.change {
                    enroute_protocol::FeedChange::Job { assignment, latest, .. } => {
                        let change = (assignment.id.clone(), format!("{:?}", latest.status));
                        log.job_changes.insert(change.clone());
                        if let Some(this) = this.as_mut() {
                            this.deltas.insert(change);
                        }
                    }
                    enroute_protocol::FeedChange::Connected { driver_id } => {
                        connected.insert(driver_id.clone());
                    }
                    enroute_protocol::FeedChange::Disconnected { driver_id } => {
                        connected.remove(driver_id);
                    }
                    _ => {}
                }
                if let Some(position) = position.as_mut() {
                    position.feed_seq = delta.feed_seq;
                }
            }
        }
        if let Some(mut this) = this {
            this.until_ms = enroute_mock_server::socket::unix_time_ms();
            log.connections.push(this);
        }
    }
    log.connected_at_end = connected;
    log
}

/// `POST path` with a JSON body to the node at `address`: the status, or `None` if there was no
/// answer (the node is down or paused).
async fn post(address: SocketAddr, path: &str, body: &str) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {DISPATCHER_TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        let text = String::from_utf8_lossy(&answer);
        text.split(' ').nth(1)?.parse().ok()
    };
    tokio::time::timeout(Duration::from_secs(3), exchange).await.ok().flatten()
}

/// A dispatcher that, until stopped, sends a message or offers a job (some with a deadline soon,
/// to expire) through the nodes in turn, a node that does not answer skipped.
async fn dispatch(nodes: Vec<SocketAddr>, stop: Arc<AtomicBool>) -> u64 {
    let mut answered = 0;
    let mut turn = 0usize;
    while !stop.load(Ordering::Relaxed) {
        turn += 1;
        // Messages and jobs go to every driver in turn, accepting or not (even or odd).
        let driver = format!("chaos-{}", (turn / 2) % DRIVERS);
        let now_ms = enroute_mock_server::socket::unix_time_ms();
        let (path, body) = if turn.is_multiple_of(2) {
            (format!("/api/drivers/{driver}/messages"), format!(r#"{{"text":"chaos message {turn}"}}"#))
        } else {
            let accept_by = if (turn / 4).is_multiple_of(2) {
                format!(r#","accept_by_ms":{}"#, now_ms + 1_500)
            } else {
                String::new()
            };
            (
                "/api/assignments".to_string(),
                format!(
                    r#"{{"id":"chaos-job-{turn}","driver_id":"{driver}","pickup":{{"address":"A","lat":48.1,"lon":11.5}},"dropoff":{{"address":"B","lat":48.2,"lon":11.6}},"window":{{"from_ms":{now_ms},"to_ms":{}}}{accept_by}}}"#,
                    now_ms + 3_600_000
                ),
            )
        };
        if let Some(status) = post(nodes[turn % nodes.len()], &path, &body).await {
            assert!(status < 500 || status == 503, "the dispatcher's request failed: {status} {path}");
            answered += 1;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    answered
}

/// Runs `command` of the test cluster script (`restart`: PostgreSQL stopped at once, started).
fn postgres_cluster(command: &str, dir: &str) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres-cluster");
    let status = Command::new(script).args([command, dir]).stdout(Stdio::null()).status().unwrap();
    assert!(status.success(), "scripts/postgres-cluster {command}");
}

fn blocking_query(
    url: &str,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> Vec<postgres::Row> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| postgres::Client::connect(url, postgres::NoTls).unwrap().query(sql, params).unwrap())
            .join()
            .unwrap()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_lose_nothing_and_make_nothing_up_whatever_fails() {
    let Ok(cluster) = std::env::var("ENROUTE_TEST_POSTGRES_URL") else {
        eprintln!("the chaos test needs PostgreSQL (ENROUTE_TEST_POSTGRES_URL): skipped on SQLite");
        return;
    };
    let cluster_dir = std::env::var("ENROUTE_TEST_POSTGRES_DIR").ok();
    let url = support::fresh_postgres_schema(&cluster);
    let logs = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("chaos-{}", std::process::id()));
    std::fs::create_dir_all(&logs).unwrap();
    let started = Instant::now();
    let deadline = started + RUN_LIMIT;

    let mut nodes: Vec<Node> = (0..NODES)
        .map(|index| Node { index, port: free_port(), url: url.clone(), child: None, logs: logs.clone() })
        .collect();
    // One after the other: the first applies the schema's migrations (the others could too, at
    // once: they wait on its advisory lock).
    for node in &mut nodes {
        node.start(None);
    }
    let addresses: Vec<SocketAddr> = nodes.iter().map(Node::address).collect();

    let stop = Arc::new(AtomicBool::new(false));
    let keep_listening = Arc::new(AtomicBool::new(true));
    let console_stop = Arc::new(AtomicBool::new(false));
    let console = tokio::spawn(follow_feed(addresses.clone(), console_stop.clone()));
    let dispatcher = tokio::spawn(dispatch(addresses.clone(), stop.clone()));
    let drivers: Vec<_> = (0..DRIVERS)
        .map(|driver| {
            tokio::spawn(
                FailoverDriver {
                    driver_id: format!("chaos-{driver}"),
                    token: token_of(driver),
                    nodes: addresses.clone(),
                    first_node: driver,
                    interval: RECORD_INTERVAL,
                    records: RECORDS_PER_DRIVER,
                    // Half accept their offers; the others' offers with a deadline expire.
                    accepts_offers: driver % 2 == 0,
                    deadline,
                    keep_listening: keep_listening.clone(),
                }
                .run(),
            )
        })
        .collect();

    // The failures, one after another, on a running fleet. Blocking steps run on their own
    // thread so the drivers keep driving.
    let chaos = tokio::task::spawn_blocking(move || {
        let pause = |seconds: f64| std::thread::sleep(Duration::from_secs_f64(seconds));
        let mut done: Vec<String> = Vec::new();
        pause(2.0);
        nodes[0].kill();
        done.push("SIGKILL node 0".into());
        pause(1.5);
        nodes[0].start(None);
        pause(1.5);

        // A node armed with a crash point, and the others killed so that every driver comes to
        // it; once it aborts, all three start again.
        for (index, point) in [(1, "before-commit:15"), (2, "after-commit:15")] {
            nodes[index].kill();
            nodes[index].start(Some(point));
            for other in (0..NODES).filter(|other| *other != index) {
                nodes[other].kill();
            }
            let crashed = nodes[index].ended_within(Duration::from_secs(20));
            assert!(crashed, "node {index} reached its crash point {point}");
            done.push(format!("nodes killed but node {index}, which aborted at {point}"));
            pause(0.5);
            for node in nodes.iter_mut() {
                node.start(None);
            }
            pause(2.0);
        }

        nodes[1].signal("STOP");
        pause(5.0);
        nodes[1].signal("CONT");
        done.push("SIGSTOP node 1 for 5 s, SIGCONT".into());
        pause(1.5);

        let ended = blocking_query(
            &cluster,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'enroute-fanout %'",
            &[],
        );
        done.push(format!("pg_terminate_backend of {} listening connections", ended.len()));
        pause(2.0);

        match &cluster_dir {
            Some(dir) => {
                postgres_cluster("restart", dir);
                done.push("PostgreSQL stopped (-m immediate) and started".into());
            }
            None => done.push("PostgreSQL restart skipped (no ENROUTE_TEST_POSTGRES_DIR)".into()),
        }
        pause(2.0);
        nodes[2].kill();
        done.push("SIGKILL node 2 (left down)".into());
        (nodes, done)
    });
    let (nodes, done) = chaos.await.unwrap();
    eprintln!("chaos done after {:.1} s: {}", started.elapsed().as_secs_f64(), done.join("; "));

    // Every record is made by now; the drivers drain their outboxes. Dispatching stops, then
    // the drivers and the console get what was committed last (a hint, or the sweep every 3 s)
    // and finish.
    tokio::time::sleep_until(started + RECORD_INTERVAL * RECORDS_PER_DRIVER as u32 + Duration::from_secs(2))
        .await;
    stop.store(true, Ordering::Relaxed);
    let answered = dispatcher.await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    keep_listening.store(false, Ordering::Relaxed);
    let mut logs_by_driver: HashMap<String, DriverLog> = HashMap::new();
    for driver in drivers {
        let log = driver.await.unwrap();
        logs_by_driver.insert(log.driver_id.clone(), log);
    }
    eprintln!("drivers done after {:.1} s", started.elapsed().as_secs_f64());
    // Offers expire 1.5 s after they are made, by a pass every second.
    tokio::time::sleep(Duration::from_secs(3)).await;
    console_stop.store(true, Ordering::Relaxed);
    let console = console.await.unwrap();

    // The checker. First what the database holds.
    let mut failures: Vec<String> = Vec::new();
    for (driver_id, log) in &logs_by_driver {
        let seqs: Vec<i64> =
            blocking_query(&url, "SELECT seq FROM records WHERE driver_id = $1 ORDER BY seq", &[driver_id])
                .iter()
                .map(|row| row.get(0))
                .collect();
        let acked: i64 =
            blocking_query(&url, "SELECT acked_seq FROM drivers WHERE driver_id = $1", &[driver_id])
                .first()
                .map_or(0, |row| row.get(0));
        let k = seqs.len() as i64;
        if seqs != (1..=k).collect::<Vec<i64>>() {
            failures.push(format!("{driver_id}: applied sequence numbers are not 1..{k}"));
        }
        if acked != k || (k as u64) < log.highest_acked {
            failures.push(format!(
                "{driver_id}: {k} applied, acked_seq {acked}, highest acked {}",
                log.highest_acked
            ));
        }
        if log.locations != RECORDS_PER_DRIVER || (k as u64) != log.made {
            failures.push(format!(
                "{driver_id}: made {} locations of {RECORDS_PER_DRIVER} and {} acceptances, {k} applied",
                log.locations, log.accepted
            ));
        }
        if !log.acks_went_back.is_empty() {
            failures.push(format!(
                "{driver_id}: a welcome acknowledged less than before: {:?}",
                log.acks_went_back
            ));
        }
        if !log.event_gaps.is_empty() {
            failures.push(format!("{driver_id}: event ids skipped: {:?}", log.event_gaps));
        }
        let events: Vec<i64> = blocking_query(
            &url,
            "SELECT event_id FROM events WHERE driver_id = $1 ORDER BY event_id",
            &[driver_id],
        )
        .iter()
        .map(|row| row.get(0))
        .collect();
        let m = events.len() as i64;
        if events != (1..=m).collect::<Vec<i64>>() {
            failures.push(format!("{driver_id}: stored event ids are not 1..{m}"));
        }
        let delivered: Vec<i64> = log.event_ids.iter().map(|&id| id as i64).collect();
        if delivered != events {
            failures.push(format!("{driver_id}: delivered events {delivered:?}, stored {events:?}"));
        }
    }
    let history = blocking_query(&url, "SELECT assignment_id, status, at_ms FROM assignment_history", &[]);
    let mut expired_per_job: HashMap<String, u32> = HashMap::new();
    let mut unseen = Vec::new();
    let mut missed_live = Vec::new();
    for row in &history {
        let (job, status, at_ms): (String, String, i64) = (row.get(0), row.get(1), row.get(2));
        let status_name: enroute_protocol::AssignmentStatus =
            serde_json::from_value(serde_json::Value::String(status.clone())).unwrap();
        if status == "expired" {
            *expired_per_job.entry(job.clone()).or_default() += 1;
        }
        let change = (job.clone(), format!("{status_name:?}"));
        if !console.job_changes.contains(&change) {
            unseen.push(format!("{job} {status}"));
        }
        // A change committed well inside a connection's life must have come on it as a delta,
        // not only in the next snapshot (the margins: a change just before a snapshot may be in
        // it; one just before the connection failed may not have arrived).
        for connection in &console.connections {
            if at_ms >= connection.from_ms + 1_000
                && at_ms <= connection.until_ms - 4_000
                && !connection.deltas.contains(&change)
            {
                missed_live.push(format!("{job} {status}"));
            }
        }
    }
    if !unseen.is_empty() {
        failures.push(format!("the console never saw {} job changes: {:?}", unseen.len(), unseen));
    }
    if !missed_live.is_empty() {
        failures.push(format!(
            "the console's live connection missed {} job changes: {:?}",
            missed_live.len(),
            missed_live
        ));
    }
    if let Some((job, count)) = expired_per_job.iter().find(|(_, count)| **count > 1) {
        failures.push(format!("{job} expired {count} times"));
    }
    if expired_per_job.is_empty() {
        failures.push("no offer expired: the drivers that do not accept had offers with deadlines".into());
    }
    let overdue = blocking_query(
        &url,
        "SELECT id FROM assignments WHERE offer_deadline_ms < $1",
        &[&(enroute_mock_server::socket::unix_time_ms() - 3_000)],
    );
    if !overdue.is_empty() {
        failures.push(format!("{} offers are still open past their deadline", overdue.len()));
    }
    // The shared feed: numbered 1..N without a gap, each job change in it once.
    let feed = blocking_query(&url, "SELECT feed_seq, body FROM feed_changes ORDER BY feed_seq", &[]);
    let numbers: Vec<i64> = feed.iter().map(|row| row.get(0)).collect();
    if numbers != (1..=numbers.len() as i64).collect::<Vec<i64>>() {
        failures.push("the shared feed's numbers are not 1..N".into());
    }
    let job_changes_in_feed =
        feed.iter().filter(|row| row.get::<_, &str>(1).contains(r#""change":"job""#)).count();
    if job_changes_in_feed != history.len() {
        failures.push(format!(
            "{} job changes in the shared feed, {} in the jobs' history",
            job_changes_in_feed,
            history.len()
        ));
    }
    if !console.connected_at_end.is_empty() {
        failures.push(format!(
            "the console still shows {} drivers connected after all left: {:?}",
            console.connected_at_end.len(),
            console.connected_at_end
        ));
    }

    let sign_ins: u64 = logs_by_driver.values().map(|log| log.sign_ins).sum();
    let events: usize = logs_by_driver.values().map(|log| log.event_ids.len()).sum();
    let accepted: u64 = logs_by_driver.values().map(|log| log.accepted).sum();
    eprintln!(
        "checked after {:.1} s: {DRIVERS} drivers × {RECORDS_PER_DRIVER} records, {sign_ins} sign-ins, \
         {events} events delivered, {accepted} offers accepted, {answered} dispatcher requests answered, {} job changes, \
         {} expiries, console connected {} times",
        started.elapsed().as_secs_f64(),
        history.len(),
        expired_per_job.len(),
        console.connections.len()
    );
    drop(nodes);
    assert!(
        failures.is_empty(),
        "{} failures (node logs in {}):\n{}",
        failures.len(),
        logs.display(),
        failures.join("\n")
    );
}
