//! A broker in a process of its own (this binary run again with `--serve-broker`), so that its
//! resident set read from `/proc` is the broker's alone, and its clients are elsewhere, as partners'
//! systems are.

use std::process::Stdio;

use anyhow::Context;
use mla_domain::Role;
use mla_tests::{Backend, Broker};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::workloads::Endpoints;

/// The broker in its own process: its endpoints and tokens, and its pid for `/proc`.
pub struct BrokerProcess {
    child: Child,
    pub endpoints: Endpoints,
    /// The auditor's token: the streams see every event.
    pub watcher: String,
}

/// What a `--serve-broker` process tells the harness on its first line of output.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Announcement {
    endpoints: Endpoints,
    watcher: String,
}

/// The `--serve-broker` side: boots a broker on `backend` (a fresh database), prints its endpoints
/// and tokens as one JSON line, serves until its standard input closes, then drains.
pub async fn serve(backend: Backend) -> anyhow::Result<()> {
    let broker = Broker::start_with(backend, mla_tests::without_limits)
        .await
        .context("PostgreSQL skipped (MLA_SKIP_POSTGRES=1)")?;
    let announcement = Announcement {
        endpoints: Endpoints::prepare(&broker).await,
        watcher: broker.staff("auditor-1", &[Role::Auditor]),
    };
    println!("{}", serde_json::to_string(&announcement)?);
    tokio::io::stdin().read_to_end(&mut Vec::new()).await?;
    broker.stop().await;
    Ok(())
}

impl BrokerProcess {
    pub async fn spawn(backend: &str) -> anyhow::Result<BrokerProcess> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["--serve-broker", backend])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().context("the child's output")?;
        let line = BufReader::new(stdout).lines().next_line().await?.context("the broker did not start")?;
        let Announcement { endpoints, watcher } = serde_json::from_str(&line)?;
        Ok(BrokerProcess { child, endpoints, watcher })
    }

    /// The broker's resident set now, in MiB.
    pub fn rss_mib(&self) -> anyhow::Result<f64> {
        let pid = self.child.id().context("the broker is running")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let kib: f64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .context("VmRSS in /proc/<pid>/status")?;
        Ok(kib / 1024.0)
    }

    /// Closes the broker's input, which makes it drain and exit.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        drop(self.child.stdin.take());
        self.child.wait().await?;
        Ok(())
    }
}
