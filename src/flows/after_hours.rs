//! After hours, the prospect's side: a lead that arrives while its team is closed (the lead
//! flow defers it to the team's next opening, see [`super::deferred`]) gets an immediate
//! acknowledgement email, rendered from `lead_handoff.after_hours` (see `config/smtp.rs`) and
//! sent over SMTP by the outbox ([`Action::SendEmail`]).
//!
//! The saga is keyed `ack:<record_key>`: the store keeps one saga per key, so a prospect gets
//! one acknowledgement per lead, ever, even when the lead is deferred again or the deferral is
//! decided twice. Delivery is at least once (see [`crate::outbox::email`]); every attempt
//! carries the same `Message-ID`. The audit entry `after_hours_ack` names only the recipient's
//! domain: the address is personal data.

use super::{field, Flows};
use crate::outbox::{email, Action};
use crate::routing::explain::Verdict;
use crate::routing::{Decision, RuleSet};
use crate::state::{AuditEntry, Saga};
use handoff_connector::IdempotencyKey;
use serde_json::{json, Map, Value};

/// The saga key of a lead's acknowledgement: `ack:<record_key>`.
pub fn saga_key(record_key: &str) -> String {
    format!("ack:{record_key}")
}

/// The mapped lead's `consent` value that allows emailing the prospect (the bundled lead
/// mapping sets it, e.g. when the CRM records a GDPR legal basis).
pub const CONSENT_GRANTED: &str = "granted";

/// The team's opening as people read it: `Monday 08:00 (America/Chicago)` (the zone's IANA
/// name, or its UTC offset when it has none).
pub fn opens_local(opens: &jiff::Zoned) -> String {
    let zone = opens
        .time_zone()
        .iana_name()
        .map(str::to_string)
        .unwrap_or_else(|| format!("UTC{}", opens.offset()));
    format!("{} ({zone})", opens.strftime("%A %H:%M"))
}

/// The team a deferred `decision` waits for and its opening `until` in the team's zone: the
/// team of the candidates of the rule that found nobody available. `None` when the decision
/// names no such team (it was not deferred by a pool).
pub fn deferred_team(
    rules: &RuleSet,
    decision: &Decision,
    until: jiff::Timestamp,
) -> Option<(String, jiff::Zoned)> {
    let team = decision
        .explain
        .rules
        .iter()
        .rev()
        .filter(|r| r.verdict == Verdict::NobodyAvailable)
        .flat_map(|r| r.candidates.iter())
        .find_map(|c| c.team.clone())?;
    let zone = rules
        .teams()
        .iter()
        .find(|t| t.name == team)?
        .calendar
        .time_zone();
    let opens = until.in_tz(zone).ok()?;
    Some((team, opens))
}

