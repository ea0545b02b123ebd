//! Who owns the embedded cluster, with the real binary on a data directory of
//! its own: the first `serve` owns it and stops it on exit; a worker or a
//! second server attaches and never stops it, even when it was the one that
//! started it; a postmaster left by a server killed with SIGKILL is adopted
//! by the next server and stopped when that one exits.

use std::path::PathBuf;
use std::time::Duration;

use crate::helpers::eventually;
use crate::process::Process;

const STARTUP: Duration = Duration::from_secs(90);
const SHUTDOWN: Duration = Duration::from_secs(60);

/// A data directory for one test; whatever postmaster still runs in it is
/// shut down when it is dropped.
struct DataDir(PathBuf);

impl DataDir {
    fn new() -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Self(std::env::temp_dir().join(format!("cs-owner-{}", &id[..8])))
    }

    fn env(&self) -> [(&'static str, &str); 1] {
        [("CARESERVICE_DATA_DIR", self.0.to_str().expect("a UTF-8 path"))]
    }

    /// The postmaster's process id, as its pid file names it, if that process
    /// is alive (not a zombie waiting to be reaped).
    fn postmaster(&self) -> Option<u32> {
        let pid_file = std::fs::read_to_string(self.0.join("pgdata/postmaster.pid")).ok()?;
        let pid: u32 = pid_file.lines().next()?.trim().parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let state = stat.rsplit_once(')')?.1.split_whitespace().next()?;
        (state != "Z").then_some(pid)
    }

    fn serve(&self) -> Process {
        Process::start(&["serve", "--demo", "--bind", "127.0.0.1:0", "--no-worker", "--workers", "1"], &self.env())
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        if let Some(pid) = self.postmaster() {
            // Immediate shutdown: a failed test leaves no server behind.
            std::process::Command::new("kill").arg("-QUIT").arg(pid.to_string()).status().ok();
            for _ in 0..100 {
                if self.postmaster().is_none() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        std::fs::remove_dir_all(&self.0).ok();
    }
}

async fn readiness(port: u16) -> u16 {
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/readyz");
    client
        .get(url)
        .header(reqwest::header::HOST, "localhost")
        .send()
        .await
        .map(|response| response.status().as_u16())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_worker_that_started_the_cluster_stops_without_stopping_it_under_the_server() {
    let dir = DataDir::new();
    let mut worker = Process::start(&["worker"], &dir.env());
    worker.wait_for("job worker running", STARTUP).await;
    assert!(dir.postmaster().is_some(), "the worker did not start the cluster:\n{}", worker.stderr());
    let mut server = dir.serve();
    let port = server.serving_port().await;
    assert_eq!(readiness(port).await, 200);

    worker.signal("INT");
    assert!(worker.exit(SHUTDOWN).await.success(), "{}", worker.stderr());
    assert!(dir.postmaster().is_some(), "the worker stopped PostgreSQL under the server:\n{}", worker.stderr());
    assert_eq!(readiness(port).await, 200, "the server lost its database when the worker stopped");

    server.signal("INT");
    assert!(server.exit(SHUTDOWN).await.success(), "{}", server.stderr());
    assert_eq!(dir.postmaster(), None, "the server, the cluster's owner, left it running:\n{}", server.stderr());
}

#[tokio::test]
async fn a_postmaster_left_by_a_killed_server_is_adopted_by_the_next_and_stopped_when_it_exits() {
    let dir = DataDir::new();
    let mut first = dir.serve();
    first.serving_port().await;
    let postmaster = dir.postmaster();
    assert!(postmaster.is_some(), "the server runs no postmaster:\n{}", first.stderr());
    first.kill();
    assert_eq!(dir.postmaster(), postmaster, "the postmaster did not outlive the killed server");

    let mut second = dir.serve();
    let port = second.serving_port().await;
    assert_eq!(readiness(port).await, 200);
    assert_eq!(dir.postmaster(), postmaster, "the next server started another postmaster");

    // A server started while another owns the cluster attaches, and leaves
    // it running when it stops.
    let mut third = dir.serve();
    let third_port = third.serving_port().await;
    assert_eq!(readiness(third_port).await, 200);
    third.signal("TERM");
    assert!(third.exit(SHUTDOWN).await.success(), "{}", third.stderr());
    assert_eq!(dir.postmaster(), postmaster, "a server that does not own the cluster stopped it");
    assert_eq!(readiness(port).await, 200);

    second.signal("TERM");
    assert!(second.exit(SHUTDOWN).await.success(), "{}", second.stderr());
    let stopped = eventually(Duration::from_secs(5), || {
        let running = dir.postmaster().is_some();
        async move { !running }
    })
    .await;
    assert!(stopped.is_some(), "the adopted postmaster still runs after its new owner exited:\n{}", second.stderr());
}
