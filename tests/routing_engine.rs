//! The routing engine, strategy by strategy: territory, segment, named account, strict and
//! weighted round robin with caps, least loaded, availability (hours, holidays, out of
//! office) with each `when_nobody_available` action, the global fallback, YAML error
//! locations, the business-hours calendar across the 2026 DST changes, and `explain`.

use std::collections::BTreeMap;
use std::path::Path;

use handoff::routing::explain::{explain_lead, render_text, Verdict};
use handoff::routing::{
    route, BusinessCalendar, Decision, LoadSnapshot, Outcome, OwnerKind, RouteContext,
    RoutingError, RoutingState, RuleSet,
};
use jiff::civil::{date, time, Weekday};
use jiff::Timestamp;
use serde_json::{json, Value};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// Tuesday 2026-11-24 17:00 UTC: 12:00 in New York, 11:00 in Chicago, 09:00 in Los Angeles.
fn open_now() -> Timestamp {
    ts("2026-11-24T17:00:00Z")
}

/// Two teams in New York and Los Angeles, and one rule per strategy.
const RULES: &str = r#"
name: unit
regions: { EMEA: [FR, DE, GB] }
holiday_calendars: { us: [2026-11-26] }
teams:
  - name: East
    time_zone: America/New_York
    hours: { days: [mon, tue, wed, thu, fri], open: "08:00", close: "17:00" }
    holiday_calendars: [us]
    queue_owner: east-queue@example.com
    groups:
      - { manager: cara.losch@example.com, reps: [a@example.com, b@example.com, c@example.com] }
  - name: West
    time_zone: America/Los_Angeles
    hours: { days: [mon, tue, wed, thu, fri], open: "08:00", close: "17:00" }
    weights: { z@example.com: 0.5 }
    daily_cap: 100
    caps: { y@example.com: { daily: 2 } }
    groups:
      - { manager: summer.sewald@example.com, reps: [x@example.com, y@example.com, z@example.com] }
out_of_office:
  - { rep: b@example.com, from: 2026-12-01, to: 2026-12-02 }
rules:
  - name: named
    strategy: named_account
    when_nobody_available: queue_owner
    queue_owner: named-queue@example.com
  - name: enterprise
    strategy: segment
    segment: { employees: { min: 1000 }, industries: [medical] }
    pool: { reps: [a@example.com, x@example.com] }
    distribute: least_loaded
    when_nobody_available: manager
  - name: partners
    when: [{ field: lead_source, equals: partner }]
    strategy: least_loaded
    pool: { team: East }
  - name: california
    strategy: territory
    territory: { states: [CA], postal_codes: ["94000-96199"] }
    pool: { reps: [x@example.com] }
    when_nobody_available: defer
  - name: emea
    strategy: territory
    territory: { regions: [EMEA] }
    pool: { team: East }
    when_nobody_available: defer
  - name: americas
    strategy: territory
    territory: { country_codes: [US, CA] }
    pool: { team: West }
    when_nobody_available: queue_owner
    queue_owner: west-queue@example.com
  - name: everyone
    when: [{ field: lifecycle_stage, in: [SQL] }]
    strategy: round_robin
    pool: { team: East }
fallback: { owner: revops@example.com }
"#;

fn rules() -> RuleSet {
    RuleSet::parse(RULES, "unit.yaml").unwrap_or_else(|e| panic!("{e}"))
}

fn owner(d: &Decision) -> &str {
    d.owner.as_ref().map_or("", |o| o.email.as_str())
}

/// Routes `leads` in order, carrying the state forward; returns the owners.
fn run(
    rs: &RuleSet,
    leads: &[Value],
    ctx: &RouteContext,
    state: &mut RoutingState,
    now: Timestamp,
) -> Vec<String> {
    leads
        .iter()
        .map(|l| {
            let d = route(rs, l, ctx, state, now);
            state.apply(&d.updates);
            owner(&d).to_owned()
        })
        .collect()
}

#[test]
fn example_rule_set_loads_and_uses_every_strategy() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/routing.yaml");
    let rs = RuleSet::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rs.teams().len(), 3);
    let reps: usize = rs.teams().iter().map(|t| t.members.len()).sum();
    assert_eq!(reps, 35, "every Maven agent is a rep");
    let text = std::fs::read_to_string(&path).unwrap();
    for s in [
        "named_account",
        "segment",
        "territory",
        "round_robin",
        "least_loaded",
    ] {
        assert!(text.contains(&format!("strategy: {s}")), "{s} missing");
    }
    let west = rs.teams().iter().find(|t| t.name == "West").unwrap();
    let carl = west
        .members
        .iter()
        .find(|m| m.email == "carl.lin@example.com")
        .unwrap();
    assert_eq!((carl.weight_milli, carl.daily_cap), (500, Some(15)));
    assert_eq!(west.calendar.time_zone(), "America/Los_Angeles");
    assert_eq!(rs.fallback_owner(), "revops-queue@example.com");
}

