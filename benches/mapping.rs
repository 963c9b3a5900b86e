//! Throughput of the shipped lead mapping (records/s), with and without the phone field
//! (E.164 parsing dominates), over realistic contacts built from the datablist customers CSV.
//!
//! Run: `cargo bench --bench mapping -- --quick`.

use std::path::Path;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use handoff::mapping::Mapping;
use serde_json::{json, Value};

const CUSTOMERS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/datablist-customers/customers-10000.csv"
);
const RECORDS: usize = 5_000;

fn contacts() -> Vec<Value> {
    let mut reader = csv::Reader::from_path(CUSTOMERS).expect("customers CSV");
    reader
        .records()
        .take(RECORDS)
        .map(|row| {
            let row = row.expect("CSV row");
            json!({
                "id": &row[1],
                "properties": {
                    "firstname": &row[2], "lastname": &row[3], "company": &row[4], "city": &row[5], "country": &row[6],
                    "phone": &row[7], "mobilephone": &row[8], "email": &row[9], "website": &row[11],
                    "lifecyclestage": "marketingqualifiedlead", "hs_legal_basis": "Legitimate interest – prospect/lead",
                    "hubspot_owner_id": "8812", "createdate": "2026-11-20T09:12:44.120Z",
                },
                "associations": {}
            })
        })
        .collect()
}

/// The shipped lead mapping, and the same text with its `phone` field removed.
fn mappings() -> (Mapping, Mapping) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings/hubspot-contact-to-lead.yaml");
    let text = std::fs::read_to_string(&path).expect("lead mapping");
    let with_phone = Mapping::parse(&text, "lead.yaml").expect("lead mapping parses");
    let start = text.find("  - to: phone\n").expect("phone field");
    let end = start
        + 1
        + text[start + 1..]
            .find("  - to: ")
            .expect("field after phone");
    let without = format!("{}{}", &text[..start], &text[end..]);
    let without_phone =
        Mapping::parse(&without, "lead-no-phone.yaml").expect("edited mapping parses");
    assert!(without_phone.target_fields().all(|f| f != "phone"));
    (with_phone, without_phone)
}

fn bench(c: &mut Criterion) {
    let records = contacts();
    let (with_phone, without_phone) = mappings();
    let mut group = c.benchmark_group("lead_mapping");
    group.throughput(Throughput::Elements(records.len() as u64));
    for (name, mapping) in [
        ("with_phone", &with_phone),
        ("without_phone", &without_phone),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || (),
                |()| {
                    records
                        .iter()
                        .map(|r| mapping.apply(r).gates.len())
                        .sum::<usize>()
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
