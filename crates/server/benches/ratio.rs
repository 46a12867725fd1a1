//! flowvault beside the least the same work could cost, measured in one run:
//! `cargo bench -p flowvault-server --bench ratio`.
//!
//! Starts, each in a process of its own (this binary again, with `--role`):
//! - `hello`: an axum hello-world — the ceiling for any request to an axum server;
//! - `upstream`: the API a flow calls (axum; checks a bearer token, answers a small JSON);
//! - `proxy`: axum → reqwest → the upstream, with the bearer token — the least a one-action flow
//!   must do (same crate versions and features as flowvault);
//! - `flowvault`: the server on SQLite, with a vault connection and a flow whose one HTTP
//!   `SEND_REQUEST` action calls the upstream with that connection's bearer token.
//!
//! Then drives, with one closed-loop HTTP/1.1 keep-alive client at 16 and at 64 connections:
//! `GET /` of hello against `GET /api/v2/flows/vault/connections/{id}` of flowvault (an
//! authenticated read), and `POST /proxy` against `POST /api/v2/flows/{id}/executions?wait=true`
//! (a run whose record is sealed and stored). Prints req/s, p50/p99, CPU per request and RSS of
//! each server process (and the upstream's CPU per request), and the two ratios. The same
//! requests every run. `FLOWVAULT_BENCH_SECS` (default 10) sets each measurement's length.
//! Everything shares this machine's cores, as with wrk: judge the ratios, not the absolutes.

mod load;

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::{get, post};
use hyper::body::Bytes;
use serde_json::json;

const TOKEN: &str = "upstream-bench-token-5f2c";
const PAYLOAD: &str = r#"{"user":"ada@example.com","event":"signup"}"#;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    match args.iter().position(|a| a == "--role").and_then(|i| args.get(i + 1..)) {
        Some([role, rest @ ..]) => runtime.block_on(serve_role(role, rest)),
        _ => runtime.block_on(drive_all()),
    }
}

/// A server process this binary started: its pid and what it announced.
struct Server {
    child: Child,
    addr: SocketAddr,
    /// What the role printed after its address (flowvault: token, connection and flow ids).
    extra: Vec<String>,
}

impl Server {
    /// Starts `role`; its temporary files (flowvault's vault) go under `tmp`, which the driver
    /// removes at the end (the processes are killed, so they can't clean up).
    fn start(role: &str, args: &[&str], tmp: &std::path::Path) -> Self {
        let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
        let mut child = Command::new(exe)
            .args(["--role", role])
            .args(args)
            .env("TMPDIR", tmp)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {role}: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap_or_else(|e| panic!("{e}"));
        let mut words = line.split_whitespace();
        assert_eq!(words.next(), Some("READY"), "{role} said {line:?}");
        let addr = words.next().and_then(|a| a.parse().ok()).unwrap_or_else(|| panic!("{line}"));
        Self { child, addr, extra: words.map(str::to_owned).collect() }
    }

    /// CPU time (user + system) used so far, in seconds.
    fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .unwrap_or_else(|e| panic!("{e}"));
        // Fields after the command name (which is in parentheses and may hold spaces).
        let after = &stat[stat.rfind(')').unwrap_or(0) + 2..];
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
        // utime and stime are fields 14 and 15 of the file, 12 and 13 here; USER_HZ is 100 on
        // Linux x86-64 and arm64.
        (ticks(11) + ticks(12)) / 100.0
    }

    /// Resident memory, in MiB.
    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_else(|e| panic!("{e}"));
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
        kib / 1024.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One measured target at one concurrency.
struct Row {
    name: &'static str,
    concurrency: usize,
    figures: load::Figures,
    cpu_ms_per_request: f64,
    upstream_cpu_ms_per_request: Option<f64>,
    rss_mib: f64,
}

async fn measure(
    name: &'static str,
    server: &Server,
    upstream: Option<&Server>,
    load: &load::Load,
    concurrency: usize,
    duration: Duration,
) -> Row {
    let (cpu0, up0) = (server.cpu_seconds(), upstream.map(Server::cpu_seconds));
    let figures = load::run(server.addr, load, concurrency, duration).await;
    // The warm-up's requests are not counted, its CPU is: scale by the measured share.
    let measured = figures.seconds / (figures.seconds + 2.0);
    let per_request = |used: f64| used * measured * 1000.0 / figures.requests.max(1) as f64;
    Row {
        name,
        concurrency,
        cpu_ms_per_request: per_request(server.cpu_seconds() - cpu0),
        upstream_cpu_ms_per_request: upstream
            .zip(up0)
            .map(|(u, c0)| per_request(u.cpu_seconds() - c0)),
        rss_mib: server.rss_mib(),
        figures,
    }
}

