//! `HubSpotFeed` against the emulator: paging, the 10,000-result cap, equal timestamps,
//! batch limits with catch-up cursors, created vs updated.

mod common;

use common::{props, Harness};
use handoff_connector::{ChangeFeed, ChangeKind, ChangeOrigin, Cursor};
use handoff_hubspot::HubSpotFeed;
use serde_json::json;
use std::collections::HashSet;

fn seed_contacts(h: &Harness, n: usize) -> HashSet<String> {
    (0..n)
        .map(|i| {
            h.emu.create_object(
                "contacts",
                props(json!({"email": format!("lead{i}@example.com")})),
            )
        })
        .collect()
}

#[tokio::test]
async fn one_poll_reads_across_pages_and_past_the_ten_thousand_cap() {
    let h = Harness::unlimited().await;
    // Blocks of up to 1,000 contacts share one millisecond each; contacts 9,500..10,049 share
    // one, so the query restart at the cap (after 10,000 results) lands on a millisecond
    // shared by 500 records already read and 50 not read yet.
    let base = 1_700_000_000_000i64;
    let ids: HashSet<String> = (0..10_050)
        .map(|i| {
            h.emu.set_clock(Some(base + ((i + 500) / 1_000) as i64));
            h.emu.create_object(
                "contacts",
                props(json!({"email": format!("lead{i}@example.com")})),
            )
        })
        .collect();
    h.emu.set_clock(None);
    let mut cfg = h.config();
    cfg.max_changes_per_poll = 20_000;
    let feed = HubSpotFeed::new(h.client(), &cfg);

    let batch = feed.poll("contacts", None).await.unwrap();
    assert!(!batch.more);
    let seen: HashSet<String> = batch.changes.iter().map(|c| c.object_id.clone()).collect();
    assert_eq!(seen, ids, "every contact, none lost at the cap");
    assert_eq!(
        batch.changes.len(),
        10_050,
        "re-reads at the restart millisecond are dropped"
    );
    assert!(
        batch
            .changes
            .windows(2)
            .all(|w| w[0].modified_at_ms <= w[1].modified_at_ms),
        "oldest first"
    );
    let newest = batch
        .changes
        .iter()
        .map(|c| c.modified_at_ms)
        .max()
        .unwrap();
    assert_eq!(newest, base + 10);
    assert_eq!(batch.next_cursor, Some(Cursor(newest.to_string())));

    let c = &batch.changes[0];
    assert_eq!(c.origin, ChangeOrigin::Poll);
    assert_eq!(c.kind, ChangeKind::Created);
    assert_eq!(c.source, "hubspot");
    let snap = c.snapshot.as_ref().expect("polls carry the record");
    assert!(snap.prop("email").unwrap().ends_with("@example.com"));
    assert_eq!(
        handoff_hubspot::time::parse_ms(&snap.prop("lastmodifieddate").unwrap()),
        Some(c.modified_at_ms)
    );
}

#[tokio::test]
async fn batches_of_a_thousand_progress_through_a_burst_inside_the_overlap_window() {
    let h = Harness::unlimited().await;
    let ids = seed_contacts(&h, 2_500);
    // Default overlap (60 s) is larger than the whole burst: the catch-up cursor must still
    // move forward.
    let feed = HubSpotFeed::new(h.client(), &h.config());
    let mut cursor: Option<Cursor> = None;
    let mut seen = HashSet::new();
    let mut polls = 0;
    loop {
        let batch = feed.poll("contacts", cursor.as_ref()).await.unwrap();
        polls += 1;
        assert!(polls < 10, "the feed must make progress");
        let fresh = batch
            .changes
            .iter()
            .filter(|c| seen.insert(c.object_id.clone()))
            .count();
        if batch.more {
            assert!(fresh >= 1_000 || batch.changes.len() >= 1_000);
            assert!(batch.next_cursor.as_ref().unwrap().0.ends_with(":catchup"));
        }
        cursor = batch.next_cursor.or(cursor);
        if !batch.more {
            break;
        }
    }
    assert_eq!(seen, ids);
    assert!((3..=4).contains(&polls), "took {polls} polls");
    assert!(
        !cursor.unwrap().0.contains(':'),
        "a complete poll returns a plain cursor"
    );
}

#[tokio::test]
async fn equal_timestamps_at_the_cursor_are_not_lost() {
    let h = Harness::unlimited().await;
    let mut cfg = h.config();
    cfg.poll_overlap_ms = 0;
    let feed = HubSpotFeed::new(h.client(), &cfg);
    let t = 1_700_000_000_000i64;
    h.emu.set_clock(Some(t));
    let first = h
        .emu
        .create_object("deals", props(json!({"dealname": "A"})));
    let batch = feed.poll("deals", None).await.unwrap();
    assert_eq!(batch.changes.len(), 1);
    let cursor = batch.next_cursor.unwrap();
    assert_eq!(cursor, Cursor(t.to_string()));

    // A deal written in the cursor's millisecond after the poll: a `GT cursor` feed would
    // skip it forever; `GTE` reads it (and re-reads the first, which the inbox dedupes).
    let second = h
        .emu
        .create_object("deals", props(json!({"dealname": "B"})));
    let batch = feed.poll("deals", Some(&cursor)).await.unwrap();
    let ids: Vec<&str> = batch.changes.iter().map(|c| c.object_id.as_str()).collect();
    assert_eq!(ids, [first.as_str(), second.as_str()]);
    assert!(batch.changes.iter().all(|c| c.modified_at_ms == t));
    assert_eq!(batch.next_cursor, Some(cursor));
}

#[tokio::test]
async fn updates_are_updated_changes_and_the_overlap_re_reads() {
    let h = Harness::unlimited().await;
    let feed = HubSpotFeed::new(h.client(), &h.config());
    let id = h
        .emu
        .create_object("tickets", props(json!({"subject": "Help"})));
    let first = feed.poll("tickets", None).await.unwrap();
    assert_eq!(first.changes[0].kind, ChangeKind::Created);
    let cursor = first.next_cursor.unwrap();

    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    h.emu
        .update_object("tickets", &id, props(json!({"hs_pipeline_stage": "4"})))
        .unwrap();
    let second = feed.poll("tickets", Some(&cursor)).await.unwrap();
    assert_eq!(second.changes.len(), 1);
    let change = &second.changes[0];
    assert_eq!(change.kind, ChangeKind::Updated);
    assert!(change.modified_at_ms > cursor.0.parse::<i64>().unwrap());
    assert_eq!(
        change
            .snapshot
            .as_ref()
            .unwrap()
            .prop("hs_pipeline_stage")
            .as_deref(),
        Some("4")
    );

    // Nothing new: the overlap window re-reads the last change (the inbox dedupes it), and
    // the cursor stays where it was.
    let third = feed
        .poll("tickets", second.next_cursor.as_ref())
        .await
        .unwrap();
    assert_eq!(third.changes.len(), 1);
    assert_eq!(third.changes[0].dedupe_keys(), change.dedupe_keys());
    assert_eq!(third.next_cursor, second.next_cursor);

    // Other types use hs_lastmodifieddate; unknown types are a config error.
    h.emu
        .create_object("companies", props(json!({"name": "Acme"})));
    assert_eq!(feed.poll("companies", None).await.unwrap().changes.len(), 1);
    assert!(feed.poll("leads", None).await.is_err());
}
