//! After hours, end to end: an in-process daemon on a [`ManualClock`], the emulators, and an
//! SMTP sink started in the test.
//!
//! The rules put every lead in the East team (Chicago, Monday to Friday 08:00–17:00) and the
//! clock says Saturday afternoon. A lead arriving then gets exactly one acknowledgement email
//! at once (rendered from the template, `Message-ID` derived from the step key) and no DM; a
//! restart before the opening changes nothing; moving the clock to Monday 08:00 Chicago routes
//! the lead and DMs its owner, once, and sends no second email.

mod common;

use common::*;
use handoff::clock::ManualClock;
use handoff::outbox::email;
use handoff::sandbox::smtp_sink::SmtpSink;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(30);

/// Saturday 2025-11-15 15:00 UTC (09:00 in Chicago): East is closed until Monday.
const SATURDAY: &str = "2025-11-15T15:00:00Z";
/// Monday 2025-11-17 08:00 in Chicago (CST, UTC−6).
const MONDAY_OPEN: &str = "2025-11-17T14:00:00Z";

const RULES: &str = r#"name: after-hours-test
teams:
  - name: East
    time_zone: America/Chicago
    hours: { days: [mon, tue, wed, thu, fri], open: "08:00", close: "17:00" }
    groups:
      - { manager: cleo.central@example.com, reps: [erin.east@example.com] }
rules:
  - name: east
    strategy: round_robin
    pool: { team: East }
    when_nobody_available: defer
fallback: { owner: cleo.central@example.com }
"#;

const TEMPLATE: &str = "Hi {{ first_name | default(\"there\") }},\n\n\
thanks for your interest{% if company %} from {{ company }}{% endif %}. Our {{ team }} team\n\
opens {{ opens_local }} and will call you then.\n";

fn ms(rfc3339: &str) -> i64 {
    rfc3339.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

/// A test environment routing with [`RULES`] and acknowledging through `sink`.
async fn env_after_hours(sink: &SmtpSink) -> TestEnv {
    let env = TestEnv::new(Options::default()).await;
    std::fs::create_dir(env.dir.path().join("templates")).unwrap();
    std::fs::write(env.dir.path().join("templates/ack.txt"), TEMPLATE).unwrap();
    env.use_rules(
        RULES,
        "  after_hours:\n    acknowledge: true\n    \
         subject: \"Thanks {{ first_name }}, we will call you {{ opens_local }}\"\n    \
         template: templates/ack.txt\n",
    );
    let mut with = std::fs::read_to_string(&env.config_path).unwrap();
    with.push_str(&format!(
        "smtp:\n  host: 127.0.0.1\n  port: {}\n  tls: none\n  from: \"Maven Sales <sales@maven.test>\"\n  timeout_s: 5\n",
        sink.addr().port()
    ));
    std::fs::write(&env.config_path, with).unwrap();
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_after_hours_lead_is_acknowledged_at_once_and_handed_off_at_the_opening() {
    let stop_sink = CancellationToken::new();
    let sink = SmtpSink::start("127.0.0.1:0".parse().unwrap(), stop_sink.clone())
        .await
        .unwrap();
    let mut env = env_after_hours(&sink).await;
    let clock = Arc::new(ManualClock::new(ms(SATURDAY)));
    env.clock = Some(clock.clone());
    env.start_in_process().await;

    let id = env.create_lead(
        "ana.lima@northwind-traders.io",
        json!({"firstname": "Ana", "company": "Northwind Traders"}),
    );
    let record = format!("hubspot:contacts:{id}");
    let dm_key = format!("lead:{record}:dm");

    // The acknowledgement goes out at once (the clock does not move), and nothing else.
    assert!(
        wait_until(WAIT, || !sink.messages().is_empty()).await,
        "no acknowledgement email; audit: {:?}",
        env.audit(&record).await
    );
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    let mails = sink.messages();
    assert_eq!(mails.len(), 1, "exactly one email");
    let mail = &mails[0];
    assert_eq!(mail.rcpt_to, ["ana.lima@northwind-traders.io"]);
    assert_eq!(mail.mail_from, "sales@maven.test");
    let message_id = email::message_id(&format!("ack:{record}:email"), "maven.test");
    assert_eq!(mail.header("Message-ID"), Some(message_id.clone()));
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Thanks Ana, we will call you Monday 08:00 (America/Chicago)")
    );
    let body = mail.body();
    assert!(body.starts_with("Hi Ana,\n"), "{body}");
    assert!(
        body.contains("from Northwind Traders. Our East team"),
        "{body}"
    );
    assert!(
        body.contains("opens Monday 08:00 (America/Chicago)"),
        "{body}"
    );
    assert!(
        env.messages_with_key(&dm_key).is_empty(),
        "no DM while closed"
    );
    assert_eq!(env.prop("contacts", &id, "hubspot_owner_id"), None);
    let acks = env.audit_events(&record, "after_hours_ack").await;
    assert_eq!(acks.len(), 1, "{:?}", env.audit(&record).await);
    let detail = &acks[0]["detail"];
    assert_eq!(detail["to_domain"], "northwind-traders.io");
    assert_eq!(detail["team"], "East");
    assert_eq!(detail["until_ms"], json!(ms(MONDAY_OPEN)));
    assert!(
        !acks[0].to_string().contains("ana.lima@"),
        "the address stays out of the audit trail: {}",
        acks[0]
    );
    let deferred = env.audit_events(&record, "deferred").await;
    assert_eq!(deferred.len(), 1);
    assert_eq!(deferred[0]["detail"]["until_ms"], json!(ms(MONDAY_OPEN)));

    // A restart before the opening: no second email, still no DM.
    clock.set(ms(MONDAY_OPEN) - 60_000);
    env.restart_in_process().await;
    env.wait_idle(WAIT, Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), 1, "the restart sent nothing");
    assert!(env.messages_with_key(&dm_key).is_empty());

    // The opening: the durable timer fires, the lead is routed and its owner DM'd, once.
    clock.set(ms(MONDAY_OPEN));
    assert!(
        wait_until(WAIT, || env.messages_with_key(&dm_key).len() == 1).await,
        "no DM at the opening; audit: {:?}",
        env.audit(&record).await
    );
    env.wait_idle(WAIT, Duration::from_millis(500)).await;
    let owner = env
        .prop("contacts", &id, "hubspot_owner_id")
        .expect("owner");
    assert_eq!(
        env.owner_email(&owner).as_deref(),
        Some("erin.east@example.com")
    );
    assert_eq!(env.messages_with_key(&dm_key).len(), 1);
    assert_eq!(
        env.slack.dm_messages_for("erin.east@example.com").len(),
        1,
        "one DM to the owner"
    );
    assert_eq!(sink.messages().len(), 1, "still exactly one email");
    assert_eq!(sink.messages_with_id(&message_id).len(), 1);
    assert_eq!(env.audit_events(&record, "after_hours_ack").await.len(), 1);
    let routed = env.audit_events(&record, "routed").await;
    assert_eq!(routed.len(), 1);
    // Speed-to-lead starts at the lead's arrival, not at the opening it waited for.
    assert_eq!(routed[0]["detail"]["received_ms"], json!(ms(SATURDAY)));
    assert_eq!(routed[0]["at_ms"], json!(ms(MONDAY_OPEN)));
    assert!(env.dead_letters().await.is_empty());

    env.stop_in_process().await;
    stop_sink.cancel();
}
