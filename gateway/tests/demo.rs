//! `credgate demo` end to end, as a newcomer runs it: the binary starts the
//! simulated platforms and the gateway, prints one ready-to-paste `curl`
//! command per endpoint (SPEC §11), and every printed command answers as its
//! comment says. The commands are executed by parsing them (no `curl`
//! needed): client certificate, headers, body and URL. SIGTERM then drains
//! the demo and leaves an audit log that `credgate audit verify` accepts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use credgate_integration::TestClient;
use http::Method;
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Kills the demo if the test fails before it stops it.
struct Demo(Option<Child>);

impl Drop for Demo {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One printed command, parsed.
#[derive(Debug)]
struct Curl {
    line: String,
    cert: PathBuf,
    key: PathBuf,
    ca: PathBuf,
    headers: Vec<(String, String)>,
    body: Option<String>,
    url: String,
}

fn parse(line: &str) -> Curl {
    let words = shlex::split(line).unwrap_or_else(|| panic!("unbalanced quotes: {line}"));
    assert_eq!(words[0], "curl");
    let (mut cert, mut key, mut ca, mut headers, mut body, mut url) =
        (None, None, None, Vec::new(), None, None);
    let mut it = words[1..].iter();
    while let Some(w) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| panic!("{w} needs a value: {line}"))
        };
        match w.as_str() {
            "-sS" => {}
            "--cert" => cert = Some(PathBuf::from(value())),
            "--key" => key = Some(PathBuf::from(value())),
            "--cacert" => ca = Some(PathBuf::from(value())),
            "-H" => {
                let (k, v) = value().split_once(':').expect("header");
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
            "-d" => body = Some(value().clone()),
            u if u.starts_with("https://") => url = Some(u.to_owned()),
            other => panic!("unexpected curl argument {other:?} in {line}"),
        }
    }
    Curl {
        line: line.to_owned(),
        cert: cert.expect("--cert"),
        key: key.expect("--key"),
        ca: ca.expect("--cacert"),
        headers,
        body,
        url: url.expect("url"),
    }
}

/// What each printed command must answer, in order: a status, or `None`
/// for "the TLS handshake fails".
const EXPECTED: &[Option<u16>] = &[
    // 1–3: reports from each platform.
    Some(200),
    Some(200),
    Some(200),
    Some(200),
    // 4: bad USCC, no purpose, unserved region.
    Some(400),
    Some(400),
    Some(404),
    // 5: rogue certificate.
    None,
    // 6: the bank with, with another subject's, and without a token.
    Some(200),
    Some(403),
    Some(401),
    // 7: score; 8: sanctions; 9: access log.
    Some(200),
    Some(200),
    Some(200),
    // 10: auditor records ×2, checkpoint, proof, consistency.
    Some(200),
    Some(200),
    Some(200),
    Some(200),
    Some(200),
];

/// Starts `credgate demo` on `demo_dir`; returns it with its banner.
fn start_demo(demo_dir: &std::path::Path) -> (Demo, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_credgate"))
        .args(["demo", "--dir"])
        .arg(demo_dir)
        .args(["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let demo = Demo(Some(child));
    // The banner, read on a thread until its last line (bounded wait).
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = Vec::new();
        let mut sent = false;
        // Reads to the end (the pipe stays open while the demo runs).
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sent {
                continue;
            }
            let last = line.starts_with("Stop with Ctrl-C");
            lines.push(line);
            if last {
                let _ = tx.send(std::mem::take(&mut lines));
                sent = true;
            }
        }
        if !sent {
            let _ = tx.send(lines);
        }
    });
    let lines = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the demo printed its commands");
    assert!(
        lines.iter().any(|l| l.starts_with("Stop with Ctrl-C")),
        "banner incomplete: {lines:?}"
    );
    (demo, lines)
}

/// SIGTERM, then waits (bounded) for a clean exit.
fn stop_demo(mut demo: Demo) {
    let pid = demo.0.as_ref().map(Child::id).unwrap();
    let killed = Command::new("sh")
        .args(["-c", &format!("kill -TERM {pid}")])
        .status()
        .unwrap();
    assert!(killed.success());
    let child = demo.0.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let mut child = child;
        let _ = tx.send(child.wait());
        child
    });
    let status = rx.recv_timeout(Duration::from_secs(30)).ok();
    if status.is_none() {
        // Still running: kill it (the waiter then returns) before failing.
        let _ = Command::new("sh")
            .args(["-c", &format!("kill -KILL {pid}")])
            .status();
    }
    drop(waiter);
    let status = status.map(Result::unwrap);
    let status = status.expect("the demo stops within 30 s of SIGTERM");
    assert!(status.success(), "demo exit: {status}");
}

