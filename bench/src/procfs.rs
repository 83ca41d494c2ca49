//! What the benchmark reads from `/proc`: a process's resident size and CPU
//! time, the children of a process (nginx's workers), the open-file limit,
//! and a one-line description of the machine.

use anyhow::Context as _;
use std::path::Path;

/// `USER_HZ`: the unit of the CPU times in `/proc/PID/stat`. Linux reports
/// them in 1/100 s on every architecture it exports that file on.
const USER_HZ: f64 = 100.0;

/// Resident set size (`VmRSS`) of a process, MiB.
pub fn rss_mib(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .with_context(|| format!("no VmRSS in /proc/{pid}/status"))?;
    Ok(kib / 1024.0)
}

/// The fields of `/proc/PID/stat` after the command name (which may hold
/// spaces and parentheses): field 3 (`state`) is index 0.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// User + system CPU time a process has used so far, seconds (0 when it
/// is gone).
pub fn cpu_secs(pid: u32) -> f64 {
    let Some(f) = stat_fields(pid) else {
        return 0.0;
    };
    // utime and stime are fields 14 and 15, i.e. indices 11 and 12 here.
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / USER_HZ
}

/// CPU time of this process's children that have exited and been waited
/// for (`cutime + cstime`), seconds.
pub fn children_cpu_secs() -> f64 {
    let Some(f) = stat_fields(std::process::id()) else {
        return 0.0;
    };
    // cutime and cstime are fields 16 and 17, i.e. indices 13 and 14 here.
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(13) + ticks(14)) / USER_HZ
}

/// Processes whose parent is `pid` (nginx's workers under its master).
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            stat_fields(*p).and_then(|f| f.get(1).and_then(|pp| pp.parse::<u32>().ok()))
                == Some(pid)
        })
        .collect()
}

/// The soft limit on open files of this process (inherited by children).
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// CPU model, cores, memory and kernel, from `/proc`.
pub fn machine() -> String {
    let read = |p: &str| std::fs::read_to_string(Path::new(p)).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|v| v.split_once(':'))
        .map(|(_, m)| m.trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let mem_gib = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .map(|kib| kib / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    let kernel = format!(
        "{} {}",
        read("/proc/sys/kernel/ostype").trim(),
        read("/proc/sys/kernel/osrelease").trim()
    );
    format!("{model}, {cores} cores, {mem_gib:.1} GiB RAM, {kernel}")
}

/// Busy CPU seconds of the whole machine so far (all cores: user, nice,
/// system, irq, softirq, steal from `/proc/stat`).
fn machine_busy_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0.0;
    };
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal …
    let busy: f64 = [0, 1, 2, 5, 6, 7].iter().filter_map(|i| v.get(*i)).sum();
    busy / USER_HZ
}

/// The load average line of `/proc/loadavg` (1, 5, 15 minutes).
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// CPU seconds used by a set of named processes between two instants, and
/// by everything else on the machine.
#[derive(Clone, Debug)]
pub struct CpuMeter {
    procs: Vec<(String, Vec<u32>, f64)>,
    machine: f64,
    started: std::time::Instant,
}

/// What [`CpuMeter::stop`] measured.
#[derive(Clone, Debug, Default)]
pub struct CpuUse {
    /// CPU seconds of each role.
    pub roles: Vec<(String, f64)>,
    /// Average cores busy with processes outside the benchmark (other
    /// work on the machine) over the window.
    pub background_cores: f64,
}

impl CpuMeter {
    /// Starts metering: `procs` are (role, pids) pairs.
    pub fn start(procs: Vec<(String, Vec<u32>)>) -> CpuMeter {
        CpuMeter {
            procs: procs
                .into_iter()
                .map(|(name, pids)| {
                    let t = pids.iter().map(|p| cpu_secs(*p)).sum();
                    (name, pids, t)
                })
                .collect(),
            machine: machine_busy_secs(),
            started: std::time::Instant::now(),
        }
    }

    /// CPU seconds each role used since [`CpuMeter::start`], and the
    /// machine's other load.
    pub fn stop(&self) -> CpuUse {
        let roles: Vec<(String, f64)> = self
            .procs
            .iter()
            .map(|(name, pids, t0)| {
                let t: f64 = pids.iter().map(|p| cpu_secs(*p)).sum();
                (name.clone(), (t - t0).max(0.0))
            })
            .collect();
        let ours: f64 = roles.iter().map(|(_, s)| s).sum();
        let other = (machine_busy_secs() - self.machine - ours).max(0.0);
        let wall = self.started.elapsed().as_secs_f64().max(1e-3);
        CpuUse {
            roles,
            background_cores: other / wall,
        }
    }
}
