//! What `/proc` says about a process: alive, its start time, its environment.

use std::fs;

/// A process as `/proc/<pid>/stat` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// One-letter state (`R`, `S`, `Z`, ...).
    pub state: char,
    /// Parent process.
    pub ppid: i64,
    /// Process group.
    pub pgrp: i64,
    /// Start time, clock ticks since boot.
    pub start_ticks: u64,
}

impl ProcStat {
    /// Running or able to run: neither a zombie nor dead.
    pub fn is_live(&self) -> bool {
        self.state != 'Z' && self.state != 'X'
    }
}

/// Reads `/proc/<pid>/stat`; `None` if there is no such process.
pub fn stat(pid: i64) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Parses a stat line. The command name (field 2) may hold spaces and
/// parentheses, so fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    // After the process group (field 5), the start time is field 22: 17 further on.
    let start_ticks = fields.nth(16)?.parse().ok()?;
    Some(ProcStat {
        state,
        ppid,
        pgrp,
        start_ticks,
    })
}

/// The live processes whose parent is `pid`.
pub fn children(pid: i64) -> Vec<i64> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i64>().ok()))
        .filter(|p| stat(*p).is_some_and(|s| s.ppid == pid && s.is_live()))
        .collect()
}

/// Whether a process with this pid and start time is alive (not a zombie).
pub fn alive(pid: i64, start_ticks: u64) -> bool {
    matches!(stat(pid), Some(s) if s.start_ticks == start_ticks && s.is_live())
}

/// Whether any live (non-zombie) process belongs to process group `pgrp`.
/// Zombies are skipped: an orphan's zombie may never be reaped where init
/// does not reap, and it holds no resources.
pub fn group_has_live_members(pgrp: i64) -> bool {
    let Ok(entries) = fs::read_dir("/proc") else {
        return false;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i64>().ok()))
        .filter_map(stat)
        .any(|s| s.pgrp == pgrp && s.is_live())
}

/// Whether the process's environment holds `KEY=value` exactly.
pub fn has_env(pid: i64, key: &str, value: &str) -> bool {
    let want = format!("{key}={value}");
    // A process still inside execve (its new memory in place, its environment
    // not yet) shows an empty environ: a spawner may see it there, right
    // after the call that started it returned. Look again for a moment.
    for _ in 0..100 {
        let Ok(env) = fs::read(format!("/proc/{pid}/environ")) else {
            return false;
        };
        if !env.is_empty() {
            return env.split(|b| *b == 0).any(|kv| kv == want.as_bytes());
        }
        if !stat(pid).is_some_and(|s| s.is_live()) {
            // Gone, or a zombie (whose environ is empty for good).
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_stat_line_with_an_awkward_name() {
        let line = "1234 (my (odd) job) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 987654 1000 100";
        assert_eq!(
            parse_stat(line),
            Some(ProcStat {
                state: 'S',
                ppid: 1,
                pgrp: 1234,
                start_ticks: 987_654
            })
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_is_alive_and_a_wrong_start_time_is_not() {
        let me = i64::from(std::process::id());
        let s = stat(me).expect("own stat");
        assert!(alive(me, s.start_ticks));
        assert!(!alive(me, s.start_ticks + 1));
        let child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("sleep");
        let pid = i64::from(child.id());
        assert!(children(me).contains(&pid), "its child is found");
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
        assert!(stat(i64::from(i32::MAX)).is_none());
        assert!(group_has_live_members(s.pgrp));
        assert!(!group_has_live_members(i64::from(i32::MAX)));
    }
}
