//! Property tests of the routing engine: smooth weighted round robin stays within one
//! assignment of each rep's target share at every point of a run; daily and weekly caps are
//! never exceeded; an unavailable rep is never chosen while an available one exists (and
//! nobody available means a deferral to a real opening); every decision has exactly one owner,
//! or none and a deferral.

use std::collections::BTreeMap;
use std::path::Path;

use handoff::routing::explain::Verdict;
use handoff::routing::state::{day_key, week_key};
use handoff::routing::{
    route, Outcome, OwnerKind, RouteContext, RoutingState, RuleSet, StateUpdate,
};
use jiff::Timestamp;
use proptest::prelude::*;
use serde_json::json;

fn rep(i: usize) -> String {
    format!("rep{i}@example.com")
}

/// One team open around the clock every day (UTC), reps with the given weights (thousandths)
/// and caps, and one round-robin rule over it.
fn one_team(weights: &[u32], caps: &[(Option<u32>, Option<u32>)]) -> RuleSet {
    let reps: Vec<String> = (0..weights.len()).map(rep).collect();
    let mut y = String::from("name: prop\nteams:\n  - name: T\n    time_zone: UTC\n    hours: { days: [mon, tue, wed, thu, fri, sat, sun], open: \"00:00\", close: \"23:59\" }\n");
    y += &format!(
        "    groups: [{{ manager: boss@example.com, reps: [{}] }}]\n",
        reps.join(", ")
    );
    y += "    weights: {";
    for (i, w) in weights.iter().enumerate() {
        y += &format!(" {}: {},", rep(i), f64::from(*w) / 1000.0);
    }
    y += " }\n    caps: {";
    for (i, (d, w)) in caps.iter().enumerate() {
        let d = d.map(|d| format!("daily: {d},")).unwrap_or_default();
        let w = w.map(|w| format!("weekly: {w}")).unwrap_or_default();
        y += &format!(" {}: {{ {d} {w} }},", rep(i));
    }
    y += " }\nrules:\n  - name: rr\n    strategy: round_robin\n    pool: { team: T }\nfallback: { owner: fallback@example.com }\n";
    RuleSet::parse(&y, "prop.yaml").unwrap_or_else(|e| panic!("{e}\n{y}"))
}