#[test]
fn territory_by_region_state_and_postal_range() {
    let rs = rules();
    let mut st = RoutingState::default();
    let fr = json!({"country_code": "FR"});
    assert_eq!(
        run(
            &rs,
            &[fr.clone(), fr.clone(), fr.clone(), fr],
            &RouteContext::default(),
            &mut st,
            open_now()
        ),
        [
            "a@example.com",
            "b@example.com",
            "c@example.com",
            "a@example.com"
        ]
    );
    let d = route(
        &rs,
        &json!({"country_code": "US", "state": "ca"}),
        &RouteContext::default(),
        &st,
        open_now(),
    );
    assert_eq!(
        (d.rule.as_str(), owner(&d)),
        ("california", "x@example.com")
    );
    let d = route(
        &rs,
        &json!({"country_code": "US", "postal_code": "94105-1234"}),
        &RouteContext::default(),
        &st,
        open_now(),
    );
    assert_eq!(d.rule, "california");
    let d = route(
        &rs,
        &json!({"country_code": "US", "postal_code": "10001"}),
        &RouteContext::default(),
        &st,
        open_now(),
    );
    assert_eq!(d.rule, "americas");
    assert_eq!(d.owner.as_ref().unwrap().team.as_deref(), Some("West"));
}

#[test]
fn segment_bands_and_industry() {
    let rs = rules();
    let st = RoutingState::default();
    let ctx = RouteContext::default();
    let big = json!({"industry": "Medical", "employees": "1,200", "country_code": "FR"});
    let d = route(&rs, &big, &ctx, &st, open_now());
    assert_eq!(d.rule, "enterprise");
    let small = json!({"industry": "medical", "employees": 999, "country_code": "FR"});
    let d = route(&rs, &small, &ctx, &st, open_now());
    assert_eq!(d.rule, "emea");
    let trace = d
        .explain
        .rules
        .iter()
        .find(|r| r.rule == "enterprise")
        .unwrap();
    assert_eq!(trace.verdict, Verdict::Skipped);
    assert!(
        trace.detail.contains("employees 999 is below 1000"),
        "{}",
        trace.detail
    );
}

#[test]
fn named_account_owner_keeps_the_lead_unless_away() {
    let rs = rules();
    let st = RoutingState::default();
    let mut ctx = RouteContext {
        account_owner: Some("Y@example.com".into()),
        ..Default::default()
    };
    let d = route(&rs, &json!({"country_code": "FR"}), &ctx, &st, open_now());
    assert_eq!(
        (owner(&d), d.owner.as_ref().unwrap().kind, &d.outcome),
        ("y@example.com", OwnerKind::AccountOwner, &Outcome::Assigned)
    );
    ctx.out_of_office.insert("y@example.com".into());
    let d = route(&rs, &json!({"country_code": "FR"}), &ctx, &st, open_now());
    assert_eq!(
        (owner(&d), d.owner.as_ref().unwrap().kind),
        ("named-queue@example.com", OwnerKind::QueueOwner)
    );
    assert!(
        matches!(&d.outcome, Outcome::Fallback { reason } if reason.contains("nobody available"))
    );
}

#[test]
fn weighted_round_robin_gives_a_new_rep_half_a_share() {
    let rs = rules();
    let mut st = RoutingState::default();
    let us = json!({"country_code": "US"});
    let owners = run(
        &rs,
        &vec![us; 50],
        &RouteContext::default(),
        &mut st,
        open_now(),
    );
    let count = |r: &str| owners.iter().filter(|o| o.as_str() == r).count();
    // y is capped at 2 a day; x and z share the rest 2:1.
    assert_eq!(count("y@example.com"), 2);
    assert_eq!(count("x@example.com") + count("z@example.com"), 48);
    assert_eq!(count("x@example.com"), 32);
    assert_eq!(count("z@example.com"), 16);
}

