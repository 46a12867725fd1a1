//! Running the binary against a private data directory.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

/// A secret that must never show up in any output.
pub(crate) const CANARY: &str = "CANARY-tok-7f3a9c1e";

pub(crate) struct Cli {
    pub(crate) dir: TempDir,
}

/// What one run printed.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) ok: bool,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Cli {
    pub(crate) fn new() -> Self {
        Self { dir: TempDir::new().unwrap_or_else(|e| panic!("{e}")) }
    }

    pub(crate) fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub(crate) fn command(&self) -> Command {
        let mut cmd = Command::cargo_bin("flowvault").unwrap_or_else(|e| panic!("{e}"));
        cmd.env_remove("FLOWVAULT_MASTER_KEY")
            .env_remove("FLOWVAULT_MASTER_KEY_FILE")
            .env_remove("FLOWVAULT_MASTER_PASSPHRASE")
            .env_remove("FLOWVAULT_TENANT")
            .env("FLOWVAULT_DATA_DIR", self.data_dir());
        cmd
    }

    pub(crate) fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, None, &[])
    }

    pub(crate) fn run_with(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command();
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.write_stdin(stdin.unwrap_or_default());
        let out = cmd.output().unwrap_or_else(|e| panic!("{e}"));
        let run = Run {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(
            !run.stdout.contains(CANARY) && !run.stderr.contains(CANARY),
            "a secret was printed: {run:?}"
        );
        run
    }

    /// Runs a command that must succeed and print JSON.
    pub(crate) fn json(&self, args: &[&str]) -> Value {
        let run = self.run(args);
        assert!(run.ok, "{args:?} failed: {}", run.stderr);
        serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", run.stdout))
    }

    /// Creates a connection of `app` named `name` from `setup` (the setup's JSON) and returns its
    /// id.
    pub(crate) fn connection(&self, app: &str, name: &str, setup: &str) -> String {
        let file = self.write(
            &format!("setup-{app}-{}.json", self.dir.path().read_dir().map_or(0, Iterator::count)),
            setup,
        );
        let created = self.json(&[
            "connections",
            "create",
            "--app",
            app,
            "--name",
            name,
            "--setup-file",
            path_str(&file),
            "--json",
        ]);
        created["id"].as_str().unwrap_or_else(|| panic!("no id in {created}")).to_owned()
    }

    pub(crate) fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        path
    }
}

pub(crate) fn twilio_setup(api_key: &str) -> String {
    format!(
        r#"{{"type":"API_KEY","account_id":"AC0123456789abcdef0123456789abcdef","api_key":"{api_key}"}}"#
    )
}

pub(crate) fn path_str(p: &Path) -> &str {
    p.to_str().unwrap_or_else(|| panic!("non-UTF-8 path"))
}

/// The bytes of every file in `dir`, by name.
pub(crate) fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap_or_default(),
            )
        })
        .collect();
    files.sort();
    files
}
