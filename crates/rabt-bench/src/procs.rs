//! Who used the machine during a measurement: CPU seconds and peak RSS of each watched
//! process tree (the api, the worker, the broker, the database, the peer), of this
//! process and the load generators it ran (`loadgen`), and of everything else on the
//! machine (`others`: on a shared machine, the noise), read from `/proc`.
//!
//! A tree is a root PID and every descendant alive at the sample. Its CPU time is the
//! sum over those processes of `utime + stime + cutime + cstime` (`/proc/<pid>/stat`):
//! a process that ended was reaped by its parent, which then carries its time in
//! `cutime`/`cstime`, so PostgreSQL backends that came and went are counted too.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::error::BenchError;

/// A named process tree to account for: `name=pid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    /// What the tree is (`api`, `worker`, `broker`, `db`, `peer`, …).
    pub name: String,
    /// Its root process.
    pub pid: u32,
}

impl FromStr for Watch {
    type Err = BenchError;

    fn from_str(text: &str) -> Result<Watch, BenchError> {
        let (name, pid) = text
            .split_once('=')
            .ok_or_else(|| BenchError::invalid("--watch", format!("`{text}` is not NAME=PID")))?;
        let pid = pid
            .trim()
            .parse()
            .map_err(|_| BenchError::invalid("--watch", format!("`{pid}` is not a PID")))?;
        Ok(Watch {
            name: name.trim().to_owned(),
            pid,
        })
    }
}

/// CPU use of one group over a measurement, and its memory high-water mark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupUsage {
    /// The group (`loadgen` and `others` are built in).
    pub name: String,
    /// CPU seconds (user + system) the group used during the measurement.
    pub cpu_s: f64,
    /// The largest `VmHWM` (peak resident set) of one process of the group, in KiB,
    /// at the end of the measurement (a high-water mark since that process started).
    pub peak_rss_kib: Option<u64>,
    /// How many processes the group had at the end.
    pub processes: usize,
}

/// The machine's use during one measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Usage {
    /// Wall-clock seconds measured.
    pub wall_s: f64,
    /// Logical CPUs of the machine.
    pub cores: usize,
    /// CPU seconds the whole machine was busy (`/proc/stat`).
    pub machine_busy_s: f64,
    /// Each watched group, then `loadgen` and `others`.
    pub groups: Vec<GroupUsage>,
}

impl Usage {
    /// Adds another measurement's use to this one (several phases of one stage).
    pub fn merge(&mut self, other: &Usage) {
        self.wall_s += other.wall_s;
        self.cores = self.cores.max(other.cores);
        self.machine_busy_s += other.machine_busy_s;
        for group in &other.groups {
            match self.groups.iter_mut().find(|g| g.name == group.name) {
                Some(mine) => {
                    mine.cpu_s += group.cpu_s;
                    mine.peak_rss_kib = mine.peak_rss_kib.max(group.peak_rss_kib);
                    mine.processes = mine.processes.max(group.processes);
                }
                None => self.groups.push(group.clone()),
            }
        }
    }

    /// The CPU seconds of a group, 0 when it is not there.
    pub fn cpu_of(&self, name: &str) -> f64 {
        self.groups
            .iter()
            .find(|g| g.name == name)
            .map_or(0.0, |g| g.cpu_s)
    }
}

/// One process as `/proc/<pid>/stat` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    ppid: u32,
    /// utime + stime + cutime + cstime, in clock ticks.
    ticks: u64,
}

/// Parses `/proc/<pid>/stat`; the command name in parentheses may hold spaces.
fn parse_stat(text: &str) -> Option<Stat> {
    let after = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14).
    let number = |i: usize| fields.get(i)?.parse::<u64>().ok();
    let ticks = number(11)? + number(12)? + number(13)? + number(14)?;
    Some(Stat {
        ppid: u32::try_from(number(1)?).ok()?,
        ticks,
    })
}

/// `VmHWM` of `/proc/<pid>/status`, in KiB.
fn parse_hwm(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// (busy, total) jiffies of the whole machine from the `cpu` line of `/proc/stat`.
fn parse_machine(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let busy = v.first()? + v.get(1)? + v.get(2)? + v.get(5)? + v.get(6)? + v.get(7)?;
    Some((busy, busy + v.get(3)? + v.get(4)?))
}

/// Every process alive now, by PID.
fn all_processes() -> HashMap<u32, Stat> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            Some((pid, parse_stat(&text)?))
        })
        .collect()
}

/// The PIDs of `root` and all its descendants.
fn tree(root: u32, processes: &HashMap<u32, Stat>) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (pid, stat) in processes {
        children.entry(stat.ppid).or_default().push(*pid);
    }
    let mut found = Vec::new();
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        if processes.contains_key(&pid) {
            found.push(pid);
            stack.extend(children.get(&pid).into_iter().flatten());
        }
    }
    found
}

/// Clock ticks per second of `/proc` times (`getconf CLK_TCK`; 100 on every Linux we
/// know, the fallback).
fn ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|hz| *hz > 0.0)
        .unwrap_or(100.0)
}

/// The counters at one instant.
#[derive(Debug, Clone)]
struct Snapshot {
    at: Instant,
    /// Ticks of each watched tree, in the order of the watches.
    groups: Vec<u64>,
    /// Ticks of this process and the children it reaped.
    own: u64,
    machine_busy: u64,
}