async fn drive_all() {
    let (duration, _) = load::settings();
    let tmp = tempfile::TempDir::new().unwrap_or_else(|e| panic!("{e}"));
    let upstream = Server::start("upstream", &[], tmp.path());
    let upstream_url = format!("http://{}", upstream.addr);
    let hello = Server::start("hello", &[], tmp.path());
    let proxy = Server::start("proxy", &[&upstream_url], tmp.path());
    let flowvault = Server::start("flowvault", &[&upstream_url], tmp.path());
    let [token, connection, flow] = flowvault.extra.as_slice() else {
        panic!("flowvault announced {:?}", flowvault.extra)
    };
    let request = |method: hyper::Method,
                   path: String,
                   body: Option<&str>,
                   text: Option<&'static str>| load::Load {
        method,
        path,
        token: token.clone(),
        cookie: None,
        body: body.map(|b| Bytes::from(b.to_owned())),
        expect: 200,
        expect_text: text,
    };
    let get_hello = request(hyper::Method::GET, "/".to_owned(), None, Some("Hello"));
    let get_connection = request(
        hyper::Method::GET,
        format!("/api/v2/flows/vault/connections/{connection}"),
        None,
        Some("\"ready\":true"),
    );
    let via_proxy =
        request(hyper::Method::POST, "/proxy".to_owned(), Some(PAYLOAD), Some("\"ok\""));
    let run_body = json!({"fields": {"user": "ada@example.com"}}).to_string();
    let run_flow = request(
        hyper::Method::POST,
        format!("/api/v2/flows/{flow}/executions?wait=true"),
        Some(&run_body),
        Some("\"completed\""),
    );

    // `FLOWVAULT_BENCH_ONLY=get|flow`: one of flowvault's scenarios alone, at 16 connections
    // (to profile it: `perf record -g -p <the pid printed here>`).
    if let Ok(only) = std::env::var("FLOWVAULT_BENCH_ONLY") {
        eprintln!("flowvault pid {}, upstream pid {}", flowvault.child.id(), upstream.child.id());
        let (name, load) = match only.as_str() {
            "get" => ("flowvault GET one connection", &get_connection),
            "flow" => ("flowvault one-action flow, wait=true", &run_flow),
            other => panic!("FLOWVAULT_BENCH_ONLY={other}: use get or flow"),
        };
        let row = measure(name, &flowvault, Some(&upstream), load, 16, duration).await;
        println!("{name}: {:.0} req/s, p99 {:.2} ms", row.figures.per_second(), row.figures.p99_ms);
        return;
    }
    let mut rows = Vec::new();
    for concurrency in [16, 64] {
        rows.push(
            measure("axum hello-world GET /", &hello, None, &get_hello, concurrency, duration)
                .await,
        );
        rows.push(
            measure(
                "flowvault GET one connection",
                &flowvault,
                None,
                &get_connection,
                concurrency,
                duration,
            )
            .await,
        );
        rows.push(
            measure(
                "axum → reqwest → axum proxy",
                &proxy,
                Some(&upstream),
                &via_proxy,
                concurrency,
                duration,
            )
            .await,
        );
        rows.push(
            measure(
                "flowvault one-action flow, wait=true",
                &flowvault,
                Some(&upstream),
                &run_flow,
                concurrency,
                duration,
            )
            .await,
        );
    }

    println!();
    println!(
        "{:<38} {:>4} {:>10} {:>9} {:>9} {:>12} {:>13} {:>8}",
        "", "conn", "req/s", "p50 ms", "p99 ms", "CPU ms/req", "upstream CPU", "RSS MiB"
    );
    for r in &rows {
        println!(
            "{:<38} {:>4} {:>10.0} {:>9.2} {:>9.2} {:>12.3} {:>13} {:>8.1}",
            r.name,
            r.concurrency,
            r.figures.per_second(),
            r.figures.p50_ms,
            r.figures.p99_ms,
            r.cpu_ms_per_request,
            r.upstream_cpu_ms_per_request.map_or_else(|| "-".to_owned(), |c| format!("{c:.3}")),
            r.rss_mib
        );
    }
    println!();
    for concurrency in [16, 64] {
        let rate = |name: &str| {
            rows.iter()
                .find(|r| r.name == name && r.concurrency == concurrency)
                .map_or(0.0, |r| r.figures.per_second())
        };
        let ratio = |a: &str, b: &str| 100.0 * rate(a) / rate(b).max(1.0);
        println!(
            "c={concurrency}: GET one connection at {:.0}% of hello-world; flow at {:.0}% of the proxy",
            ratio("flowvault GET one connection", "axum hello-world GET /"),
            ratio("flowvault one-action flow, wait=true", "axum → reqwest → axum proxy"),
        );
    }
}

/// Runs one server role until killed; announces `READY <addr> …` on stdout first.
async fn serve_role(role: &str, args: &[String]) {
    let listener =
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let router = match role {
        "hello" => axum::Router::new().route("/", get(|| async { "Hello, World!" })),
        "upstream" => load::upstream_router(TOKEN),
        "proxy" => {
            let upstream =
                args.first().cloned().unwrap_or_else(|| panic!("proxy needs the upstream"));
            let client = reqwest::Client::new();
            axum::Router::new().route(
                "/proxy",
                post(move |body: Bytes| {
                    let (client, url) = (client.clone(), format!("{upstream}/notify"));
                    async move {
                        let answer = client
                            .post(url)
                            .bearer_auth(TOKEN)
                            .header("content-type", "application/json")
                            .body(body)
                            .send()
                            .await
                            .unwrap_or_else(|e| panic!("{e}"));
                        let status = answer.status().as_u16();
                        let bytes = answer.bytes().await.unwrap_or_default();
                        (StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY), bytes)
                    }
                }),
            )
        }
        "flowvault" => {
            drop(listener);
            let upstream =
                args.first().cloned().unwrap_or_else(|| panic!("flowvault needs the upstream"));
            return serve_flowvault(&upstream).await;
        }
        other => panic!("unknown role {other}"),
    };
    println!("READY {addr}");
    axum::serve(listener, router).await.unwrap_or_else(|e| panic!("{e}"));
}

async fn serve_flowvault(upstream: &str) {
    let server = load::start(true).await;
    let (connection, flow) = load::notify_flow(&server, upstream, TOKEN).await;
    println!("READY {} {} {} {}", server.addr, server.token, connection, flow);
    std::future::pending::<()>().await;
}
