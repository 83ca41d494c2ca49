//! Auditor queries: filters, newest-first pages, cursors, offline search.

use credgate_audit::{
    batch_tag, latest_checkpoint_dir, pseudonym, query_dir, AuditLog, AuditRecord, Decision, Page,
    Query,
};

use crate::common::{append_concurrent, append_seq, config};

/// Every page of `q`, following cursors (bounded).
fn all_pages(log: &AuditLog, q: &Query) -> Vec<AuditRecord> {
    let mut out = Vec::new();
    let mut q = q.clone();
    for _ in 0..10_000 {
        let page = log.query_blocking(&q).unwrap();
        assert!(page.records.len() <= q.limit.unwrap_or(100));
        out.extend(page.records);
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => return out,
        }
    }
    panic!("too many pages");
}

#[tokio::test(flavor = "current_thread")]
async fn filters_pages_and_offline_search_agree_with_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(config(dir.path())).await.unwrap();
    append_seq(&log, 0, 120).await;
    let everything = all_pages(
        &log,
        &Query {
            limit: Some(7),
            ..Query::default()
        },
    );
    assert_eq!(everything.len(), 120);
    assert!(
        everything.windows(2).all(|w| w[0].seq == w[1].seq + 1),
        "newest first"
    );
    assert_eq!(everything[0].seq, 120);
    assert!(everything.iter().all(|r| r.replica == "r1"));

    let by = |q: Query, keep: &dyn Fn(&AuditRecord) -> bool| {
        let got: Vec<u64> = all_pages(&log, &q).iter().map(|r| r.seq).collect();
        let want: Vec<u64> = everything
            .iter()
            .filter(|r| keep(r))
            .map(|r| r.seq)
            .collect();
        assert_eq!(got, want, "{q:?}");
        got.len()
    };
    let client = Query {
        client: Some("client-1".into()),
        limit: Some(10),
        ..Query::default()
    };
    assert_eq!(by(client, &|r| r.client_id == "client-1"), 30);
    let subject = pseudonym(b"test-key", "subject-3");
    let q = Query {
        subject_pseudonym: Some(subject.clone()),
        ..Query::default()
    };
    assert_eq!(
        by(q, &|r| r.subject_pseudonym.as_deref() == Some(&subject)),
        12
    );
    let q = Query {
        decision: Some(Decision::Deny),
        limit: Some(5),
        ..Query::default()
    };
    assert_eq!(by(q, &|r| r.decision == Decision::Deny), 24);
    let q = Query {
        client: Some("client-0".into()),
        decision: Some(Decision::Allow),
        ..Query::default()
    };
    by(q, &|r| {
        r.client_id == "client-0" && r.decision == Decision::Allow
    });
    let from = Query::parse_time(&everything[80].time).unwrap(); // seq 40
    let to = Query::parse_time(&everything[20].time).unwrap(); // seq 100
    let q = Query {
        from: Some(from),
        to: Some(to),
        limit: Some(9),
        ..Query::default()
    };
    let n = by(q, &|r| {
        let t = Query::parse_time(&r.time).unwrap();
        t >= from && t < to
    });
    assert!(n >= 1);
    let q = Query {
        client: Some("nobody".into()),
        ..Query::default()
    };
    assert_eq!(log.query_blocking(&q).unwrap(), Page::default());

    // The live log and the offline search give the same page.
    let q = Query {
        client: Some("client-2".into()),
        limit: Some(4),
        cursor: Some(100),
        ..Query::default()
    };
    let live = log.query(q.clone()).await.unwrap();
    assert_eq!(
        live.records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![99, 95, 91, 87]
    ); // sample i has seq i + 1, client i % 4
    assert_eq!(live.next_cursor, Some(87));
    log.shutdown().await.unwrap();
    let offline = query_dir(dir.path(), &q).unwrap();
    assert_eq!(offline.page, live);
    assert_eq!(offline.missing, None);
    assert_eq!(
        latest_checkpoint_dir(dir.path()).unwrap(),
        log.latest_checkpoint()
    );

    // JSON lines parse back into the same records.
    let mut out = Vec::new();
    live.write_json_lines(&mut out).unwrap();
    let back: Vec<AuditRecord> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(back, live.records);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_is_capped_at_1000_and_zero_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(config(dir.path())).await.unwrap();
    append_concurrent(&log, 1005).await;
    let page = log
        .query_blocking(&Query {
            limit: Some(5000),
            ..Query::default()
        })
        .unwrap();
    assert_eq!(page.records.len(), 1000);
    assert_eq!(page.next_cursor, Some(6));
    let rest = log
        .query_blocking(&Query {
            limit: Some(5000),
            cursor: page.next_cursor,
            ..Query::default()
        })
        .unwrap();
    assert_eq!(
        rest.records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![5, 4, 3, 2, 1]
    );
    assert_eq!(rest.next_cursor, None);
    assert!(log
        .query_blocking(&Query {
            limit: Some(0),
            ..Query::default()
        })
        .is_err());
    assert_eq!(
        log.query_blocking(&Query::default()).unwrap().records.len(),
        100
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_batch_record_is_found_by_each_of_its_subjects_live_after_reopen_and_offline() {
    let dir = tempfile::tempdir().unwrap();
    let batch: Vec<String> = ["b-1", "b-2", "subject-3"]
        .iter()
        .map(|s| pseudonym(b"test-key", s))
        .collect();
    let seq = {
        let log = AuditLog::open(config(dir.path())).await.unwrap();
        append_seq(&log, 0, 20).await;
        let mut rec = crate::common::record(1000);
        rec.subject_pseudonym = None;
        let mut tags: Vec<String> = batch
            .iter()
            .map(|p| batch_tag(p, &rec.request_id))
            .collect();
        tags.sort_unstable();
        rec.subject_tags = tags.clone();
        let seq = log.append(rec).await.unwrap().seq;
        append_seq(&log, 20, 5).await;
        let stored = log.record(seq).unwrap().unwrap();
        assert_eq!(stored.subject_tags, tags);
        // The stored record does not name the subjects by pseudonym.
        let text = serde_json::to_string(&stored).unwrap();
        for p in &batch {
            assert!(!text.contains(p.as_str()), "{text}");
        }
        for (who, want) in [("b-2", vec![seq]), ("b-9", vec![])] {
            let q = Query {
                subject_pseudonym: Some(pseudonym(b"test-key", who)),
                ..Query::default()
            };
            let got: Vec<u64> = all_pages(&log, &q).iter().map(|r| r.seq).collect();
            assert_eq!(got, want, "{who}");
        }
        log.shutdown().await.unwrap();
        seq
    };
    // A subject of the batch that also has records of its own finds both.
    let subject_3 = Query {
        subject_pseudonym: Some(pseudonym(b"test-key", "subject-3")),
        ..Query::default()
    };
    let offline: Vec<u64> = query_dir(dir.path(), &subject_3)
        .unwrap()
        .page
        .records
        .iter()
        .map(|r| r.seq)
        .collect();
    assert!(offline.contains(&seq), "offline: {offline:?}");
    assert!(offline.len() > 1);
    // The index rebuilt at open knows the batch too.
    let log = AuditLog::open(config(dir.path())).await.unwrap();
    let live: Vec<u64> = all_pages(&log, &subject_3).iter().map(|r| r.seq).collect();
    assert_eq!(live, offline);
    // Records without the field are stored without it (canonical form of
    // the records written before it existed is unchanged).
    let plain = log.record(1).unwrap().unwrap();
    let plain = serde_json::to_string(&plain).unwrap();
    assert!(!plain.contains("subject_pseudonyms"), "{plain}");
    assert!(!plain.contains("subject_tags"), "{plain}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_second_writer_on_the_same_directory_is_refused_until_the_first_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let first = AuditLog::open(config(dir.path())).await.unwrap();
    append_seq(&first, 0, 3).await;
    match AuditLog::open(config(dir.path())).await {
        Err(credgate_audit::AuditError::InUse(_)) => {}
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("two writers on one log"),
    }
    // Offline readers are not writers.
    assert_eq!(
        query_dir(dir.path(), &Query::default())
            .unwrap()
            .page
            .records
            .len(),
        3
    );
    first.shutdown().await.unwrap();
    drop(first);
    let again = AuditLog::open(config(dir.path())).await.unwrap();
    assert_eq!(again.append(crate::common::record(9)).await.unwrap().seq, 4);
}