fn snapshot(watches: &[Watch]) -> Snapshot {
    let processes = all_processes();
    let groups = watches
        .iter()
        .map(|w| {
            tree(w.pid, &processes)
                .iter()
                .map(|p| processes[p].ticks)
                .sum()
        })
        .collect();
    let own = processes
        .get(&std::process::id())
        .map_or(0, |stat| stat.ticks);
    let machine_busy = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| parse_machine(&s))
        .map_or(0, |(busy, _)| busy);
    Snapshot {
        at: Instant::now(),
        groups,
        own,
        machine_busy,
    }
}

/// Measures the use of the machine between [`Meter::start`] and [`Meter::finish`].
#[derive(Debug, Clone)]
pub struct Meter {
    watches: Vec<Watch>,
    hz: f64,
    start: Snapshot,
}

impl Meter {
    /// Takes the first sample.
    pub fn start(watches: &[Watch]) -> Meter {
        Meter {
            watches: watches.to_vec(),
            hz: ticks_per_second(),
            start: snapshot(watches),
        }
    }

    /// Takes the second sample and says who used what in between.
    pub fn finish(&self) -> Usage {
        let end = snapshot(&self.watches);
        let processes = all_processes();
        let seconds = |a: u64, b: u64| b.saturating_sub(a) as f64 / self.hz;
        let mut groups: Vec<GroupUsage> = self
            .watches
            .iter()
            .zip(self.start.groups.iter().zip(&end.groups))
            .map(|(watch, (a, b))| {
                let members = tree(watch.pid, &processes);
                let hwm = members
                    .iter()
                    .filter_map(|pid| {
                        parse_hwm(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
                    })
                    .max();
                GroupUsage {
                    name: watch.name.clone(),
                    cpu_s: seconds(*a, *b),
                    peak_rss_kib: hwm,
                    processes: members.len(),
                }
            })
            .collect();
        let own_hwm = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| parse_hwm(&s));
        groups.push(GroupUsage {
            name: "loadgen".to_owned(),
            cpu_s: seconds(self.start.own, end.own),
            peak_rss_kib: own_hwm,
            processes: 1,
        });
        let machine_busy_s = seconds(self.start.machine_busy, end.machine_busy);
        let ours: f64 = groups.iter().map(|g| g.cpu_s).sum();
        groups.push(GroupUsage {
            name: "others".to_owned(),
            cpu_s: (machine_busy_s - ours).max(0.0),
            peak_rss_kib: None,
            processes: 0,
        });
        Usage {
            wall_s: end.at.duration_since(self.start.at).as_secs_f64(),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            machine_busy_s,
            groups,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_with_spaces_in_the_name_is_read() {
        let line = "4242 (tokio runtime) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 9 0 1234 0 0";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                ppid: 1,
                ticks: 250 + 50 + 7 + 3
            })
        );
    }

    #[test]
    fn the_high_water_mark_is_read_in_kib() {
        let status = "Name:\trabt\nVmPeak:\t  900 kB\nVmHWM:\t   12345 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(parse_hwm(status), Some(12345));
    }

    #[test]
    fn the_machine_line_counts_busy_and_idle() {
        let stat = "cpu  10 1 5 100 4 2 3 0 0 0\ncpu0 1 1 1 1 1 1 1 1 1 1\n";
        assert_eq!(parse_machine(stat), Some((10 + 1 + 5 + 2 + 3, 21 + 104)));
    }

    #[test]
    fn watches_are_name_equals_pid() {
        assert_eq!(
            "api=42".parse::<Watch>().ok(),
            Some(Watch {
                name: "api".to_owned(),
                pid: 42
            })
        );
        assert!("api".parse::<Watch>().is_err());
        assert!("api=x".parse::<Watch>().is_err());
    }

    #[test]
    fn this_process_is_its_own_tree_and_uses_cpu() {
        let me = Watch {
            name: "me".to_owned(),
            pid: std::process::id(),
        };
        let meter = Meter::start(std::slice::from_ref(&me));
        let mut x = 0u64;
        for i in 0..30_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let usage = meter.finish();
        let mine = &usage.groups[0];
        assert_eq!(mine.name, "me");
        assert!(mine.processes >= 1);
        assert!(mine.peak_rss_kib.is_some_and(|kib| kib > 0));
        assert!(usage.groups.iter().any(|g| g.name == "others"));
        assert!(usage.wall_s > 0.0);
    }

    #[test]
    fn usages_merge_by_group() {
        let group = |name: &str, cpu_s, rss| GroupUsage {
            name: name.to_owned(),
            cpu_s,
            peak_rss_kib: Some(rss),
            processes: 1,
        };
        let mut a = Usage {
            wall_s: 1.0,
            cores: 2,
            machine_busy_s: 1.5,
            groups: vec![group("api", 0.5, 100)],
        };
        let b = Usage {
            wall_s: 2.0,
            cores: 2,
            machine_busy_s: 2.5,
            groups: vec![group("api", 1.0, 300), group("db", 0.25, 50)],
        };
        a.merge(&b);
        assert_eq!(a.wall_s, 3.0);
        assert_eq!(a.cpu_of("api"), 1.5);
        assert_eq!(a.cpu_of("db"), 0.25);
        assert_eq!(a.groups[0].peak_rss_kib, Some(300));
    }
}