/// The acknowledgement of the deferred lead `record_key` (CRM record `record_id`, mapped
/// fields `lead`) whose team `team` opens at `opens`, decided at `now_ms` (UTC ms): the saga
/// `ack:<record_key>` with one [`Action::SendEmail`] step, and the `after_hours_ack` audit
/// entry (`{to_domain, until_ms, team, record_id, saga}`).
///
/// `None` when acknowledgements are off (no `lead_handoff.after_hours`, `acknowledge: false`,
/// no `smtp`), or the lead has no valid `email`, or its `consent` is not
/// [`CONSENT_GRANTED`]. Counts `handoff_after_hours_acks_total` when it returns a saga.
pub fn ack_saga(
    flows: &Flows,
    record_key: &str,
    record_id: &str,
    lead: &Map<String, Value>,
    team: &str,
    opens: jiff::Zoned,
    now_ms: i64,
) -> Option<(Saga, AuditEntry)> {
    let config = &flows.loaded.config;
    let ack = config.lead_handoff.after_hours.as_ref()?;
    if !ack.acknowledge {
        return None;
    }
    let smtp = config.smtp.as_ref()?;
    let Some(template) = ack.compiled.as_ref() else {
        tracing::warn!(
            record = record_key,
            "after-hours template not compiled (config not loaded with config::load); no acknowledgement"
        );
        return None;
    };
    if field(lead, "consent") != Some(CONSENT_GRANTED) {
        return None;
    }
    let to: lettre::Address = field(lead, "email")?.parse().ok()?;
    let from: lettre::message::Mailbox = smtp.from.value.parse().ok()?;

    let opens_text = opens_local(&opens);
    let mut vars = lead.clone();
    vars.insert("team".into(), json!(team));
    vars.insert("opens_local".into(), json!(opens_text));
    let rendered = match template.render(&vars) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(record = record_key, error = %e, "after-hours acknowledgement not rendered");
            return None;
        }
    };

    let key = saga_key(record_key);
    let step_key = format!("{key}:email");
    let message_id = email::message_id(&step_key, from.email.domain());
    let saga = Saga::new(
        key.clone(),
        "after_hours",
        record_key,
        vec![(
            IdempotencyKey::new(step_key),
            "acknowledge_prospect",
            Action::SendEmail {
                to: to.to_string(),
                subject: rendered.subject,
                text: rendered.text,
                message_id,
            }
            .to_json(),
        )],
        now_ms,
    );
    let domain = to.domain().to_string();
    let until_ms = opens.timestamp().as_millisecond();
    let audit = AuditEntry::new(
        now_ms,
        record_key,
        "after_hours_ack",
        format!("acknowledgement email to the prospect (@{domain}); {team} opens {opens_text}"),
        json!({
            "to_domain": domain,
            "until_ms": until_ms,
            "team": team,
            "record_id": record_id,
            "saga": key,
        }),
    );
    metrics::counter!("handoff_after_hours_acks_total").increment(1);
    Some((saga, audit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AckTemplate, AfterHoursConfig, SmtpConfig, SmtpTls};
    use crate::flows::owners::OwnerDirectory;
    use serde_saphyr::{Location, Spanned};
    use std::path::{Path, PathBuf};
    use std::sync::{Arc, RwLock};

    const BODY: &str = "Hi {{ first_name | default(\"there\") }},\n\n\
        thanks for reaching out about {{ company }}. Our {{ team }} team opens {{ opens_local }}\n\
        and will call you then.\n";

    fn spanned<T>(v: T) -> Spanned<T> {
        Spanned::new(v, Location::UNKNOWN, Location::UNKNOWN)
    }

    fn flows(acknowledge: bool, smtp: bool) -> Flows {
        let mut loaded = crate::sandbox::bundled_config().unwrap();
        let fields: std::collections::BTreeSet<String> = loaded
            .mapping(&loaded.config.lead_handoff.mapping.value)
            .target_fields()
            .chain(crate::config::ACK_EXTRA_PLACEHOLDERS)
            .map(String::from)
            .collect();
        let subject = "We got your request, {{ first_name }}";
        let compiled = AckTemplate::compile(subject, BODY, Path::new("ack.txt"), &fields).unwrap();
        loaded.config.lead_handoff.after_hours = Some(AfterHoursConfig {
            acknowledge,
            subject: spanned(subject.to_string()),
            template: spanned(PathBuf::from("ack.txt")),
            compiled: Some(Arc::new(compiled)),
        });
        loaded.config.smtp = smtp.then(|| SmtpConfig {
            host: "127.0.0.1".into(),
            port: Some(2525),
            tls: SmtpTls::None,
            username: None,
            password: None,
            from: spanned("Maven Sales <sales@maven.test>".to_string()),
            timeout_s: 5,
        });
        Flows {
            loaded: Arc::new(loaded),
            owners: Arc::new(RwLock::new(OwnerDirectory::default())),
            marketing_owners: Default::default(),
        }
    }

    fn lead(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn anna() -> Map<String, Value> {
        lead(json!({
            "email": "anna@berlin-gmbh.de",
            "first_name": "Anna",
            "company": "Berlin GmbH",
            "consent": "granted",
        }))
    }

    /// Monday 2026-11-23 08:00 in Chicago (14:00 UTC).
    fn opening() -> jiff::Zoned {
        "2026-11-23T08:00:00[America/Chicago]".parse().unwrap()
    }

    #[test]
    fn the_saga_sends_the_rendered_email_once_per_lead_with_a_stable_message_id() {
        let f = flows(true, true);
        let now = 1_795_000_000_000;
        let (saga, audit) = ack_saga(&f, "crm:leads:42", "42", &anna(), "Central", opening(), now)
            .expect("an acknowledgement");
        assert_eq!(saga.key, "ack:crm:leads:42");
        assert_eq!(saga.record_key, "crm:leads:42");
        assert_eq!(saga.created_at_ms, now);
        assert_eq!(saga.steps.len(), 1);
        let step = &saga.steps[0];
        assert_eq!(step.key.as_str(), "ack:crm:leads:42:email");
        let action: Action = serde_json::from_value(step.action.clone()).unwrap();
        let Action::SendEmail {
            to,
            subject,
            text,
            message_id,
        } = action
        else {
            panic!("{action:?}")
        };
        assert_eq!(to, "anna@berlin-gmbh.de");
        assert_eq!(subject, "We got your request, Anna");
        assert_eq!(
            text,
            "Hi Anna,\n\nthanks for reaching out about Berlin GmbH. Our Central team opens \
             Monday 08:00 (America/Chicago)\nand will call you then."
        );
        assert_eq!(
            message_id,
            email::message_id("ack:crm:leads:42:email", "maven.test")
        );
        // Decided again (another deferral): the same keys and Message-ID.
        let (again, _) = ack_saga(
            &f,
            "crm:leads:42",
            "42",
            &anna(),
            "Central",
            opening(),
            now + 5,
        )
        .unwrap();
        assert_eq!(again.key, saga.key);
        assert_eq!(again.steps[0].action["message_id"], json!(message_id));

        assert_eq!(audit.event, "after_hours_ack");
        assert_eq!(audit.at_ms, now);
        assert_eq!(audit.detail["to_domain"], "berlin-gmbh.de");
        assert_eq!(audit.detail["team"], "Central");
        assert_eq!(
            audit.detail["until_ms"],
            json!(jiff::Timestamp::from_second(1_795_442_400)
                .unwrap()
                .as_millisecond())
        );
        let shown = format!("{} {}", audit.message, audit.detail);
        assert!(!shown.contains("anna@"), "the address stays out: {shown}");
    }

    #[test]
    fn no_acknowledgement_when_off_or_without_email_consent_or_smtp() {
        let now = 0;
        let none = |f: &Flows, l: Map<String, Value>| {
            ack_saga(f, "crm:leads:1", "1", &l, "East", opening(), now).is_none()
        };
        assert!(none(&flows(false, true), anna()), "acknowledge: false");
        assert!(none(&flows(true, false), anna()), "no smtp section");
        let f = flows(true, true);
        let mut no_email = anna();
        no_email.remove("email");
        assert!(none(&f, no_email));
        let mut bad_email = anna();
        bad_email.insert("email".into(), json!("not an address"));
        assert!(none(&f, bad_email));
        let mut no_consent = anna();
        no_consent.remove("consent");
        assert!(none(&f, no_consent));
        let mut f = flows(true, true);
        Arc::get_mut(&mut f.loaded)
            .unwrap()
            .config
            .lead_handoff
            .after_hours = None;
        assert!(none(&f, anna()), "no after_hours section");
        assert!(!none(&flows(true, true), anna()));
    }

    #[test]
    fn a_deferral_names_the_closed_team_and_its_local_opening() {
        let rules = RuleSet::parse(
            r#"name: t
teams:
  - name: East
    time_zone: America/Chicago
    hours: { days: [mon, tue, wed, thu, fri], open: "08:00", close: "17:00" }
    groups:
      - { manager: boss@example.com, reps: [erin.east@example.com] }
rules:
  - name: east
    strategy: round_robin
    pool: { team: East }
    when_nobody_available: defer
fallback: { owner: boss@example.com }
"#,
            "t.yaml",
        )
        .unwrap();
        let saturday: jiff::Timestamp = "2026-11-21T15:00:00Z".parse().unwrap();
        let decision = crate::routing::route(
            &rules,
            &json!({"email": "a@b.de"}),
            &crate::routing::RouteContext::default(),
            &crate::routing::RoutingState::default(),
            saturday,
        );
        let crate::routing::Outcome::Deferred { until_utc } = decision.outcome else {
            panic!("{:?}", decision.outcome)
        };
        let (team, opens) = deferred_team(&rules, &decision, until_utc).expect("a team");
        assert_eq!(team, "East");
        assert_eq!(opens, opening_at("2026-11-23T08:00:00[America/Chicago]"));
        assert_eq!(opens_local(&opens), "Monday 08:00 (America/Chicago)");
    }

    fn opening_at(s: &str) -> jiff::Zoned {
        s.parse().unwrap()
    }

    #[test]
    fn the_opening_reads_as_weekday_time_and_zone() {
        assert_eq!(opens_local(&opening()), "Monday 08:00 (America/Chicago)");
        let fixed = jiff::Timestamp::from_second(0)
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(-5)));
        assert_eq!(opens_local(&fixed), "Wednesday 19:00 (UTC-05)");
    }
}