#[tokio::test]
async fn every_command_the_demo_prints_answers_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let demo_dir = dir.path().join("demo");
    let (demo, lines) = start_demo(&demo_dir);
    let verify_line = lines
        .iter()
        .find(|l| l.contains("credgate audit verify"))
        .cloned()
        .unwrap_or_default();
    let commands: Vec<Curl> = lines
        .iter()
        .filter(|l| l.starts_with("curl "))
        .map(|l| parse(l))
        .collect();
    assert_eq!(
        commands.len(),
        EXPECTED.len(),
        "one expectation per printed command: {lines:#?}"
    );
    // One command per client endpoint of SPEC §4.
    for endpoint in [
        "/v1/enterprises/",
        "/v1/persons/",
        "/v1/sanctions/check",
        "/v1/subjects/",
        "/v1/audit/records",
        "/v1/audit/checkpoint",
        "/v1/audit/proof/",
        "/v1/audit/consistency",
    ] {
        assert!(
            commands.iter().any(|c| c.url.contains(endpoint)),
            "no command for {endpoint}"
        );
    }
    for (c, want) in commands.iter().zip(EXPECTED) {
        let rest = c.url.strip_prefix("https://localhost:").unwrap();
        let (port, path) = rest.split_at(rest.find('/').unwrap());
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let client = TestClient::new(addr, &c.ca, Some((c.cert.clone(), c.key.clone())));
        let headers: Vec<(&str, &str)> = c
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (method, body) = match &c.body {
            Some(b) => (Method::POST, bytes::Bytes::from(b.clone())),
            None => (Method::GET, bytes::Bytes::new()),
        };
        let got = client.try_request(method, path, &headers, body).await;
        match (want, got) {
            (None, Err(_)) => {}
            (Some(status), Ok(r)) => assert_eq!(
                r.status.as_u16(),
                *status,
                "{}\n{}",
                c.line,
                String::from_utf8_lossy(&r.body)
            ),
            (want, got) => panic!("{}: wanted {want:?}, got {got:?}", c.line),
        }
    }

    // A second demo on the same directory is refused before it writes
    // anything: the running demo's files stay as they are.
    let files = ["platforms.json", "gateway.toml", "samples.json"];
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(demo_dir.join(f)).unwrap())
        .collect();
    let second = Command::new(env!("CARGO_BIN_EXE_credgate"))
        .args(["demo", "--dir"])
        .arg(&demo_dir)
        .args(["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("holds its audit log"), "{err}");
    for (f, b) in files.iter().zip(&before) {
        assert_eq!(
            &std::fs::read(demo_dir.join(f)).unwrap(),
            b,
            "{f} untouched"
        );
    }

    // SIGTERM drains and writes a final checkpoint; the log verifies.
    stop_demo(demo);
    // The verify command as the banner prints it (with --max-uncovered 0:
    // the final checkpoint covers every record).
    let printed = verify_line
        .split("credgate audit verify")
        .nth(1)
        .and_then(|rest| rest.split("   ·").next())
        .expect("the banner prints an audit verify command");
    let args: Vec<&str> = printed.split_whitespace().collect();
    assert!(args.contains(&"--max-uncovered"), "{verify_line}");
    let verify = Command::new(env!("CARGO_BIN_EXE_credgate"))
        .args(["audit", "verify"])
        .args(&args)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );

    // A restart keeps a policy.toml the user edited (black-box review: it
    // was overwritten), and /readyz says which file is in force.
    let policy = demo_dir.join("policy.toml");
    let edited = format!("{}\n# edited\n", std::fs::read_to_string(&policy).unwrap());
    std::fs::write(&policy, &edited).unwrap();
    let (demo, lines) = start_demo(&demo_dir);
    assert_eq!(std::fs::read_to_string(&policy).unwrap(), edited);
    let admin: SocketAddr = lines
        .iter()
        .find_map(|l| l.split("admin:").nth(1))
        .and_then(|rest| rest.trim().strip_prefix("http://"))
        .and_then(|rest| rest.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no admin address in {lines:#?}"));
    let (_, body) = credgate_integration::plain(admin, Method::GET, "/readyz", None).await;
    let ready: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let digest = hex::encode(ring::digest::digest(
        &ring::digest::SHA256,
        edited.as_bytes(),
    ));
    assert_eq!(ready["policy_sha256"], digest.as_str(), "{ready}");
    stop_demo(demo);
}
