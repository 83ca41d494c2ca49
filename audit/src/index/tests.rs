//! Index search: filters, pages, batches, stepped searches.

use super::*;
use crate::record::batch_tag;

fn index() -> Index {
    let mut idx = Index::new(1);
    for seq in 1..=10u64 {
        let client = if seq % 2 == 0 { "bank" } else { "dept" };
        let subject = format!("s{}", seq % 3);
        idx.push(&IndexInput {
            seq,
            time_ms: 1000 * seq as i64,
            client_id: client,
            subject_pseudonym: Some(&subject),
            batch_subjects: Vec::new(),
            batch_request_id: None,
            decision: if seq % 5 == 0 {
                Decision::Deny
            } else {
                Decision::Allow
            },
            segment: 1,
            offset: seq * 100,
            len: 90,
        });
    }
    idx
}

fn seqs(r: (Vec<Position>, Option<u64>)) -> (Vec<u64>, Option<u64>) {
    (r.0.iter().map(|p| p.seq).collect(), r.1)
}

#[test]
fn filters_combine_and_pages_follow_cursors() {
    let idx = index();
    let q = Query {
        client: Some("bank".into()),
        limit: Some(2),
        ..Query::default()
    };
    assert_eq!(seqs(idx.search(&q).unwrap()), (vec![10, 8], Some(8)));
    let q2 = Query {
        cursor: Some(8),
        ..q.clone()
    };
    assert_eq!(seqs(idx.search(&q2).unwrap()), (vec![6, 4], Some(4)));
    let q3 = Query {
        cursor: Some(4),
        ..q
    };
    assert_eq!(seqs(idx.search(&q3).unwrap()), (vec![2], None));
    let q = Query {
        decision: Some(Decision::Deny),
        ..Query::default()
    };
    assert_eq!(seqs(idx.search(&q).unwrap()), (vec![10, 5], None));
    let q = Query {
        subject_pseudonym: Some("s1".into()),
        ..Query::default()
    };
    assert_eq!(seqs(idx.search(&q).unwrap()), (vec![10, 7, 4, 1], None));
    let q = Query {
        from: Some(3000),
        to: Some(6000),
        ..Query::default()
    };
    assert_eq!(seqs(idx.search(&q).unwrap()), (vec![5, 4, 3], None));
    let q = Query {
        client: Some("nobody".into()),
        ..Query::default()
    };
    assert_eq!(seqs(idx.search(&q).unwrap()), (vec![], None));
    assert!(idx
        .search(&Query {
            limit: Some(0),
            ..Query::default()
        })
        .is_err());
}

#[test]
fn batches_are_found_by_tag_and_legacy_batches_by_pseudonym() {
    let mut idx = Index::new(1);
    let tags = [batch_tag("p-a", "rid-1"), batch_tag("p-b", "rid-1")];
    let legacy = ["p-a".to_owned(), "p-c".to_owned()];
    let inputs: [(&[String], &[String], &str); 2] =
        [(&[], &tags, "rid-1"), (&legacy, &[], "rid-2")];
    for (i, (legacy, tags, rid)) in inputs.into_iter().enumerate() {
        let (batch_subjects, batch_request_id) = batch_input(legacy, tags, rid);
        idx.push(&IndexInput {
            seq: i as u64 + 1,
            time_ms: 1000,
            client_id: "dept",
            subject_pseudonym: None,
            batch_subjects,
            batch_request_id,
            decision: Decision::Allow,
            segment: 1,
            offset: 100 * i as u64,
            len: 90,
        });
    }
    let find = |p: &str| {
        seqs(
            idx.search(&Query {
                subject_pseudonym: Some(p.into()),
                ..Query::default()
            })
            .unwrap(),
        )
        .0
    };
    assert_eq!(find("p-a"), vec![2, 1]);
    assert_eq!(find("p-b"), vec![1]);
    assert_eq!(find("p-c"), vec![2]);
    assert_eq!(find("p-d"), Vec::<u64>::new());
    // A tag is not the pseudonym, nor searchable as one.
    assert_eq!(find(&tags[0]), Vec::<u64>::new());
}

#[test]
fn a_tag_is_salted_by_the_request_and_keyed_by_the_pseudonym() {
    let a1 = batch_tag("p-a", "rid-1");
    // The documented construction (audit/README.md), computed with
    // Python's hmac: HMAC-SHA256(key = pseudonym, label || request id).
    assert_eq!(
        a1,
        "8838318d6545535a0ca089cad16bbe00e125615b09774c1eb438993c22d6c925"
    );
    assert_ne!(a1, batch_tag("p-a", "rid-2"));
    assert_ne!(a1, batch_tag("p-b", "rid-1"));
    assert_ne!(a1, "p-a");
    // `Query::matches` (offline confirmation) agrees with the index.
    let rec: AuditRecord = serde_json::from_value(serde_json::json!({
        "seq": 1, "time": "2024-05-01T08:30:00.123Z", "replica": "r",
        "request_id": "rid-1", "trace_id": null, "client_id": "dept",
        "cert_fingerprint": "00", "endpoint": "/v1/sanctions/check",
        "purpose": null, "subject_pseudonym": null,
        "subject_pseudonyms": ["p-c"], "subject_tags": [a1],
        "subject_region": null, "authz_jti": null, "decision": "allow",
        "reason": "ok", "profile_digest": null, "sections": [],
        "fields_returned": [], "fields_masked": [], "upstreams": [],
        "status": 200
    }))
    .unwrap();
    let q = |p: &str| Query {
        subject_pseudonym: Some(p.into()),
        ..Query::default()
    };
    assert!(q("p-a").matches(&rec));
    assert!(q("p-c").matches(&rec));
    assert!(!q("p-b").matches(&rec));
}

