//! [`SmtpSink`]: a real SMTP server for the sender's tests. Python's aiosmtpd, run as a child
//! process on a free loopback port (`python/smtp_sink.py`), stores every accepted message in
//! a Maildir and answers 451 or 550 for recipients whose local part asks for it:
//!
//! | Local part starts with | Answer |
//! |---|---|
//! | `reject` | `550 5.1.1` at RCPT |
//! | `defer` | `451 4.3.0` at RCPT |
//! | `datareject` | `554 5.6.0` after DATA |
//! | `datadefer` | `451 4.3.2` after DATA |
//!
//! Every other recipient is accepted with `250 2.0.0 Ok: queued as SINK<n>`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

/// The sink's script, written into the sink's folder so it runs wherever the tests do.
const SCRIPT: &str = include_str!("../python/smtp_sink.py");

/// One message the sink accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkDelivery {
    /// `MAIL FROM`, empty for the null sender.
    pub mail_from: String,
    /// The accepted `RCPT TO` addresses.
    pub rcpt_to: Vec<String>,
    /// The message exactly as received (after SMTP dot-unstuffing).
    pub data: Vec<u8>,
}

/// A running sink; dropping it stops the server and removes its Maildir.
pub struct SmtpSink {
    child: Child,
    /// Held open: the script exits when it closes, even if this process is killed.
    stdin: Option<ChildStdin>,
    port: u16,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    /// Starts a sink, or returns `None` after printing why (no `python3`, no aiosmtpd), so
    /// the calling test can skip. Install aiosmtpd with `python3 -m pip install aiosmtpd`.
    pub fn start() -> Option<SmtpSink> {
        let dir = tempfile::tempdir().expect("temporary folder");
        let script = dir.path().join("smtp_sink.py");
        std::fs::write(&script, SCRIPT).expect("write the sink script");
        let maildir = dir.path().join("Maildir");
        // A file rather than a pipe: a pipe nobody reads would stall the server once full.
        let log_path = dir.path().join("sink.log");
        let log = std::fs::File::create(&log_path).expect("create the sink log");
        let spawned = Command::new("python3")
            .arg(&script)
            .arg(&maildir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(error) => {
                eprintln!(
                    "skipped: python3 could not be started ({error}), so the SMTP sink tests did not run"
                );
                return None;
            }
        };
        let stdin = child.stdin.take();
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            let _ = BufReader::new(stdout).read_line(&mut line);
        }
        match line.trim().parse::<u16>() {
            Ok(port) => Some(SmtpSink { child, stdin, port, dir }),
            Err(_) => {
                drop(stdin);
                let _ = child.kill();
                let _ = child.wait();
                let stderr = std::fs::read_to_string(&log_path).unwrap_or_default();
                let reason = if stderr.contains("No module named 'aiosmtpd'") {
                    "aiosmtpd is not installed (python3 -m pip install aiosmtpd)".to_owned()
                } else {
                    format!("the sink did not start: {}", stderr.trim())
                };
                eprintln!("skipped: {reason}, so the SMTP sink tests did not run");
                None
            }
        }
    }

    /// The loopback port the sink listens on (host `127.0.0.1`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The Maildir the messages are stored in.
    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("Maildir")
    }

    /// Every accepted message, in the order accepted.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        self.deliveries().into_iter().map(|delivery| delivery.data).collect()
    }

    /// Every accepted message with its envelope, in the order accepted.
    pub fn deliveries(&self) -> Vec<SinkDelivery> {
        let maildir = self.maildir();
        let Ok(entries) = std::fs::read_dir(maildir.join("new")) else { return Vec::new() };
        let mut names: Vec<_> = entries.filter_map(Result::ok).map(|entry| entry.file_name()).collect();
        // Names are zero-padded sequence numbers, so name order is arrival order.
        names.sort();
        names
            .into_iter()
            .map(|name| {
                let data = std::fs::read(maildir.join("new").join(&name)).expect("read a stored message");
                let envelope = read_text(&maildir.join("envelopes").join(&name));
                let mut lines = envelope.lines().map(str::to_owned);
                let mail_from = lines.next().unwrap_or_default();
                SinkDelivery { mail_from, rcpt_to: lines.collect(), data }
            })
            .collect()
    }
}

fn read_text(path: &Path) -> String {
    std::fs::read_to_string(path).expect("read a stored envelope")
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
