//! Running the real `mla-broker` binary in a scratch directory, isolated from the caller's `MLA_*`
//! environment so that a developer's settings cannot change what a test sees.

// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

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
