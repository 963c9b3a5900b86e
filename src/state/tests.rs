use super::*;
use handoff_connector::{Change, ChangeKind, ChangeOrigin, IdempotencyKey};

fn change(id: &str, event: Option<&str>, at: i64) -> Change {
    Change {
        source: "crm".into(),
        object_type: "contacts".into(),
        object_id: id.into(),
        event_id: event.map(str::to_string),
        modified_at_ms: at,
        received_at_ms: 1_000,
        origin: ChangeOrigin::Webhook,
        kind: ChangeKind::Updated,
        changed_property: None,
        snapshot: None,
    }
}

fn saga(key: &str) -> Saga {
    Saga::new(
        key,
        "lead_handoff",
        "crm:contacts:1",
        vec![(
            IdempotencyKey::new(format!("{key}:assign")),
            "assign_owner",
            serde_json::json!({"owner": "7"}),
        )],
        5,
    )
}

/// A store in which one received change was decided into saga `key` (pending, not run).
async fn store_with_saga(key: &str) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .enqueue(vec![change("1", Some("a"), 1)])
        .await
        .unwrap();
    let e = store.inbox_ready(i64::MAX, 1).unwrap().remove(0);
    store
        .complete(
            e.seq,
            Completion {
                sagas: vec![saga(key)],
                ..Completion::default()
            },
        )
        .unwrap();
    (dir, store)
}

async fn reopen(store: Store, dir: &Path) -> Store {
    drop(store);
    // The flusher task holds the database until it sees the channel close.
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        if let Ok(s) = Store::open(dir) {
            return s;
        }
    }
    panic!("store did not reopen");
}

#[tokio::test]
async fn enqueue_skips_repeated_events_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let first = store
        .enqueue(vec![
            change("1", Some("e1"), 10),
            change("1", Some("e1"), 10),
        ])
        .await
        .unwrap();
    assert_eq!((first.accepted, first.duplicates), (1, 1));
    // Same version seen by a poll (no event id): duplicate. New version: accepted.
    let mut polled = change("1", None, 10);
    polled.origin = ChangeOrigin::Poll;
    let second = store
        .enqueue(vec![polled, change("1", Some("e2"), 11)])
        .await
        .unwrap();
    assert_eq!((second.accepted, second.duplicates), (1, 1));
    let ready = store.inbox_ready(i64::MAX, 10).unwrap();
    assert_eq!(
        ready
            .iter()
            .map(|e| e.change.modified_at_ms)
            .collect::<Vec<_>>(),
        vec![10, 11]
    );
}

#[tokio::test]
async fn enqueued_changes_and_cursors_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .enqueue(vec![change("9", Some("e9"), 3)])
        .await
        .unwrap();
    store
        .advance_cursor("crm:contacts", &Cursor("3".into()))
        .await
        .unwrap();
    let store = reopen(store, dir.path()).await;
    assert_eq!(store.inbox_depth(), 1);
    assert_eq!(
        store.cursor("crm:contacts").unwrap(),
        Some(Cursor("3".into()))
    );
    // Dedupe memory survives too.
    let again = store
        .enqueue(vec![change("9", Some("e9"), 3)])
        .await
        .unwrap();
    assert_eq!(again.duplicates, 1);
}

