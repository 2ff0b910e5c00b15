//! The terminal relay's messages. An interactive job's agent and each user
//! attached to it speak WebSocket to the server: binary frames are the
//! terminal's bytes (the user's keys one way, the program's output the
//! other), text frames are these control messages as JSON.

use serde::{Deserialize, Serialize};

/// The header the job agent presents its relay token in (never a user's token).
pub const TOKEN_HEADER: &str = "x-aisc-relay-token";

/// The most bytes a user's terminal keeps for one who attaches later.
pub const SCROLLBACK_BYTES: usize = 64 * 1024;

/// A control message, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Control {
    /// The user's terminal size (user to job).
    Resize {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
    /// Run a command in this allocation (user to server, first message of
    /// `/exec`; server to agent with the step's number).
    Exec {
        /// The step's number in its job (set by the server; 0 from a user).
        #[serde(default)]
        step: u32,
        /// The program and its arguments.
        argv: Vec<String>,
        /// On a pseudo-terminal.
        #[serde(default)]
        pty: bool,
        /// Columns, for a pseudo-terminal.
        #[serde(default)]
        cols: u16,
        /// Rows, for a pseudo-terminal.
        #[serde(default)]
        rows: u16,
    },
    /// The program ended with this status: its exit code, or 128+N for
    /// signal N (job to server to user). The last message of a session.
    Exit {
        /// The status.
        code: i32,
    },
    /// How many bytes of the program's output this relay has received for
    /// this terminal (server to agent, first on every connection): the agent
    /// sends what it kept from there on, so that a restarted server shows
    /// what was on the screen and a reconnection repeats nothing.
    Known {
        /// Bytes received so far.
        bytes: u64,
    },
    /// A line from aisc itself, not from the program: the time left, why the
    /// session ends (agent or server to user).
    Notice {
        /// The text, one line.
        text: String,
    },
}

impl Control {
    /// As a WebSocket text frame's payload.
    pub fn to_text(&self) -> String {
        // A plain enum of strings and integers always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_messages_read_back_as_written_and_unknown_ones_are_refused() {
        let m = Control::Exec {
            step: 3,
            argv: vec!["nvidia-smi".into(), "-L".into()],
            pty: true,
            cols: 120,
            rows: 40,
        };
        let back: Control = serde_json::from_str(&m.to_text()).expect("reads back");
        assert_eq!(back, m);
        let r: Control = serde_json::from_str(r#"{"type":"resize","cols":80,"rows":24}"#)
            .expect("a resize reads");
        assert_eq!(r, Control::Resize { cols: 80, rows: 24 });
        assert!(serde_json::from_str::<Control>(r#"{"type":"shell","cmd":"id"}"#).is_err());
        assert!(
            serde_json::from_str::<Control>(r#"{"type":"resize","cols":-1,"rows":24}"#).is_err()
        );
    }
}
