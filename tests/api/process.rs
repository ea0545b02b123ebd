//! A `careservice` process run from the outside, as an operator runs it: the
//! real binary, its stderr collected as it goes, signalled or killed with
//! SIGKILL at the moment a test chooses.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::helpers::eventually;

/// A running `careservice` subcommand; killed when dropped, so a failed test
/// leaves no process behind.
pub struct Process {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Process {
    /// Starts `careservice ARGS` with `env` on top of a clean environment for
    /// it (no DATABASE_URL or RUST_LOG of the test run's own).
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_careservice"));
        command.env_remove("DATABASE_URL").env_remove("RUST_LOG").env_remove("CARESERVICE_DATA_DIR");
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child =
            command.args(args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("start careservice");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("stderr is piped");
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut text = sink.lock().expect("stderr buffer");
                text.push_str(&line);
                text.push('\n');
            }
        });
        Self { child, stderr }
    }

    /// What it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr buffer").clone()
    }

    /// Waits until stderr holds `needle`; panics with what it wrote if it
    /// does not within `limit` or the process ends first.
    pub async fn wait_for(&self, needle: &str, limit: Duration) {
        let found = eventually(limit, || {
            let found = self.stderr().contains(needle);
            async move { found }
        })
        .await;
        assert!(found.is_some(), "careservice did not write {needle:?} in {limit:?}; it wrote:\n{}", self.stderr());
    }

    /// The port `serve` says it listens on, once it says so.
    pub async fn serving_port(&self) -> u16 {
        self.wait_for("CareService is serving on http://", Duration::from_secs(90)).await;
        let text = self.stderr();
        let after = text.split("CareService is serving on http://").nth(1).unwrap_or_default();
        let address = after.split_whitespace().next().unwrap_or_default();
        address.rsplit(':').next().and_then(|port| port.parse().ok()).expect("a port in the serving line")
    }

    /// Sends `signal` (`INT`, `TERM`) as `kill -SIGNAL` would.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status();
        assert!(sent.is_ok_and(|status| status.success()), "kill -{signal} failed");
    }

    /// `kill -9`: no chance to clean up.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap the killed process");
    }

    /// Waits for the process to end by itself, at most `limit`.
    pub async fn exit(&mut self, limit: Duration) -> ExitStatus {
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(started.elapsed() < limit, "careservice did not exit in {limit:?}; it wrote:\n{}", self.stderr());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.child.kill().ok();
            self.child.wait().ok();
        }
    }
}