#[test]
fn daily_cap_holds_and_resets_the_next_utc_day() {
    let rs = rules();
    let mut st = RoutingState::default();
    let us = json!({"country_code": "US"});
    run(
        &rs,
        &vec![us.clone(); 10],
        &RouteContext::default(),
        &mut st,
        open_now(),
    );
    assert_eq!(st.day_count("y@example.com", open_now()), 2);
    let d = route(&rs, &us, &RouteContext::default(), &st, open_now());
    let y = d
        .explain
        .rules
        .last()
        .unwrap()
        .candidates
        .iter()
        .find(|c| c.rep == "y@example.com")
        .unwrap();
    assert!(y.at_cap && y.daily.unwrap().used == 2);
    let tomorrow = ts("2026-11-25T17:00:00Z");
    assert_eq!(st.day_count("y@example.com", tomorrow), 0);
    assert_eq!(st.week_count("y@example.com", tomorrow), 2, "same ISO week");
    let owners = run(
        &rs,
        &vec![us; 10],
        &RouteContext::default(),
        &mut st,
        tomorrow,
    );
    assert_eq!(owners.iter().filter(|o| *o == "y@example.com").count(), 2);
}

#[test]
fn every_rep_at_cap_falls_through_to_the_fallback_with_the_reason() {
    let text = RULES
        .replace("daily_cap: 100", "daily_cap: 1")
        .replace("{ daily: 2 }", "{ daily: 1 }");
    let rs = RuleSet::parse(&text, "capped.yaml").unwrap();
    let mut st = RoutingState::default();
    let us = json!({"country_code": "US"});
    let owners = run(
        &rs,
        &vec![us.clone(); 3],
        &RouteContext::default(),
        &mut st,
        open_now(),
    );
    assert_eq!(owners.len(), 3);
    let d = route(&rs, &us, &RouteContext::default(), &st, open_now());
    assert_eq!(
        (d.rule.as_str(), owner(&d)),
        ("fallback", "revops@example.com")
    );
    assert!(
        matches!(&d.outcome, Outcome::Fallback { reason } if reason == "rule americas: every available rep is at a cap")
    );
    assert_eq!(
        d.explain
            .rules
            .iter()
            .find(|r| r.rule == "americas")
            .unwrap()
            .verdict,
        Verdict::Exhausted
    );
}

#[test]
fn least_loaded_picks_fewest_open_leads_and_reports_snapshot_age() {
    let rs = rules();
    let st = RoutingState::default();
    let load = LoadSnapshot {
        as_of: ts("2026-11-24T16:55:00Z"),
        open_leads: BTreeMap::from([
            ("a@example.com".into(), 5),
            ("b@example.com".into(), 2),
            ("c@example.com".into(), 1),
        ]),
    };
    let ctx = RouteContext {
        load: Some(load),
        ..Default::default()
    };
    let d = route(
        &rs,
        &json!({"lead_source": "partner"}),
        &ctx,
        &st,
        open_now(),
    );
    assert_eq!((d.rule.as_str(), owner(&d)), ("partners", "c@example.com"));
    assert_eq!(d.explain.load.as_ref().unwrap().age_seconds, 300);
    assert!(render_text(&d.explain).contains("(300 s old)"));
    // No snapshot figure for a rep counts as 0 open leads.
    let mut ctx2 = ctx.clone();
    ctx2.load
        .as_mut()
        .unwrap()
        .open_leads
        .remove("a@example.com");
    let d = route(
        &rs,
        &json!({"lead_source": "partner"}),
        &ctx2,
        &st,
        open_now(),
    );
    assert_eq!(owner(&d), "a@example.com");
}

#[test]
fn unavailable_reps_are_skipped_and_nobody_available_defers_to_the_next_opening() {
    let rs = rules();
    let st = RoutingState::default();
    let fr = json!({"country_code": "FR"});
    // b is out of office on 1-2 December (config); a is out per the CRM.
    let tue = ts("2026-12-01T15:00:00Z");
    let ctx = RouteContext {
        out_of_office: ["a@example.com".to_owned()].into(),
        ..Default::default()
    };
    let d = route(&rs, &fr, &ctx, &st, tue);
    assert_eq!(owner(&d), "c@example.com");
    let cands = &d.explain.rules.last().unwrap().candidates;
    assert!(cands[1]
        .unavailable_because
        .as_deref()
        .unwrap()
        .contains("out of office 2026-12-01 to 2026-12-02"));
    // After hours on the eve of Thanksgiving (a holiday on the 26th): the pool's next
    // opening is Friday 27th at 08:00 in New York.
    let eve = ts("2026-11-25T23:00:00Z");
    let d = route(&rs, &fr, &RouteContext::default(), &st, eve);
    assert_eq!(d.owner, None);
    assert_eq!(
        d.outcome,
        Outcome::Deferred {
            until_utc: ts("2026-11-27T13:00:00Z")
        }
    );
    assert_eq!(
        d.explain.rules.last().unwrap().verdict,
        Verdict::NobodyAvailable
    );
    // Manager for the enterprise pool; queue owner for the Americas.
    let sat = ts("2026-11-28T17:00:00Z");
    let d = route(
        &rs,
        &json!({"industry": "medical", "employees": 5000}),
        &RouteContext::default(),
        &st,
        sat,
    );
    assert_eq!(
        (owner(&d), d.owner.as_ref().unwrap().kind),
        ("cara.losch@example.com", OwnerKind::Manager)
    );
    let d = route(
        &rs,
        &json!({"country_code": "US"}),
        &RouteContext::default(),
        &st,
        sat,
    );
    assert_eq!(
        (owner(&d), d.owner.as_ref().unwrap().kind),
        ("west-queue@example.com", OwnerKind::QueueOwner)
    );
}

