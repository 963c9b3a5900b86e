//! The refresher against the HubSpot emulator: counts match the seeded contacts, a 429 keeps
//! the previous snapshot, out of office is read from a configured field.

use super::*;
use crate::clock::ManualClock;
use crate::config::routing_inputs::OutOfOfficeField;
use crate::flows::owners::Owner;
use handoff_connector::emulator::Fault;
use handoff_hubspot::{HubSpotConfig, HubSpotEmulator};
use serde_json::{json, Map, Value};
use std::time::Duration;

const T0: i64 = 1_780_000_000_000;

fn rules() -> Arc<RuleSet> {
    let yaml = r#"
name: load-test
teams:
  - name: West
    time_zone: UTC
    hours: { days: [mon, tue, wed, thu, fri, sat, sun], open: "00:00", close: "23:59" }
    groups:
      - { manager: boss@x.com, reps: [a@x.com, b@x.com, c@x.com] }
  - name: East
    time_zone: UTC
    hours: { days: [mon, tue, wed, thu, fri], open: "09:00", close: "17:00" }
    groups:
      - { manager: boss@x.com, reps: [e@x.com] }
rules:
  - name: by-load
    strategy: least_loaded
    pool: { team: West }
  - name: rr
    strategy: round_robin
    pool: { team: East }
fallback: { owner: boss@x.com }
"#;
    Arc::new(RuleSet::parse(yaml, "load-test.yaml").expect("rules parse"))
}

struct Setup {
    emu: HubSpotEmulator,
    refresher: Refresher,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
    _stop: CancellationToken,
}

async fn setup(config: RoutingInputsConfig) -> Setup {
    let emu = HubSpotEmulator::new(handoff_hubspot::EmulatorConfig {
        rate_limits: false,
        ..Default::default()
    });
    let stop = CancellationToken::new();
    let running = emu
        .start("127.0.0.1:0".parse().unwrap(), stop.clone())
        .await
        .unwrap();
    let mut owners = Vec::new();
    for email in ["a@x.com", "b@x.com", "e@x.com"] {
        let id = emu.add_owner(email, "Rep", email, None);
        owners.push(Owner {
            id,
            email: email.into(),
            name: email.into(),
        });
    }
    let mut hs = HubSpotConfig::new(
        running.base_url(),
        emu.config().token.clone().into(),
        emu.config().client_secret.clone().into(),
    );
    hs.max_retries = 0;
    hs.search_requests_per_second = 1_000;
    let dir = tempfile::TempDir::new().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let refresher = Refresher {
        store: Store::open(dir.path()).unwrap(),
        crm: Arc::new(handoff_hubspot::HubSpotCrm::new(
            handoff_hubspot::HubSpotClient::new(&hs).unwrap(),
            0,
            "",
        )),
        rules: rules(),
        owners: Arc::new(RwLock::new(OwnerDirectory::new(owners))),
        config,
        clock: clock.clone(),
    };
    Setup {
        emu,
        refresher,
        clock,
        _dir: dir,
        _stop: stop,
    }
}