#[test]
fn exact_page_has_no_cursor_and_retention_drops_the_front() {
    let mut idx = index();
    let q = Query {
        client: Some("dept".into()),
        limit: Some(5),
        ..Query::default()
    };
    assert_eq!(seqs(idx.search(&q).unwrap()), (vec![9, 7, 5, 3, 1], None));
    idx.drop_through(4);
    assert_eq!(idx.position(4), None);
    assert_eq!(idx.position(5).map(|p| p.offset), Some(500));
    assert_eq!(seqs(idx.search(&q).unwrap()), (vec![9, 7, 5], None));
}

#[test]
fn time_bounds_parse_both_forms() {
    assert_eq!(
        Query::parse_time("1714550400000").unwrap(),
        1_714_550_400_000
    );
    assert_eq!(
        Query::parse_time("2024-05-01T08:00:00Z").unwrap(),
        1_714_550_400_000
    );
    assert!(Query::parse_time("May 1st").is_err());
    assert!(Query::parse_time("").is_err());
    // Unix seconds are refused by name, not read as 1970 milliseconds.
    for seconds in ["1714550400", "100000000", "9999999999"] {
        let e = Query::parse_time(seconds).unwrap_err().to_string();
        assert!(e.contains("Unix seconds"), "{seconds}: {e}");
    }
    assert_eq!(Query::parse_time("0").unwrap(), 0);
    assert_eq!(Query::parse_time("99999999").unwrap(), 99_999_999);
    assert_eq!(Query::parse_time("10000000000").unwrap(), 10_000_000_000);
}

/// A search in small steps (the live log releases its lock between them)
/// finds exactly what one search finds, for every filter, page and cursor.
#[test]
fn stepped_searches_find_what_one_search_finds() {
    let mut idx = Index::new(1);
    for seq in 1..=300u64 {
        let rid = format!("rid-{seq}");
        let subject = format!("p-{}", seq % 7);
        let tags: Vec<String> = if seq % 3 == 0 {
            [seq % 5, seq % 11]
                .iter()
                .map(|n| batch_tag(&format!("p-{n}"), &rid))
                .collect()
        } else {
            Vec::new()
        };
        let (batch_subjects, batch_request_id) = batch_input::<String>(&[], &tags, &rid);
        idx.push(&IndexInput {
            seq,
            time_ms: 1000 * seq as i64,
            client_id: if seq % 2 == 0 { "bank" } else { "dept" },
            subject_pseudonym: tags.is_empty().then_some(subject.as_str()),
            batch_subjects,
            batch_request_id,
            decision: Decision::Allow,
            segment: 1,
            offset: seq * 100,
            len: 90,
        });
    }
    let mut queries = Vec::new();
    for subject in [None, Some("p-1"), Some("p-3"), Some("p-10")] {
        for (client, limit, cursor, from) in [
            (None, Some(7), None, None),
            (Some("bank"), Some(5), Some(200), None),
            (None, None, None, Some(50_000)),
        ] {
            queries.push(Query {
                subject_pseudonym: subject.map(str::to_owned),
                client: client.map(str::to_owned),
                limit,
                cursor,
                from,
                ..Query::default()
            });
        }
    }
    for q in &queries {
        let whole = seqs(idx.search(q).unwrap());
        for budget in [0, 1, 2, 3, 17, 150] {
            let mut resume = None;
            let mut steps = 0;
            let stepped = loop {
                steps += 1;
                match idx.search_step(q, resume.take(), budget).unwrap() {
                    Step::Done(hits, next) => break seqs((hits, next)),
                    Step::Paused(r) => resume = Some(r),
                }
            };
            assert_eq!(stepped, whole, "{q:?} in steps of {budget}");
            if budget <= 1 && !whole.0.is_empty() {
                assert!(steps > 1, "a budget of {budget} pauses");
            }
        }
        // p-10 is named only by tags (batches at seqs ≡ 0 mod 3 with
        // seq ≡ 10 mod 11): found there and nowhere else.
        if q.subject_pseudonym.as_deref() == Some("p-10") && q.client.is_none() {
            assert!(!whole.0.is_empty());
            assert!(whole.0.iter().all(|s| s % 3 == 0 && s % 11 == 10));
        }
    }
}