fn t0() -> Timestamp {
    "2026-11-23T00:00:00Z".parse().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn weighted_round_robin_stays_within_one_assignment_of_its_share(
        halves in prop::collection::vec(1u32..=6, 2..=6),
        picks in 1usize..150,
    ) {
        let weights: Vec<u32> = halves.iter().map(|h| h * 500).collect();
        let total: i64 = weights.iter().map(|w| i64::from(*w)).sum();
        let rs = one_team(&weights, &vec![(None, None); weights.len()]);
        let mut state = RoutingState::default();
        let mut counts = vec![0i64; weights.len()];
        let now = t0() + jiff::SignedDuration::from_hours(10);
        for k in 1..=picks as i64 {
            let d = route(&rs, &json!({}), &RouteContext::default(), &state, now);
            state.apply(&d.updates);
            let who = d.owner.expect("an owner").email;
            let i = (0..weights.len()).find(|i| rep(*i) == who).expect("a pool rep");
            counts[i] += 1;
            for (j, w) in weights.iter().enumerate() {
                // |count_j - k * w_j / W| <= 1, in whole numbers.
                let off = (counts[j] * total - k * i64::from(*w)).abs();
                prop_assert!(off <= total, "after {k} picks rep {j} has {} for weight {w}/{total}", counts[j]);
            }
        }
    }

    #[test]
    fn caps_are_never_exceeded(
        caps in prop::collection::vec((prop::option::of(0u32..4), prop::option::of(0u32..9)), 2..=5),
        gaps in prop::collection::vec(0i64..(36 * 3600), 0..80),
    ) {
        let rs = one_team(&vec![1000; caps.len()], &caps);
        let mut state = RoutingState::default();
        let mut now = t0();
        let mut day: BTreeMap<(String, String), u32> = BTreeMap::new();
        let mut week: BTreeMap<(String, String), u32> = BTreeMap::new();
        for gap in gaps {
            now += jiff::SignedDuration::from_secs(gap);
            let d = route(&rs, &json!({}), &RouteContext::default(), &state, now);
            state.apply(&d.updates);
            if let Some(o) = d.owner.filter(|o| o.kind == OwnerKind::Rep) {
                let i = (0..caps.len()).find(|i| rep(*i) == o.email).unwrap();
                let dc = day.entry((o.email.clone(), day_key(now))).or_default();
                *dc += 1;
                let wc = week.entry((o.email.clone(), week_key(now))).or_default();
                *wc += 1;
                if let Some(cap) = caps[i].0 { prop_assert!(*dc <= cap, "{} over daily cap {cap}", o.email); }
                if let Some(cap) = caps[i].1 { prop_assert!(*wc <= cap, "{} over weekly cap {cap}", o.email); }
            } else {
                // Only when every rep that is open is at a cap.
                let not_assigned = matches!(d.outcome, Outcome::Fallback { .. } | Outcome::Deferred { .. });
                prop_assert!(not_assigned, "{:?}", d.outcome);
                let all_capped = caps.iter().enumerate().all(|(i, (dcap, wcap))| {
                    dcap.is_some_and(|c| state.day_count(&rep(i), now) >= c) || wcap.is_some_and(|c| state.week_count(&rep(i), now) >= c)
                });
                prop_assert!(all_capped || !rs.teams()[0].calendar.is_open(now), "not assigned though a rep had room");
            }
        }
    }
}