fn props(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn seed_lead(emu: &HubSpotEmulator, owner_email: &str, status: &str) {
    let owner = emu
        .owners()
        .into_iter()
        .find(|o| o["email"] == owner_email)
        .unwrap();
    emu.create_object(
        "contacts",
        props(json!({
            "email": format!("lead{}@y.com", emu.objects("contacts").len()),
            "hubspot_owner_id": owner["id"],
            "hs_lead_status": status,
        })),
    );
}

#[tokio::test]
async fn load_counts_open_leads_of_least_loaded_reps_and_a_429_keeps_the_old_snapshot() {
    let s = setup(RoutingInputsConfig::default()).await;
    for status in ["NEW", "OPEN", "IN_PROGRESS", "UNQUALIFIED"] {
        seed_lead(&s.emu, "a@x.com", status);
    }
    seed_lead(&s.emu, "b@x.com", "NEW");
    seed_lead(&s.emu, "b@x.com", "CONNECTED");
    // e@x.com is in a round-robin pool only: never counted.
    seed_lead(&s.emu, "e@x.com", "NEW");

    s.clock.advance(Duration::from_secs(7));
    let snap = s
        .refresher
        .refresh_load()
        .await
        .unwrap()
        .expect("a snapshot");
    let want: BTreeMap<String, u32> = [("a@x.com", 3), ("b@x.com", 1), ("c@x.com", 0)]
        .map(|(k, v)| (k.to_string(), v))
        .into();
    assert_eq!(snap.open_leads, want, "c@x.com is no CRM owner: 0");
    assert_eq!(snap.as_of.as_millisecond(), T0 + 7_000);
    let stored: LoadSnapshot = s.refresher.store.get_json(LOAD_KEY).unwrap().unwrap();
    assert_eq!(stored, snap);
    let raw: Value = s.refresher.store.get_json(LOAD_KEY).unwrap().unwrap();
    assert_eq!(raw["open_leads"]["a@x.com"], 3);
    assert!(raw["as_of"].as_str().unwrap().ends_with('Z'), "{raw}");

    // HubSpot answers 429 to every search: nothing is written, the old snapshot stays.
    seed_lead(&s.emu, "b@x.com", "NEW");
    s.emu.faults().inject(
        Fault::RateLimited {
            retry_after_secs: 0,
        },
        100,
    );
    s.clock.advance(Duration::from_secs(300));
    let err = s.refresher.refresh_load().await.unwrap_err();
    assert!(
        matches!(err, RefreshError::Vendor(ref e) if e.to_string().contains("429") || e.is_retryable()),
        "{err}"
    );
    let kept: LoadSnapshot = s.refresher.store.get_json(LOAD_KEY).unwrap().unwrap();
    assert_eq!(kept, snap);

    // Once HubSpot answers again, the next refresh sees the new lead.
    s.emu.faults().inject(Fault::ServerError, 0);
    let fresh = s.refresher.refresh_load().await.unwrap().unwrap();
    assert_eq!(fresh.open_leads["b@x.com"], 2);
    assert_eq!(fresh.as_of.as_millisecond(), T0 + 307_000);
}

#[tokio::test]
async fn out_of_office_keeps_reps_of_the_rule_set_whose_field_says_away() {
    // HubSpot's users object, as the emulator serves it (`AWAY` exercises the spellings the
    // refresher offers; a stranger away is not a rep of the rule set).
    let config = RoutingInputsConfig {
        out_of_office: Some(OutOfOfficeField {
            object: "users".into(),
            property: "hs_availability_status".into(),
            away_values: vec!["away".into()],
            email_property: "hs_email".into(),
        }),
        ..Default::default()
    };
    let s = setup(config).await;
    for (email, status) in [
        ("A@x.com", "away"),
        ("b@x.com", "available"),
        ("e@x.com", "AWAY"),
        ("stranger@y.com", "away"),
    ] {
        s.emu.create_object(
            "users",
            props(json!({"hs_email": email, "hs_availability_status": status})),
        );
    }
    let snap = s
        .refresher
        .refresh_out_of_office()
        .await
        .unwrap()
        .expect("configured");
    assert_eq!(snap.reps, ["a@x.com", "e@x.com"]);
    assert_eq!(snap.taken_ms, T0);
    let raw: Value = s
        .refresher
        .store
        .get_json(OUT_OF_OFFICE_KEY)
        .unwrap()
        .unwrap();
    assert_eq!(raw, json!({"reps": ["a@x.com", "e@x.com"], "taken_ms": T0}));
}

#[tokio::test]
async fn nothing_is_read_or_written_without_a_field_or_a_least_loaded_pool() {
    let s = setup(RoutingInputsConfig::default()).await;
    assert_eq!(s.refresher.refresh_out_of_office().await.unwrap(), None);
    assert!(s
        .refresher
        .store
        .get_json::<Value>(OUT_OF_OFFICE_KEY)
        .unwrap()
        .is_none());
    let before = s.emu.request_count();
    let mut r = s.refresher;
    r.rules = Arc::new(
        RuleSet::parse(
            "name: rr-only\nteams:\n  - name: T\n    time_zone: UTC\n    hours: { days: [mon], open: \"09:00\", close: \"17:00\" }\n    groups:\n      - { manager: m@x.com, reps: [a@x.com] }\nrules:\n  - { name: rr, strategy: round_robin, pool: { team: T } }\nfallback: { owner: m@x.com }\n",
            "rr.yaml",
        )
        .unwrap(),
    );
    assert!(r.refresh_load().await.unwrap().is_none());
    assert_eq!(s.emu.request_count(), before);
}
