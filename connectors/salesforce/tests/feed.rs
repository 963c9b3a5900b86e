//! The SOQL change feed against the emulator: paging across the 2,000-record batch with a run
//! of 2,500 records sharing one SystemModstamp, exact resumption, the overlap window, kinds.
#![cfg(feature = "emulator")]

mod common;

use common::{fields, lead, Harness};
use handoff_connector::{ChangeFeed, ChangeKind, Cursor, PollBatch};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// 2020-01-01T00:00:00Z.
const T0: i64 = 1_577_836_800_000;
const MINUTE: i64 = 60_000;

async fn poll(feed: &impl ChangeFeed, cursor: Option<&Cursor>) -> PollBatch {
    feed.poll("Lead", cursor).await.expect("poll succeeds")
}

/// A change's `SystemModstamp`: the feed keeps its second and puts a fingerprint of the
/// record's fields in the milliseconds (Salesforce stamps whole seconds).
fn stamp(c: &handoff_connector::Change) -> i64 {
    c.modified_at_ms - c.modified_at_ms.rem_euclid(1000)
}

fn assert_sorted(batch: &PollBatch) {
    let keys: Vec<(i64, &str)> = batch
        .changes
        .iter()
        .map(|c| (stamp(c), c.object_id.as_str()))
        .collect();
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "(SystemModstamp, Id) order"
    );
}

#[tokio::test]
async fn a_run_longer_than_a_batch_is_read_once_in_order_then_only_the_window_is_reread() {
    let h = Harness::default().await;
    let owner = h.emu.integration_user_id();
    h.emu.set_clock(Some(T0));
    let early: Vec<String> = (0..2000)
        .map(|i| {
            h.emu.create(
                "Lead",
                lead(&format!("Early{i}"), &owner, "Open - Not Contacted"),
            )
        })
        .collect();
    h.emu.set_clock(Some(T0 + 10 * MINUTE));
    let tied: Vec<String> = (0..2500)
        .map(|i| {
            h.emu.create(
                "Lead",
                lead(&format!("Tied{i}"), &owner, "Open - Not Contacted"),
            )
        })
        .collect();
    let feed = h.feed(Duration::from_secs(60));

    // Follow `more` from the beginning.
    let mut cursor = None;
    let mut seen: Vec<(i64, String)> = Vec::new();
    let mut polls = Vec::new();
    loop {
        let batch = poll(&feed, cursor.as_ref()).await;
        assert_sorted(&batch);
        for c in &batch.changes {
            assert_eq!(c.kind, ChangeKind::Created);
            assert_eq!(c.source, "salesforce");
            assert_eq!(c.object_type, "Lead");
            let snap = c.snapshot.as_ref().unwrap();
            assert!(
                snap.properties.contains_key("OwnerId") && snap.properties.contains_key("Email")
            );
            seen.push((stamp(c), c.object_id.clone()));
        }
        polls.push((batch.changes.len(), batch.more));
        cursor = batch.next_cursor;
        if !batch.more {
            break;
        }
    }
    assert_eq!(polls, [(2000, true), (2000, true), (500, false)]);
    assert_eq!(seen.len(), 4500);
    let unique: HashSet<&String> = seen.iter().map(|(_, id)| id).collect();
    assert_eq!(unique.len(), 4500, "every record exactly once");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "ordered across polls");
    let expected: Vec<&String> = early.iter().chain(&tied).collect();
    assert_eq!(seen.iter().map(|(_, id)| id).collect::<Vec<_>>(), expected);
    let last = cursor.clone().expect("a cursor");
    assert_eq!(last.0, format!("{}:{}", T0 + 10 * MINUTE, tied[2499]));

    // Re-polling re-reads the overlap window only: the tied run, not the early records.
    let again = poll(&feed, Some(&last)).await;
    assert!(!again.more);
    assert_eq!(again.changes.len(), 2500);
    assert!(again.changes.iter().all(|c| stamp(c) == T0 + 10 * MINUTE));

    // An update later moves one record past the window's end.
    h.emu.set_clock(Some(T0 + 20 * MINUTE));
    h.emu
        .update(
            "Lead",
            &tied[7],
            fields(json!({ "Status": "Working - Contacted" })),
        )
        .unwrap();
    let next = poll(&feed, again.next_cursor.as_ref()).await;
    let updated = next.changes.last().unwrap();
    assert_eq!(
        (updated.object_id.as_str(), updated.kind),
        (tied[7].as_str(), ChangeKind::Updated)
    );
    assert_eq!(stamp(updated), T0 + 20 * MINUTE);
    let after = poll(&feed, next.next_cursor.as_ref()).await;
    assert_eq!(
        after.changes.len(),
        1,
        "only the window after the newest change"
    );
}