#[tokio::test]
async fn completion_is_atomic_and_never_creates_a_saga_twice() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .enqueue(vec![change("1", Some("a"), 1), change("1", Some("b"), 2)])
        .await
        .unwrap();
    let entries = store.inbox_ready(i64::MAX, 10).unwrap();
    let completion = Completion {
        sagas: vec![saga("lead:crm:contacts:1")],
        audit: vec![AuditEntry::new(
            1,
            "crm:contacts:1",
            "routed",
            "routed",
            serde_json::Value::Null,
        )],
        state: vec![("rr:West".into(), serde_json::json!(3))],
        ..Completion::default()
    };
    assert_eq!(
        store.complete(entries[0].seq, completion.clone()).unwrap(),
        1
    );
    assert_eq!(store.complete(entries[1].seq, completion).unwrap(), 0);
    assert_eq!(store.inbox_depth(), 0);
    assert_eq!(store.outbox_depth(), 1);
    assert_eq!(store.get_json::<i64>("rr:West").unwrap(), Some(3));
    assert_eq!(store.audit_of("crm:contacts:1").unwrap().len(), 2);

    // Finishing moves it to `done`; a later decision with the same key is still refused.
    let mut s = store.sagas_ready(i64::MAX, 10).unwrap().remove(0);
    s.steps[0].status = StepStatus::Done;
    store.finish_saga(&s, &[]).await.unwrap();
    store
        .enqueue(vec![change("1", Some("c"), 3)])
        .await
        .unwrap();
    let e = store.inbox_ready(i64::MAX, 10).unwrap().remove(0);
    let created = store
        .complete(
            e.seq,
            Completion {
                sagas: vec![saga("lead:crm:contacts:1")],
                ..Completion::default()
            },
        )
        .unwrap();
    assert_eq!(created, 0);
    assert_eq!(store.status().unwrap().completed_sagas, 1);
    assert!(store.is_idle().unwrap());
}

#[tokio::test]
async fn dead_letters_keep_the_change_and_replay_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .enqueue(vec![change("5", Some("p"), 1)])
        .await
        .unwrap();
    let e = store.inbox_ready(i64::MAX, 1).unwrap().remove(0);
    let id = store
        .dead_letter_change(e.seq, e.change.clone(), "crm has no contacts 5", 3, 99)
        .unwrap();
    assert_eq!(store.inbox_depth(), 0);
    let letters = store.dead_letters().unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].reason, "crm has no contacts 5");

    store.replay_dead_letter(id, 100).await.unwrap();
    assert!(store.dead_letters().unwrap().is_empty());
    let back = store.inbox_ready(i64::MAX, 1).unwrap().remove(0);
    assert_eq!(back.change.origin, ChangeOrigin::Replay);
    assert!(matches!(
        store.replay_dead_letter(id, 100).await,
        Err(StateError::NoSuchDeadLetter(_))
    ));
}

#[tokio::test]
async fn parked_sagas_are_not_ready_until_replayed() {
    let (_dir, store) = store_with_saga("s1").await;
    let mut s = store.sagas_ready(i64::MAX, 1).unwrap().remove(0);
    let id = store
        .park_saga(&mut s, "assign_owner", "HTTP 400", 7)
        .await
        .unwrap();
    assert!(store.sagas_ready(i64::MAX, 10).unwrap().is_empty());
    assert_eq!(store.status().unwrap().parked_sagas, 1);
    store.replay_dead_letter(id, 8).await.unwrap();
    assert_eq!(store.sagas_ready(i64::MAX, 10).unwrap().len(), 1);
}

#[tokio::test]
async fn concurrent_durable_calls_share_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut tasks = Vec::new();
    for i in 0..64 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.enqueue(vec![change(&i.to_string(), Some(&format!("e{i}")), i)])
                .await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().accepted, 1);
    }
    assert_eq!(store.inbox_depth(), 64);
}

#[tokio::test]
async fn seen_keys_older_than_the_cutoff_are_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .enqueue(vec![change("1", Some("a"), 1)])
        .await
        .unwrap();
    assert_eq!(store.prune_seen(500).unwrap(), 0);
    assert_eq!(store.prune_seen(2_000).unwrap(), 2);
}

#[tokio::test]
async fn a_finished_saga_is_never_written_back_from_a_stale_copy() {
    let (_dir, store) = store_with_saga("s1").await;
    let stale = store.sagas_ready(i64::MAX, 1).unwrap().remove(0);
    let mut finished = stale.clone();
    finished.steps[0].status = StepStatus::Done;
    store.finish_saga(&finished, &[]).await.unwrap();
    assert!(store.pending_saga("s1").unwrap().is_none());

    // A late writer still holding the pending copy cannot resurrect it.
    store.save_saga(&stale, &[], true).await.unwrap();
    assert!(store.pending_saga("s1").unwrap().is_none());
    assert!(store.sagas_ready(i64::MAX, 10).unwrap().is_empty());
    assert_eq!(
        store.saga("s1").unwrap().unwrap().steps[0].status,
        StepStatus::Done
    );
}
