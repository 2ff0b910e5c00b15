//! `--signal=[B:][R:]SIG[@SECS]`: a signal sent to a running job that long
//! before its time limit (60 s when not given), so that it can save its
//! state, as Slurm sends it; with `B:`, to the batch shell alone.

use serde::{Deserialize, Serialize};

/// The longest warning, as Slurm's (65,535 s).
pub const MAX_BEFORE_S: u64 = 65_535;

/// The signals a job may ask for (by name or number), with Linux's numbers:
/// those a program catches to save its work. The launcher ignores them
/// itself, so that only the job's processes get them.
pub const NAMES: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("USR1", 10),
    ("USR2", 12),
    ("ALRM", 14),
    ("TERM", 15),
    ("CONT", 18),
    ("URG", 23),
    ("XCPU", 24),
    ("WINCH", 28),
];

/// A signal before the time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// The signal's number.
    pub signal: i32,
    /// How long before the time limit, seconds.
    pub before_s: u64,
    /// `B:`: to the batch shell alone (Slurm), not to every process of the job.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub batch_only: bool,
}

impl Warning {
    /// Reads `--signal`'s value.
    pub fn parse(value: &str) -> Result<Warning, String> {
        let mut v = value.trim();
        let mut batch_only = false;
        // R: (a reservation's end) changes nothing here; B: and R: come in either order.
        for _ in 0..2 {
            if let Some(rest) = v.strip_prefix("R:") {
                v = rest;
            } else if let Some(rest) = v.strip_prefix("B:") {
                v = rest;
                batch_only = true;
            } else if let Some(rest) = v.strip_prefix("RB:").or_else(|| v.strip_prefix("BR:")) {
                v = rest;
                batch_only = true;
            }
        }
        let (sig, before) = match v.split_once('@') {
            Some((s, b)) => (s, Some(b)),
            None => (v, None),
        };
        let name = sig.trim_start_matches("SIG");
        let number = name.parse::<i32>().ok();
        let signal = NAMES
            .iter()
            .find(|(n, k)| *n == name || Some(*k) == number)
            .map(|(_, k)| *k)
            .ok_or_else(|| {
                let names: Vec<String> = NAMES.iter().map(|(n, k)| format!("{n} ({k})")).collect();
                format!(
                    "{sig:?} is not a signal a job may ask for: {}",
                    names.join(", ")
                )
            })?;
        let before_s = match before {
            None => 60,
            Some(b) => b
                .parse::<u64>()
                .ok()
                .filter(|s| *s <= MAX_BEFORE_S)
                .ok_or_else(|| format!("@{b}: 0 to {MAX_BEFORE_S} seconds"))?,
        };
        Ok(Warning {
            signal,
            before_s,
            batch_only,
        })
    }

    /// As slurmrestd takes it: `[B:]NUM@SECS`.
    pub fn slurm_text(&self) -> String {
        let b = if self.batch_only { "B:" } else { "" };
        format!("{b}{}@{}", self.signal, self.before_s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slurms_forms_are_read() {
        let w = |s: &str| Warning::parse(s);
        let ok = |signal, before_s, batch_only| {
            Ok(Warning {
                signal,
                before_s,
                batch_only,
            })
        };
        assert_eq!(w("USR1@90"), ok(10, 90, false));
        assert_eq!(w("SIGUSR2"), ok(12, 60, false));
        assert_eq!(w("R:10@5"), ok(10, 5, false));
        assert_eq!(w("12@1"), ok(12, 1, false));
        assert_eq!(w("B:USR1@30"), ok(10, 30, true));
        assert_eq!(w("R:B:USR1"), ok(10, 60, true));
        assert_eq!(w("BR:USR2@7"), ok(12, 7, true));
        assert_eq!(w("B:USR1@30").map(|s| s.slurm_text()), Ok("B:10@30".into()));
        assert_eq!(w("USR1@30").map(|s| s.slurm_text()), Ok("10@30".into()));
        for bad in [
            "B:KILL",
            "KILL",
            "11",
            "9",
            "USR1@-1",
            "USR1@70000",
            "NOPE@5",
            "",
        ] {
            assert!(w(bad).is_err(), "{bad}");
        }
    }
}