#[tokio::test]
async fn a_truncated_poll_resumes_exactly_after_its_last_id() {
    let h = Harness::default().await;
    let owner = h.emu.integration_user_id();
    h.emu.set_clock(Some(T0));
    let ids: Vec<String> = (0..2300)
        .map(|i| {
            h.emu.create(
                "Lead",
                lead(&format!("Same{i}"), &owner, "Open - Not Contacted"),
            )
        })
        .collect();
    let feed = h.feed(Duration::from_secs(60));
    let first = poll(&feed, None).await;
    assert!(first.more);
    let cursor = first.next_cursor.clone().unwrap();
    assert_eq!(cursor.0, format!("{T0}:{}:more", ids[1999]));
    // The same cursor twice gives the same rest: nothing skipped, no loop.
    for _ in 0..2 {
        let rest = poll(&feed, Some(&cursor)).await;
        let got: Vec<&str> = rest.changes.iter().map(|c| c.object_id.as_str()).collect();
        let want: Vec<&str> = ids[2000..].iter().map(String::as_str).collect();
        assert_eq!(got, want);
        assert!(!rest.more);
        assert_eq!(rest.next_cursor.unwrap().0, format!("{T0}:{}", ids[2299]));
    }
}

#[tokio::test]
async fn deleted_records_come_back_as_deletions_and_updates_as_updates() {
    let h = Harness::default().await;
    let owner = h.emu.integration_user_id();
    h.emu.set_clock(Some(T0));
    let a = h
        .emu
        .create("Lead", lead("Keep", &owner, "Open - Not Contacted"));
    let b = h
        .emu
        .create("Lead", lead("Gone", &owner, "Open - Not Contacted"));
    let feed = h.feed(Duration::from_secs(60));
    let first = poll(&feed, None).await;
    assert_eq!(first.changes.len(), 2);

    h.emu.set_clock(Some(T0 + 5 * MINUTE));
    h.emu
        .update("Lead", &a, fields(json!({ "Company": "Keep Ltd" })))
        .unwrap();
    h.emu.delete("Lead", &b).unwrap();
    let batch = poll(&feed, first.next_cursor.as_ref()).await;
    let kinds: HashMap<&str, ChangeKind> = batch
        .changes
        .iter()
        .map(|c| (c.object_id.as_str(), c.kind))
        .collect();
    assert_eq!(kinds[a.as_str()], ChangeKind::Updated);
    assert_eq!(kinds[b.as_str()], ChangeKind::Deleted);
    let gone = batch.changes.iter().find(|c| c.object_id == b).unwrap();
    assert_eq!(
        gone.snapshot.as_ref().unwrap().properties["IsDeleted"],
        true
    );
    // The deleted lead is invisible to `query` but not to `queryAll`.
    let client = h.client();
    assert_eq!(
        client
            .query("SELECT Id FROM Lead")
            .await
            .unwrap()
            .total_size,
        1
    );
    assert_eq!(
        client
            .query_all("SELECT Id FROM Lead")
            .await
            .unwrap()
            .total_size,
        2
    );
}

#[tokio::test]
async fn tasks_are_polled_with_their_activity_fields() {
    let h = Harness::default().await;
    let owner = h.emu.integration_user_id();
    let l = h
        .emu
        .create("Lead", lead("Caller", &owner, "Open - Not Contacted"));
    let rep = h.emu.add_user("rep@example.com", "Rita", "Rep");
    h.emu
        .create_as(
            &rep,
            "Task",
            fields(json!({ "WhoId": l, "Subject": "Call", "TaskSubtype": "Call", "Status": "Completed", "ActivityDate": "2020-01-02" })),
        )
        .unwrap();
    let batch = h
        .feed(Duration::from_secs(60))
        .poll("Task", None)
        .await
        .unwrap();
    assert_eq!(batch.changes.len(), 1);
    let task = batch.changes[0].snapshot.as_ref().unwrap();
    assert_eq!(task.object_type, "Task");
    assert_eq!(task.prop("WhoId").as_deref(), Some(l.as_str()));
    assert_eq!(task.prop("TaskSubtype").as_deref(), Some("Call"));
    assert_eq!(task.prop("CreatedById").as_deref(), Some(rep.as_str()));
    assert_eq!(task.prop("OwnerId").as_deref(), Some(rep.as_str()));
}
