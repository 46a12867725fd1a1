//! A `flowvault serve` process: started with JSON logs captured, stopped with SIGTERM.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::Cli;

pub(crate) struct Served {
    child: Child,
    /// `http(s)://127.0.0.1:PORT`, as the server announced it.
    pub(crate) base: String,
    /// `127.0.0.1:PORT`.
    pub(crate) address: String,
    log: Arc<Mutex<String>>,
}

impl Cli {
    /// Starts `flowvault serve --listen 127.0.0.1:0 --log-format json` plus `args` (which may
    /// name another `--listen`), and waits for
    /// it to announce its address.
    pub(crate) fn serve(&self, args: &[&str], env: &[(&str, &str)]) -> Served {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("flowvault"));
        cmd.args(["serve", "--log-format", "json"]);
        if !args.contains(&"--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        cmd.args(args)
            .env_remove("FLOWVAULT_MASTER_KEY")
            .env_remove("FLOWVAULT_MASTER_PASSPHRASE")
            .env_remove("FLOWVAULT_LOG")
            .env("FLOWVAULT_DATA_DIR", self.data_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start flowvault serve: {e}"));
        let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel::<(String, String)>();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                    && v["message"] == "listening"
                {
                    let address = v["address"].as_str().unwrap_or_default().to_owned();
                    let scheme = v["scheme"].as_str().unwrap_or("http").to_owned();
                    let _ = tx.send((address, scheme));
                }
                let mut log = sink.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                log.push_str(&line);
                log.push('\n');
            }
        });
        let (address, scheme) = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(pair) => pair,
            Err(_) => {
                let _ = child.kill();
                let log = log.lock().map(|l| l.clone()).unwrap_or_default();
                panic!("flowvault serve did not start:\n{log}");
            }
        };
        Served { child, base: format!("{scheme}://{address}"), address, log }
    }
}

impl Served {
    /// Everything logged so far.
    pub(crate) fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the process to end; returns how it ended and its whole log.
    pub(crate) fn stop(mut self) -> (ExitStatus, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "cannot signal {pid}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the reader thread drain the pipe.
                std::thread::sleep(Duration::from_millis(100));
                return (status, self.log());
            }
            assert!(
                Instant::now() < deadline,
                "flowvault serve did not stop after SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Served {
    /// Kills the process (SIGKILL: no chance to finish anything) and waits for it to end.
    pub(crate) fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
