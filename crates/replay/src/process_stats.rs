//! CPU time and resident memory of a process, read from Linux's `/proc`, and the open-files
//! limit: what the load generator needs to report the server's cost and its own, and to open
//! thousands of sockets.
//!
//! Only `std` and `libc`: it must not depend on the async runtime or the protocol. On systems
//! without `/proc` the readers return errors; nothing panics on odd file contents.

use std::fmt;

/// Why a figure could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatsError {
    /// The file could not be read (the process is gone, or this is not Linux).
    Unreadable { path: String, reason: String },
    /// The file does not have the expected shape.
    Malformed { path: String },
}

impl fmt::Display for StatsError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatsError::Unreadable { path, reason } => write!(formatter, "cannot read {path}: {reason}"),
            StatsError::Malformed { path } => write!(formatter, "unexpected contents in {path}"),
        }
    }
}

impl std::error::Error for StatsError {}

/// Which process: another one by pid, or this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Process {
    Pid(u32),
    Current,
}

impl Process {
    fn path(self, file: &str) -> String {
        match self {
            Process::Pid(pid) => format!("/proc/{pid}/{file}"),
            Process::Current => format!("/proc/self/{file}"),
        }
    }
}

fn read(path: &str) -> Result<String, StatsError> {
    std::fs::read_to_string(path)
        .map_err(|error| StatsError::Unreadable { path: path.to_string(), reason: error.to_string() })
}

/// User plus system CPU time the process has used, in clock ticks (see [`clock_ticks_per_second`]).
pub fn cpu_ticks(process: Process) -> Result<u64, StatsError> {
    let path = process.path("stat");
    parse_cpu_ticks(&read(&path)?).ok_or(StatsError::Malformed { path })
}

/// `utime + stime` from the text of `/proc/PID/stat` (fields 14 and 15; the command name in
/// field 2 may hold spaces and parentheses, so fields are counted after its last `)`).
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let (_, after_name) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // fields[0] is field 3 (state), so field 14 is fields[11].
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The process's resident set size in KiB (`VmRSS`).
pub fn rss_kib(process: Process) -> Result<u64, StatsError> {
    let path = process.path("status");
    parse_rss_kib(&read(&path)?).ok_or(StatsError::Malformed { path })
}

/// `VmRSS` from the text of `/proc/PID/status`.
pub fn parse_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.trim_start_matches("VmRSS:").split_whitespace().next()?.parse().ok()
}

/// Clock ticks per second of the CPU times in `/proc` (100 where the system does not say).
pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as u64 } else { 100 }
}

/// Raises this process's soft limit of open files to its hard limit; returns the new soft
/// limit. The load generator holds one socket per simulated driver.
pub fn raise_open_files_limit() -> Result<u64, String> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(format!("getrlimit: {}", std::io::Error::last_os_error()));
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
                return Err(format!("setrlimit: {}", std::io::Error::last_os_error()));
            }
            limit = raised;
        }
    }
    // rlim_t is u64 on Linux but not everywhere.
    #[allow(clippy::unnecessary_cast)]
    Ok(limit.rlim_cur as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_counted_after_the_command_name_even_with_spaces_and_parentheses() {
        let stat = "1234 (my (odd) server) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 9 0 100 \
                    1000000 2000 18446744073709551615";
        assert_eq!(parse_cpu_ticks(stat), Some(325));
        assert_eq!(parse_cpu_ticks("1234 (short) S 1 2"), None);
        assert_eq!(parse_cpu_ticks("no parenthesis"), None);
    }

    #[test]
    fn rss_is_read_from_the_vmrss_line() {
        assert_eq!(parse_rss_kib("Name:\tx\nVmPeak:\t  9000 kB\nVmRSS:\t   4321 kB\n"), Some(4321));
        assert_eq!(parse_rss_kib("Name:\tkthreadd\n"), None);
    }

    #[test]
    fn this_process_can_be_measured() {
        assert!(cpu_ticks(Process::Current).is_ok());
        assert!(rss_kib(Process::Current).unwrap() > 0);
        assert!(clock_ticks_per_second() > 0);
        assert!(raise_open_files_limit().unwrap() > 0);
    }
}