#[test]
fn no_matching_rule_goes_to_the_fallback() {
    let d = route(
        &rules(),
        &json!({"country_code": "JP"}),
        &RouteContext::default(),
        &RoutingState::default(),
        open_now(),
    );
    assert_eq!(
        (d.rule.as_str(), owner(&d)),
        ("fallback", "revops@example.com")
    );
    assert_eq!(
        d.outcome,
        Outcome::Fallback {
            reason: "no rule matched".into()
        }
    );
    assert_eq!(d.explain.rules.len(), 7, "every rule was evaluated");
    assert!(d
        .explain
        .rules
        .iter()
        .all(|r| r.verdict == Verdict::Skipped));
}

#[test]
fn explain_lists_skipped_rules_with_reasons() {
    let rs = rules();
    let lead = json!({"country_code": "DE", "employees": 40});
    let e = explain_lead(
        &rs,
        &lead,
        None,
        &RouteContext::default(),
        &RoutingState::default(),
        open_now(),
    );
    let text = render_text(&e);
    for want in [
        "1. named [named_account] Skipped: no matched account with an owner",
        "2. enterprise [segment] Skipped: industry is missing",
        "3. partners [least_loaded] Skipped: condition failed: lead_source is missing",
        "4. california [territory] Skipped: not in the territory (country_code DE, state missing, postal_code missing)",
        "5. emea [territory] Matched: country_code DE is in the territory; chose a@example.com",
        "=> a@example.com (East) weight 1 available",
        "choice: a@example.com (Rep) by rule emea",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    let v = serde_json::to_value(&e).unwrap();
    assert_eq!(v["rules"][4]["verdict"], "matched");
    assert_eq!(v["rules"][4]["candidates"].as_array().unwrap().len(), 3);
}

#[test]
fn explain_maps_a_raw_contact_and_reports_gates() {
    let mapping = handoff::mapping::Mapping::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings/hubspot-contact-to-lead.yaml"),
    )
    .unwrap();
    let contact = json!({"id": "7", "properties": {"email": "ana@acme.io", "company": "Acme", "country": "France",
        "hs_legal_basis": "Legitimate interest – prospect/lead"}});
    let e = explain_lead(
        &rules(),
        &contact,
        Some(&mapping),
        &RouteContext::default(),
        &RoutingState::default(),
        open_now(),
    );
    assert!(e.gates.iter().all(|g| g.passed));
    assert!(e.choice.contains("by rule emea"), "{}", e.choice);
    let mut no_consent = contact.clone();
    no_consent["properties"]
        .as_object_mut()
        .unwrap()
        .remove("hs_legal_basis");
    let e = explain_lead(
        &rules(),
        &no_consent,
        Some(&mapping),
        &RouteContext::default(),
        &RoutingState::default(),
        open_now(),
    );
    assert_eq!(e.choice, "not routed: gate consent failed (no_consent)");
    assert!(e.rules.is_empty());
}

fn err(text: &str) -> RoutingError {
    RuleSet::parse(text, "r.yaml").expect_err("should fail")
}

