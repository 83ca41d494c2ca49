//! Crash safety of the audit log through the real binary (SPEC §8): a
//! `credgate serve` child under concurrent load is killed with SIGKILL at
//! random moments; after each restart every `X-Audit-Seq` a client received
//! is in the log, and the log verifies. Bounded: 10 cycles.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use credgate_integration::TestClient;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Gateway(Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_ready(admin: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(s) = tokio::net::TcpStream::connect(("127.0.0.1", admin)).await {
            drop(s);
            let (status, _) = credgate_integration::plain(
                format!("127.0.0.1:{admin}").parse().unwrap(),
                http::Method::GET,
                "/healthz",
                None,
            )
            .await;
            if status == 200 {
                return;
            }
        }
        assert!(Instant::now() < deadline, "gateway did not become ready");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_record_survives_sigkill() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    credgate_certs::generate_dev_pki(&credgate_certs::DevPkiOptions {
        out: certs.clone(),
        force: false,
    })
    .unwrap();
    credgate::demo::prepare_keys(&certs).unwrap();
    let platforms = credgate_sim::start_all(&certs, credgate::demo::DEMO_SEED)
        .await
        .unwrap();
    std::fs::write(dir.path().join("policy.toml"), credgate_policy::DEMO_POLICY).unwrap();
    let samples = credgate_sim::Dataset::generate(credgate::demo::DEMO_SEED).samples_json();
    let subjects: Vec<String> = samples["enterprises"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["platform"] == "xinyong-ningbo")
        .map(|e| e["uscc"].as_str().unwrap().to_owned())
        .collect();
    let (port, admin) = (free_port(), free_port());
    let listen = format!("127.0.0.1:{port}").parse().unwrap();
    let admin_addr = format!("127.0.0.1:{admin}").parse().unwrap();
    let cfg = dir.path().join("gateway.toml");
    std::fs::write(
        &cfg,
        credgate::demo::gateway_toml(&listen, &admin_addr, &platforms),
    )
    .unwrap();

    let acked: Arc<Mutex<Vec<u64>>> = Arc::default();
    let mut rng_state = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(std::process::id());
    let started = Instant::now();
    for cycle in 0..10 {
        let child = Command::new(env!("CARGO_BIN_EXE_credgate"))
            .args(["serve", "--config"])
            .arg(&cfg)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut gw = Gateway(child);
        wait_ready(admin).await;
        // Concurrent load; the kill comes after a random number of answers.
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut tasks = Vec::new();
        for t in 0..6 {
            let client = TestClient::new(
                listen,
                &certs.join("ca.crt"),
                Some((
                    certs.join("clients/dept-nb.crt"),
                    certs.join("clients/dept-nb.key"),
                )),
            );
            let (stop, answered, acked) = (stop.clone(), answered.clone(), acked.clone());
            let subject = subjects[t % subjects.len()].clone();
            tasks.push(tokio::spawn(async move {
                let path = format!("/v1/enterprises/{subject}/report?sections=basic");
                for _ in 0..2000 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let r = client
                        .try_request(
                            http::Method::GET,
                            &path,
                            &[("x-credit-purpose", "administrative_approval")],
                            bytes::Bytes::new(),
                        )
                        .await;
                    match r {
                        Ok(r) => {
                            if let Some(s) = r.headers.get("x-audit-seq") {
                                acked
                                    .lock()
                                    .unwrap()
                                    .push(s.to_str().unwrap().parse().unwrap());
                                answered.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Err(_) => break, // the gateway was killed
                    }
                }
            }));
        }
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        let kill_after = 5 + rng_state % 60;
        let deadline = Instant::now() + Duration::from_secs(20);
        while answered.load(Ordering::Relaxed) < kill_after && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        // SIGKILL mid-load: no drain, no final checkpoint.
        gw.0.kill().unwrap();
        let _ = gw.0.wait();
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            let _ = t.await;
        }
        assert!(
            answered.load(Ordering::Relaxed) > 0,
            "cycle {cycle} answered nothing"
        );
    }
    // A last start recovers the log; then it must hold every acknowledged seq.
    {
        let child = Command::new(env!("CARGO_BIN_EXE_credgate"))
            .args(["serve", "--config"])
            .arg(&cfg)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let gw = Gateway(child);
        wait_ready(admin).await;
        drop(gw);
    }
    let audit = dir.path().join("audit");
    let report = credgate_audit::verify(&audit, None).expect("the log verifies after 10 SIGKILLs");
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 50, "load was applied: {}", acked.len());
    let max = acked.iter().copied().max().unwrap();
    assert!(
        report.tree_size >= max,
        "tree {} < acknowledged {max}",
        report.tree_size
    );
    let mut seen = std::collections::HashSet::new();
    for s in &acked {
        assert!(
            seen.insert(*s),
            "seq {s} acknowledged twice (a seq was reused after a crash)"
        );
    }
    let q = credgate_audit::Query {
        client: Some("dept-nb".into()),
        limit: Some(1000),
        ..credgate_audit::Query::default()
    };
    let mut present = std::collections::HashSet::new();
    let mut cursor = None;
    loop {
        let page = credgate_audit::query_dir(
            &audit,
            &credgate_audit::Query {
                cursor,
                ..q.clone()
            },
        )
        .unwrap()
        .page;
        present.extend(page.records.iter().map(|r| r.seq));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    for s in &acked {
        assert!(present.contains(s), "acknowledged seq {s} lost");
    }
    eprintln!(
        "crash test: 10 SIGKILL cycles, {} acknowledged records, tree size {}, {:?}",
        acked.len(),
        report.tree_size,
        started.elapsed()
    );
    drop(platforms);
}
