//! Throughput of the inbox's durable intake (`Store::enqueue`: dedupe check, one sled
//! transaction, then the group-commit flush), in changes/s, for the shapes webhook intake
//! produces: one change per call, a HubSpot batch of 100, and 64 concurrent callers of one
//! change each (which share flushes). `enqueue_unflushed` is the write half alone, to separate
//! CPU cost from fsync cost.
//!
//! Run: `cargo bench --bench state -- --quick` (the database lives in a temporary folder on the
//! same disk as `TMPDIR`).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use handoff::state::Store;
use handoff_connector::{Change, ChangeKind, ChangeOrigin};
use std::sync::atomic::{AtomicU64, Ordering};

/// Unique change numbers across the whole bench, so nothing is deduplicated.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// `n` fresh webhook changes (distinct event id, record and version).
fn changes(n: u64) -> Vec<Change> {
    let start = NEXT.fetch_add(n, Ordering::Relaxed);
    (start..start + n)
        .map(|i| Change {
            source: "hubspot".into(),
            object_type: "contacts".into(),
            object_id: (1_000_000 + i).to_string(),
            event_id: Some(format!("{}", 5_000_000_000u64 + i)),
            modified_at_ms: 1_763_700_000_000 + i as i64,
            received_at_ms: 1_763_700_000_000,
            origin: ChangeOrigin::Webhook,
            kind: ChangeKind::Created,
            changed_property: None,
            snapshot: None,
        })
        .collect()
}

fn enqueue(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temporary folder");
    let store = rt
        .block_on(async { Store::open(dir.path()) })
        .expect("store");

    let mut group = c.benchmark_group("inbox");
    for batch in [1u64, 100] {
        group.throughput(Throughput::Elements(batch));
        group.bench_function(format!("enqueue_flush/batch_{batch}"), |b| {
            b.iter(|| {
                let report = rt.block_on(store.enqueue(changes(batch))).expect("enqueue");
                assert_eq!(report.accepted as u64, batch);
            })
        });
    }
    group.throughput(Throughput::Elements(100));
    group.bench_function("enqueue_unflushed/batch_100", |b| {
        b.iter(|| {
            let report = store.enqueue_unflushed(changes(100)).expect("enqueue");
            assert_eq!(report.accepted, 100);
        })
    });
    // 64 webhook deliveries in flight at once, one change each: group commit shares flushes.
    group.throughput(Throughput::Elements(64));
    group.bench_function("enqueue_flush/concurrent_64x1", |b| {
        b.iter(|| {
            rt.block_on(async {
                let tasks: Vec<_> = (0..64)
                    .map(|_| {
                        let store = store.clone();
                        tokio::spawn(async move { store.enqueue(changes(1)).await })
                    })
                    .collect();
                for t in tasks {
                    let report = t.await.expect("task").expect("enqueue");
                    assert_eq!(report.accepted, 1);
                }
            })
        })
    });
    group.finish();
    drop(store);
}

criterion_group!(benches, enqueue);
criterion_main!(benches);