/// Two teams in New York and Tokyo, 09:00-17:00 on weekdays, one pool across both.
fn two_offices() -> RuleSet {
    let y = r#"
name: offices
teams:
  - name: NY
    time_zone: America/New_York
    hours: { days: [mon, tue, wed, thu, fri], open: "09:00", close: "17:00" }
    holidays: [2026-11-26]
    groups: [{ manager: m1@example.com, reps: [rep0@example.com, rep1@example.com, rep2@example.com] }]
  - name: TYO
    time_zone: Asia/Tokyo
    hours: { days: [mon, tue, wed, thu, fri], open: "09:00", close: "17:00" }
    groups: [{ manager: m2@example.com, reps: [rep3@example.com, rep4@example.com, rep5@example.com] }]
out_of_office:
  - { rep: rep1@example.com, from: 2026-11-24, to: 2026-11-30 }
rules:
  - name: all
    strategy: round_robin
    pool: { reps: [rep0@example.com, rep1@example.com, rep2@example.com, rep3@example.com, rep4@example.com, rep5@example.com] }
fallback: { owner: fallback@example.com }
"#;
    RuleSet::parse(y, "offices.yaml").unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn an_unavailable_rep_is_never_chosen_while_an_available_one_exists(
        away in prop::collection::vec(any::<bool>(), 6),
        offset in 0i64..(14 * 86_400),
        rotation in 0u64..6,
    ) {
        let rs = two_offices();
        let now = t0() + jiff::SignedDuration::from_secs(offset);
        let ctx = RouteContext {
            out_of_office: (0..6).filter(|i| away[*i]).map(rep).collect(),
            ..Default::default()
        };
        let mut state = RoutingState::default();
        state.rotations.insert("rule:all".into(), rotation);
        let available = |i: usize, at: Timestamp, crm: bool| {
            let team = &rs.teams()[i / 3];
            let date = team.calendar.local_date(at);
            let config_ooo = rs.out_of_office().iter().any(|o| o.rep == rep(i) && o.from <= date && date <= o.to);
            team.calendar.is_open(at) && !config_ooo && !(crm && away[i])
        };
        let any = (0..6).any(|i| available(i, now, true));
        let d = route(&rs, &json!({}), &ctx, &state, now);
        if any {
            prop_assert_eq!(&d.outcome, &Outcome::Assigned);
            let who = d.owner.unwrap().email;
            let i = (0..6).find(|i| rep(*i) == who).unwrap();
            prop_assert!(available(i, now, true), "{} chosen while unavailable", who);
        } else {
            let Outcome::Deferred { until_utc } = d.outcome else {
                return Err(TestCaseError::fail(format!("expected a deferral, got {:?}", d.outcome)));
            };
            prop_assert!(d.owner.is_none());
            prop_assert!(until_utc > now);
            // Someone is really available then (CRM flags hold only for today's local date).
            let crm_today = |i: usize| rs.teams()[i / 3].calendar.local_date(until_utc) == rs.teams()[i / 3].calendar.local_date(now);
            prop_assert!((0..6).any(|i| available(i, until_utc, crm_today(i))));
        }
    }

    #[test]
    fn every_decision_has_exactly_one_owner_or_a_deferral(
        leads in prop::collection::vec((
            prop::sample::select(vec!["US", "FR", "JP", "BR", "ZZ", ""]),
            prop::option::of(0u32..5000),
            prop::option::of(prop::sample::select(vec!["partner", "web"])),
            prop::option::of(0usize..40),
            0i64..(7 * 86_400),
        ), 1..25),
    ) {
        let rs = RuleSet::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/routing.yaml")).unwrap();
        let reps: Vec<String> = rs.teams().iter().flat_map(|t| t.members.iter().map(|m| m.email.clone())).collect();
        let mut state = RoutingState::default();
        for (cc, employees, source, account, offset) in leads {
            let now = t0() + jiff::SignedDuration::from_secs(offset);
            let lead = json!({"country_code": cc, "employees": employees, "annual_revenue": 900, "lead_source": source});
            let ctx = RouteContext { account_owner: account.map(|i| reps.get(i).cloned().unwrap_or_else(|| "stranger@example.org".into())), ..Default::default() };
            let d = route(&rs, &lead, &ctx, &state, now);
            match (&d.owner, &d.outcome) {
                (None, Outcome::Deferred { until_utc }) => prop_assert!(*until_utc > now),
                (Some(o), Outcome::Assigned) => prop_assert!(matches!(o.kind, OwnerKind::Rep | OwnerKind::AccountOwner)),
                (Some(o), Outcome::Fallback { reason }) => {
                    prop_assert!(!reason.is_empty());
                    prop_assert!(matches!(o.kind, OwnerKind::QueueOwner | OwnerKind::Manager | OwnerKind::Fallback));
                }
                other => return Err(TestCaseError::fail(format!("inconsistent decision {other:?}"))),
            }
            let chosen: Vec<&str> = d.explain.rules.iter().flat_map(|r| &r.candidates).filter(|c| c.chosen).map(|c| c.rep.as_str()).collect();
            let deciding = d.explain.rules.iter().filter(|r| matches!(r.verdict, Verdict::Matched | Verdict::NobodyAvailable)).count();
            prop_assert!(deciding <= 1);
            if d.outcome == Outcome::Assigned {
                prop_assert_eq!(chosen, vec![d.owner.as_ref().unwrap().email.as_str()]);
                prop_assert_eq!(&d.explain.rules.last().unwrap().rule, &d.rule);
            } else {
                prop_assert!(chosen.is_empty());
            }
            let counted: Vec<&String> = d.updates.iter().filter_map(|u| match u { StateUpdate::Count { rep, .. } => Some(rep), _ => None }).collect();
            prop_assert!(counted.len() <= 1);
            if let Some(r) = counted.first() {
                prop_assert_eq!(Some(r.as_str()), d.owner.as_ref().map(|o| o.email.as_str()));
            }
            state.apply(&d.updates);
        }
    }
}
