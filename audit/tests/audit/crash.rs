//! SIGKILL a real process that appends from several tasks; every seq it
//! printed (printed only after `append` resolved) must survive, and the
//! log must verify after recovery. Twelve cycles on the same directory,
//! killed after a random number of acknowledgements.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use credgate_audit::{verify, AuditLog};
use rand::Rng;

use crate::common::{config, keys, public_pem};

const CYCLES: usize = 12;

#[test]
fn every_acknowledged_append_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("signing.pem");
    let log_dir = dir.path().join("log");
    std::fs::write(&key_file, &keys().0).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut rng = rand::thread_rng();
    let mut acked_total = BTreeSet::new();
    let mut torn = 0;

    for cycle in 0..CYCLES {
        let kill_after = rng.gen_range(1..=400usize);
        let mut child = Command::new(env!("CARGO_BIN_EXE_audit-crash-child"))
            .arg(&log_dir)
            .arg(&key_file)
            .arg("8")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut acked = Vec::new();
        // Read acknowledgements until the random kill point (bounded).
        for line in lines.by_ref() {
            acked.push(line.unwrap().parse::<u64>().unwrap());
            if acked.len() >= kill_after {
                break;
            }
        }
        assert!(!acked.is_empty(), "child printed nothing in cycle {cycle}");
        child.kill().unwrap(); // SIGKILL
                               // Lines already printed before the kill were acknowledged too.
        for line in lines {
            match line {
                Ok(l) => acked.push(l.parse().unwrap()),
                Err(_) => break,
            }
        }
        let status = child.wait().unwrap();
        assert!(!status.success());

        // Before recovery the directory already verifies, except perhaps
        // for a torn tail (an unacknowledged write cut by the kill).
        let before = verify(&log_dir, Some(public_pem())).unwrap();
        if let Some(tail) = &before.torn_tail {
            torn += 1;
            let acked_max = acked.iter().copied().max().unwrap_or(0);
            assert!(
                tail.seq.unwrap_or(u64::MAX) > acked_max,
                "torn tail {tail} inside acked records"
            );
        }
        runtime.block_on(async {
            let log = AuditLog::open(config_for(&log_dir)).await.unwrap();
            let size = log.tree_size();
            for &seq in &acked {
                assert!(
                    seq <= size,
                    "cycle {cycle}: acked seq {seq} beyond log size {size}"
                );
                let rec = log.record(seq).unwrap();
                assert_eq!(
                    rec.map(|r| r.seq),
                    Some(seq),
                    "cycle {cycle}: acked seq {seq} lost"
                );
            }
            log.shutdown().await.unwrap();
        });
        let report = verify(&log_dir, Some(public_pem())).unwrap();
        assert_eq!(report.torn_tail, None);
        acked_total.extend(acked);
        eprintln!(
            "cycle {cycle}: killed after {kill_after} acks; log size {} in {} segments",
            report.tree_size, report.segments
        );
    }
    assert!(acked_total.len() >= CYCLES);
    eprintln!("{torn} of {CYCLES} kills left a torn tail that recovery cut");
}

fn config_for(dir: &std::path::Path) -> credgate_audit::AuditConfig {
    let mut cfg = config(dir);
    cfg.replica = "crash-child".to_owned();
    cfg.segment_max_bytes = 16 << 10;
    cfg
}
