//! Running the real `mla-broker` binary in a scratch directory, isolated from the caller's `MLA_*`
//! environment so that a developer's settings cannot change what a test sees.

// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A scratch directory with its own data directory.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn fresh() -> Self {
        Self { dir: tempfile::tempdir().expect("a temporary directory") }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The binary, run in the scratch directory with its data directory and no inherited `MLA_*`.
    pub fn broker(&self, args: &[&str]) -> Command {
        self.broker_under(&[], args)
    }

    /// The binary as [`Scratch::broker`] runs it, started by `launcher` (`ip netns exec NAME`, say).
    pub fn broker_under(&self, launcher: &[&str], args: &[&str]) -> Command {
        let binary = env!("CARGO_BIN_EXE_mla-broker");
        let mut command = match launcher.split_first() {
            Some((program, launcher_args)) => {
                let mut command = Command::new(program);
                command.args(launcher_args).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        command.current_dir(self.path());
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("MLA_") {
                command.env_remove(name);
            }
        }
        command.env("MLA_DATA_DIR", self.data_dir()).env("MLA_LOG", "warn").args(args);
        command
    }

    /// Runs the binary to completion.
    pub fn run(&self, args: &[&str]) -> Finished {
        self.run_command(self.broker(args))
    }

    pub fn run_command(&self, mut command: Command) -> Finished {
        let output = command.output().expect("the mla-broker binary runs");
        Finished {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// How a run of the binary ended.
#[derive(Debug)]
pub struct Finished {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// Asserts success and returns stdout.
    pub fn ok(self) -> String {
        assert_eq!(self.code, Some(0), "mla-broker failed: {self:#?}");
        self.stdout
    }
}

/// `mla-broker serve` running on ports of its own choosing, and its JSON log.
pub struct Serving {
    pub child: Child,
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    /// The log lines up to the one that said where it listens.
    pub seen: Vec<String>,
    log: mpsc::Receiver<String>,
}

impl Serving {
    /// Runs `command` (a [`Scratch::broker`] without arguments) as `serve` on ports of its own
    /// choosing, logging JSON at `level`, and waits for the line that says where it listens. The log
    /// is read on a thread of its own, so that every wait is bounded: a broker that never logs what
    /// is expected fails the test instead of hanging it.
    pub fn start(mut command: Command, level: &str) -> Serving {
        command.args(["--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "serve"]);
        command
            .env("MLA_LOG", level)
            .env("MLA_LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("the binary starts");
        let stderr = child.stderr.take().expect("stderr");
        let (lines, log) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    return;
                }
            }
        });
        let mut seen = Vec::new();
        loop {
            let Ok(line) = log.recv_timeout(Duration::from_secs(60)) else {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the broker did not report serving:\n{}", seen.join("\n"));
            };
            let entry: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            seen.push(line);
            if entry["message"] == "mla-broker is serving gRPC and the REST gateway" {
                let address = |name: &str| entry[name].as_str().and_then(|a| a.parse().ok()).expect(name);
                let (grpc, http) = (address("grpc_addr"), address("http_addr"));
                return Serving { child, grpc, http, seen, log };
            }
        }
    }

    /// The next log line; `None` after a minute without one, or once the log has ended.
    pub fn next_line(&self) -> Option<String> {
        self.log.recv_timeout(Duration::from_secs(60)).ok()
    }

    /// Sends SIGTERM, as an orchestrator stops a broker, and returns the rest of the log.
    pub fn terminate(&self) -> Vec<String> {
        let sent = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        assert!(sent.expect("kill runs").success());
        std::iter::from_fn(|| self.next_line()).collect()
    }

    pub async fn channel(&self) -> tonic::transport::Channel {
        let endpoint = tonic::transport::Channel::from_shared(format!("http://{}", self.grpc)).unwrap();
        endpoint.connect().await.expect("a connection")
    }
}

/// An HTTP answer: its status, its header lines and its body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

/// A minimal HTTP/1.1 call over a plain socket (a client that is not the project's own): `method
/// path` with `headers` and `body`.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let headers: String = headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("the port accepts connections");
    stream.write_all(request.as_bytes()).await.expect("the request is sent");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("an answer");
    let status = answer.get(9..12).and_then(|code| code.parse().ok()).unwrap_or_else(|| panic!("{answer}"));
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    Answer { status, head: head.to_owned(), body: body.to_owned() }
}