#[test]
fn yaml_errors_name_line_column_and_field() {
    let e = err(&RULES.replace(
        "    distribute: least_loaded\n",
        "    distribute: least_loaded\n    colour: red\n",
    ));
    let at = e.position().unwrap();
    assert!(matches!(e, RoutingError::Syntax { .. }));
    assert_eq!((at.line, at.column), (33, 5), "{e}");
    assert!(at.path.starts_with("rules[1]"), "{e}");
    assert!(
        e.to_string()
            .starts_with("r.yaml:33:5: rules[1].colour: unknown field `colour`"),
        "{e}"
    );

    let e = err(&RULES.replace(
        "strategy: least_loaded\n    pool: { team: East }",
        "strategy: fewest\n    pool: { team: East }",
    ));
    assert_eq!(e.to_string(), "r.yaml:36:15: rules[2].strategy: unknown strategy \"fewest\" (expected one of: territory, segment, named_account, round_robin, least_loaded)");

    let e = err(&RULES.replace("pool: { team: West }", "pool: { team: North }"));
    assert_eq!(
        e.to_string(),
        "r.yaml:51:19: rules[5].pool.team: unknown team \"North\""
    );

    let e = err(&RULES.replace("America/Los_Angeles", "America/Springfield"));
    let at = e.position().unwrap();
    assert_eq!(
        (at.line, at.column, at.path.as_str()),
        (14, 16, "teams[1].time_zone"),
        "{e}"
    );

    let e = err(&RULES.replace("from: 2026-12-01", "from: 2026-13-01"));
    assert_eq!(e.position().unwrap().path, "out_of_office[0].from", "{e}");
    assert!(e.to_string().contains("is not a date"), "{e}");

    let e = err(&RULES.replace("reps: [x@example.com] }", "reps: [nobody@example.com] }"));
    assert_eq!(e.position().unwrap().path, "rules[3].pool.reps[0]", "{e}");
}

fn ny() -> BusinessCalendar {
    let weekdays = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
    ];
    BusinessCalendar::new(
        "America/New_York",
        weekdays,
        time(8, 0, 0, 0),
        time(17, 0, 0, 0),
        [date(2026, 11, 26)],
    )
    .unwrap()
}

#[test]
fn calendar_across_the_us_dst_changes_and_a_holiday() {
    let cal = ny();
    // Before 8 March 2026 New York is UTC-5: 08:00 = 13:00Z.
    assert!(!cal.is_open(ts("2026-03-06T12:59:59Z")));
    assert!(cal.is_open(ts("2026-03-06T13:00:00Z")));
    assert!(!cal.is_open(ts("2026-03-06T22:00:00Z")));
    // Friday evening → Monday 9 March, now UTC-4: 08:00 = 12:00Z.
    assert_eq!(
        cal.next_opening(ts("2026-03-06T22:00:00Z")),
        ts("2026-03-09T12:00:00Z")
    );
    assert!(cal.is_open(ts("2026-03-09T12:00:00Z")));
    // 1 November 2026 the clocks go back: Friday 30 October → Monday 2 November 13:00Z.
    assert_eq!(
        cal.next_opening(ts("2026-10-30T21:00:00Z")),
        ts("2026-11-02T13:00:00Z")
    );
    assert!(cal.is_open(ts("2026-10-30T20:59:00Z")), "16:59 EDT");
    // Thanksgiving (26 Nov) is a holiday: Wednesday evening → Friday 27 at 08:00 EST.
    assert!(!cal.is_open(ts("2026-11-26T15:00:00Z")));
    assert!(cal
        .closed_because(ts("2026-11-26T15:00:00Z"))
        .unwrap()
        .contains("holiday 2026-11-26"));
    assert_eq!(
        cal.next_opening(ts("2026-11-25T22:00:00Z")),
        ts("2026-11-27T13:00:00Z")
    );
    // Open now: next_opening is now.
    assert_eq!(
        cal.next_opening(ts("2026-11-27T15:00:00Z")),
        ts("2026-11-27T15:00:00Z")
    );
}

#[test]
fn calendar_across_the_eu_dst_changes_and_a_gap() {
    let weekdays = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
    ];
    let berlin = BusinessCalendar::new(
        "Europe/Berlin",
        weekdays,
        time(8, 0, 0, 0),
        time(17, 0, 0, 0),
        [],
    )
    .unwrap();
    // 29 March 2026: CET (UTC+1) → CEST (UTC+2).
    assert_eq!(
        berlin.next_opening(ts("2026-03-27T17:00:00Z")),
        ts("2026-03-30T06:00:00Z")
    );
    // 25 October 2026: back to CET.
    assert_eq!(
        berlin.next_opening(ts("2026-10-23T16:00:00Z")),
        ts("2026-10-26T07:00:00Z")
    );
    // An opening inside the spring-forward gap (02:30 on 8 March in New York) moves past it.
    let sunday = BusinessCalendar::new(
        "America/New_York",
        [Weekday::Sunday],
        time(2, 30, 0, 0),
        time(5, 0, 0, 0),
        [],
    )
    .unwrap();
    assert_eq!(
        sunday.next_opening(ts("2026-03-08T00:00:00Z")),
        ts("2026-03-08T07:30:00Z")
    );
    assert!(BusinessCalendar::new(
        "Mars/Olympus",
        weekdays,
        time(8, 0, 0, 0),
        time(17, 0, 0, 0),
        []
    )
    .is_err());
}
