//! Checking and compiling a parsed rules file ([`RawRuleSet`]) into a [`RuleSet`], with errors
//! at the offending node (`file:line:column: path: message`). The compiled types are in
//! `rules.rs`; the `sla:` section is compiled by [`super::sla::compile`].

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::Date;
use serde_saphyr::{Location, MessageFormatter, Spanned, UserMessageFormatter};

use super::calendar::{parse_hm, parse_weekday, BusinessCalendar};
use super::rules::{
    Cond, Distribute, Member, Nobody, OutOfOffice, Pool, RoutingError, Rule, RuleSet, Segment,
    Strategy, Team, Territory,
};
use super::spec::{RawBand, RawCond, RawRuleSet};
use crate::mapping::Position;

pub(super) fn syntax(
    origin: &str,
    err: &serde_saphyr::Error,
    raw_path: Option<&serde_path_to_error::Path>,
) -> RoutingError {
    let (line, column) = err
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    RoutingError::Syntax {
        at: Position {
            origin: origin.to_owned(),
            line,
            column,
            path: raw_path.map(clean_path).unwrap_or_default(),
        },
        message: UserMessageFormatter
            .format_message(err)
            .escape_debug()
            .to_string(),
    }
}

/// Drops the `.value` segments `Spanned` adds (no rules key is called `value`).
fn clean_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Map { key } if key == "value" => {}
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Enum { variant } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(variant);
            }
            Segment::Unknown => {}
        }
    }
    out
}

/// Renders errors for the file `origin` (the tuple's string).
pub(super) struct Ctx<'a>(pub(super) &'a str);

impl Ctx<'_> {
    pub(super) fn at_loc(
        &self,
        at: Location,
        path: impl Into<String>,
        msg: impl Into<String>,
    ) -> RoutingError {
        RoutingError::Invalid {
            at: Position {
                origin: self.0.to_owned(),
                line: at.line(),
                column: at.column(),
                path: path.into(),
            },
            message: msg.into(),
        }
    }
    pub(super) fn at<T>(
        &self,
        node: &Spanned<T>,
        path: impl Into<String>,
        msg: impl Into<String>,
    ) -> RoutingError {
        self.at_loc(node.referenced, path, msg)
    }
}

pub(super) fn email(s: &str) -> String {
    s.trim().to_ascii_lowercase()
}

fn parse_date(ctx: &Ctx, node: &Spanned<String>, path: String) -> Result<Date, RoutingError> {
    node.value.trim().parse::<Date>().map_err(|_| {
        ctx.at(
            node,
            path,
            format!("\"{}\" is not a date (expected YYYY-MM-DD)", node.value),
        )
    })
}

fn check_band(
    ctx: &Ctx,
    node: &Spanned<super::spec::RawSegment>,
    path: &str,
    band: Option<RawBand>,
) -> Result<(), RoutingError> {
    if let Some(RawBand {
        min: Some(lo),
        max: Some(hi),
    }) = band
    {
        if lo >= hi {
            return Err(ctx.at(node, path, format!("min ({lo}) must be below max ({hi})")));
        }
    }
    Ok(())
}

pub(super) fn compile_cond(
    ctx: &Ctx,
    node: &Spanned<RawCond>,
    path: String,
) -> Result<Cond, RoutingError> {
    let c = &node.value;
    let tests = [
        c.equals.is_some(),
        c.not_equals.is_some(),
        c.in_.is_some(),
        c.not_in.is_some(),
        c.exists.is_some(),
        c.min.is_some() || c.max.is_some(),
    ];
    if tests.iter().filter(|t| **t).count() != 1 {
        return Err(ctx.at(
            node,
            path,
            "a condition needs exactly one test: equals, not_equals, in, not_in, exists, or min/max",
        ));
    }
    if c.field.value.trim().is_empty() {
        return Err(ctx.at(&c.field, format!("{path}.field"), "field must not be empty"));
    }
    Ok(Cond {
        field: c.field.value.trim().to_owned(),
        equals: c.equals.clone(),
        not_equals: c.not_equals.clone(),
        in_: c.in_.clone(),
        not_in: c.not_in.clone(),
        exists: c.exists,
        min: c.min,
        max: c.max,
    })
}

/// `94000-96199` → ("94000", "96199"); `94105` → ("94105", "94105").
fn postal_range(s: &str) -> Option<(String, String)> {
    let s = s.trim().to_ascii_uppercase();
    let (lo, hi) = match s.split_once('-') {
        Some((a, b)) => (a.trim().to_owned(), b.trim().to_owned()),
        None => (s.clone(), s.clone()),
    };
    let ok = |x: &str| !x.is_empty() && x.chars().all(|c| c.is_ascii_alphanumeric());
    (ok(&lo) && ok(&hi) && lo.len() == hi.len() && lo <= hi).then_some((lo, hi))
}

pub(super) fn compile(raw: RawRuleSet, origin: &str) -> Result<RuleSet, RoutingError> {
    let ctx = Ctx(origin);
    if raw.name.value.trim().is_empty() {
        return Err(ctx.at(&raw.name, "name", "name must not be empty"));
    }
    // Holiday calendars and regions.
    let mut calendars: BTreeMap<String, Vec<Date>> = BTreeMap::new();
    for (name, dates) in &raw.holiday_calendars {
        let mut out = Vec::new();
        for (i, d) in dates.iter().enumerate() {
            out.push(parse_date(
                &ctx,
                d,
                format!("holiday_calendars.{name}[{i}]"),
            )?);
        }
        calendars.insert(name.clone(), out);
    }
    let mut regions: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, codes) in &raw.regions {
        let mut set = BTreeSet::new();
        for (i, code) in codes.iter().enumerate() {
            let c = code.value.trim().to_ascii_uppercase();
            if c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_alphabetic()) {
                return Err(ctx.at(
                    code,
                    format!("regions.{name}[{i}]"),
                    format!(
                        "\"{}\" is not an ISO 3166-1 alpha-2 country code",
                        code.value
                    ),
                ));
            }
            set.insert(c);
        }
        regions.insert(name.clone(), set);
    }

    // Teams.
    if raw.teams.is_empty() {
        return Err(ctx.at(&raw.name, "teams", "at least one team is required"));
    }
    let mut teams: Vec<Team> = Vec::new();
    let mut rep_index: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (ti, tnode) in raw.teams.iter().enumerate() {
        let t = &tnode.value;
        let p = format!("teams[{ti}]");
        let name = t.name.value.trim().to_owned();
        if name.is_empty() {
            return Err(ctx.at(&t.name, format!("{p}.name"), "name must not be empty"));
        }
        if teams.iter().any(|x| x.name == name) {
            return Err(ctx.at(
                &t.name,
                format!("{p}.name"),
                format!("duplicate team name \"{name}\""),
            ));
        }
        let mut days = Vec::new();
        for (i, d) in t.hours.value.days.iter().enumerate() {
            days.push(parse_weekday(&d.value).ok_or_else(|| {
                ctx.at(
                    d,
                    format!("{p}.hours.days[{i}]"),
                    format!(
                        "\"{}\" is not a weekday (mon, tue, wed, thu, fri, sat, sun)",
                        d.value
                    ),
                )
            })?);
        }
        let open = parse_hm(&t.hours.value.open.value).ok_or_else(|| {
            ctx.at(
                &t.hours.value.open,
                format!("{p}.hours.open"),
                format!(
                    "\"{}\" is not a time (expected HH:MM)",
                    t.hours.value.open.value
                ),
            )
        })?;
        let close = parse_hm(&t.hours.value.close.value).ok_or_else(|| {
            ctx.at(
                &t.hours.value.close,
                format!("{p}.hours.close"),
                format!(
                    "\"{}\" is not a time (expected HH:MM)",
                    t.hours.value.close.value
                ),
            )
        })?;
        let mut holidays = Vec::new();
        for (i, c) in t.holiday_calendars.iter().enumerate() {
            let dates = calendars.get(c.value.trim()).ok_or_else(|| {
                ctx.at(
                    c,
                    format!("{p}.holiday_calendars[{i}]"),
                    format!(
                        "unknown holiday calendar \"{}\" (declare it under holiday_calendars)",
                        c.value
                    ),
                )
            })?;
            holidays.extend(dates.iter().copied());
        }
        for (i, d) in t.holidays.iter().enumerate() {
            holidays.push(parse_date(&ctx, d, format!("{p}.holidays[{i}]"))?);
        }
        let calendar = BusinessCalendar::new(&t.time_zone.value, days, open, close, holidays)
            .map_err(|m| {
                let (node_path, at) = if m.contains("time zone") {
                    (format!("{p}.time_zone"), t.time_zone.referenced)
                } else {
                    (format!("{p}.hours"), t.hours.referenced)
                };
                ctx.at_loc(at, node_path, m)
            })?;
        let mut members: Vec<Member> = Vec::new();
        let mut managers = Vec::new();
        if t.groups.is_empty() {
            return Err(ctx.at(
                tnode,
                format!("{p}.groups"),
                "a team needs at least one group of reps",
            ));
        }
        for (gi, g) in t.groups.iter().enumerate() {
            let manager = email(&g.value.manager.value);
            if !manager.contains('@') {
                return Err(ctx.at(
                    &g.value.manager,
                    format!("{p}.groups[{gi}].manager"),
                    "manager must be an email address",
                ));
            }
            managers.push(manager.clone());
            for (ri, r) in g.value.reps.iter().enumerate() {
                let rep = email(&r.value);
                let rp = format!("{p}.groups[{gi}].reps[{ri}]");
                if !rep.contains('@') {
                    return Err(ctx.at(r, rp, format!("\"{}\" is not an email address", r.value)));
                }
                if let Some((other, _)) = rep_index.get(&rep) {
                    let other = teams.get(*other).map_or(name.as_str(), |t| t.name.as_str());
                    return Err(ctx.at(
                        r,
                        rp,
                        format!("rep {rep} is already a member of team {other}"),
                    ));
                }
                rep_index.insert(rep.clone(), (ti, members.len()));
                members.push(Member {
                    email: rep,
                    weight_milli: 1000,
                    daily_cap: t.daily_cap,
                    weekly_cap: t.weekly_cap,
                    manager: manager.clone(),
                });
            }
        }
        if let Some(weights) = &t.weights {
            for (rep, w) in &weights.value {
                let rep = email(rep);
                let m = members.iter_mut().find(|m| m.email == rep).ok_or_else(|| {
                    ctx.at(
                        weights,
                        format!("{p}.weights"),
                        format!("{rep} is not a rep of team {name}"),
                    )
                })?;
                if !(w.is_finite() && *w >= 0.001 && *w <= 100.0) {
                    return Err(ctx.at(
                        weights,
                        format!("{p}.weights"),
                        format!("weight of {rep} must be between 0.001 and 100, got {w}"),
                    ));
                }
                m.weight_milli = (w * 1000.0).round() as u32;
            }
        }
        if let Some(caps) = &t.caps {
            for (rep, c) in &caps.value {
                let rep = email(rep);
                let m = members.iter_mut().find(|m| m.email == rep).ok_or_else(|| {
                    ctx.at(
                        caps,
                        format!("{p}.caps"),
                        format!("{rep} is not a rep of team {name}"),
                    )
                })?;
                if c.daily.is_some() {
                    m.daily_cap = c.daily;
                }
                if c.weekly.is_some() {
                    m.weekly_cap = c.weekly;
                }
            }
        }
        teams.push(Team {
            name,
            calendar,
            members,
            managers,
            queue_owner: t.queue_owner.as_deref().map(email),
        });
    }

    // Out of office.
    let mut out_of_office = Vec::new();
    for (i, o) in raw.out_of_office.iter().enumerate() {
        let p = format!("out_of_office[{i}]");
        let rep = email(&o.value.rep.value);
        if !rep_index.contains_key(&rep) {
            return Err(ctx.at(
                &o.value.rep,
                format!("{p}.rep"),
                format!("{rep} is not a rep of any team"),
            ));
        }
        let from = parse_date(&ctx, &o.value.from, format!("{p}.from"))?;
        let to = parse_date(&ctx, &o.value.to, format!("{p}.to"))?;
        if to < from {
            return Err(ctx.at(
                &o.value.to,
                format!("{p}.to"),
                format!("{to} is before {from}"),
            ));
        }
        out_of_office.push(OutOfOffice { rep, from, to });
    }

    // Rules.
    if raw.rules.is_empty() {
        return Err(ctx.at(&raw.name, "rules", "at least one rule is required"));
    }
    let mut rules: Vec<Rule> = Vec::new();
    for (ri, rnode) in raw.rules.iter().enumerate() {
        let r = &rnode.value;
        let p = format!("rules[{ri}]");
        let name = r.name.value.trim().to_owned();
        if name.is_empty() {
            return Err(ctx.at(&r.name, format!("{p}.name"), "name must not be empty"));
        }
        if rules.iter().any(|x| x.name == name) {
            return Err(ctx.at(
                &r.name,
                format!("{p}.name"),
                format!("duplicate rule name \"{name}\""),
            ));
        }
        let when = r
            .when
            .iter()
            .enumerate()
            .map(|(i, c)| compile_cond(&ctx, c, format!("{p}.when[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let strategy_name = r.strategy.value.trim();
        let strategy = match strategy_name {
            "territory" => {
                let t = r.territory.as_ref().ok_or_else(|| {
                    ctx.at(&r.strategy, format!("{p}.strategy"), "strategy territory needs a `territory:` block")
                })?;
                let mut out = Territory::default();
                out.country_codes.extend(t.value.country_codes.iter().map(|c| c.trim().to_ascii_uppercase()));
                for (i, reg) in t.value.regions.iter().enumerate() {
                    let codes = regions.get(reg.value.trim()).ok_or_else(|| {
                        ctx.at(reg, format!("{p}.territory.regions[{i}]"), format!("unknown region \"{}\" (declare it under regions)", reg.value))
                    })?;
                    out.country_codes.extend(codes.iter().cloned());
                }
                out.states.extend(t.value.states.iter().map(|s| s.trim().to_ascii_uppercase()));
                for (i, pc) in t.value.postal_codes.iter().enumerate() {
                    out.postal_ranges.push(postal_range(&pc.value).ok_or_else(|| {
                        ctx.at(pc, format!("{p}.territory.postal_codes[{i}]"), format!("\"{}\" is not a postal code or range LOW-HIGH of equal length", pc.value))
                    })?);
                }
                if out.country_codes.is_empty() && out.states.is_empty() && out.postal_ranges.is_empty() {
                    return Err(ctx.at(t, format!("{p}.territory"), "a territory needs country_codes, regions, states or postal_codes"));
                }
                Strategy::Territory(out)
            }
            "segment" => {
                let s = r.segment.as_ref().ok_or_else(|| {
                    ctx.at(&r.strategy, format!("{p}.strategy"), "strategy segment needs a `segment:` block")
                })?;
                check_band(&ctx, s, &format!("{p}.segment.employees"), s.value.employees)?;
                check_band(&ctx, s, &format!("{p}.segment.annual_revenue"), s.value.annual_revenue)?;
                let seg = Segment {
                    industries: s.value.industries.iter().map(|x| x.trim().to_lowercase()).collect(),
                    employees: s.value.employees,
                    annual_revenue: s.value.annual_revenue,
                    product_interest: s.value.product_interest.iter().map(|x| x.trim().to_lowercase()).collect(),
                };
                if seg.industries.is_empty() && seg.employees.is_none() && seg.annual_revenue.is_none() && seg.product_interest.is_empty() {
                    return Err(ctx.at(s, format!("{p}.segment"), "a segment needs industries, employees, annual_revenue or product_interest"));
                }
                Strategy::Segment(seg)
            }
            "named_account" => Strategy::NamedAccount,
            "round_robin" => Strategy::RoundRobin,
            "least_loaded" => Strategy::LeastLoaded,
            other => {
                return Err(ctx.at(
                    &r.strategy,
                    format!("{p}.strategy"),
                    format!("unknown strategy \"{other}\" (expected one of: territory, segment, named_account, round_robin, least_loaded)"),
                ))
            }
        };
        if let (Some(t), false) = (&r.territory, matches!(strategy, Strategy::Territory(_))) {
            return Err(ctx.at(
                t,
                format!("{p}.territory"),
                "`territory:` is only for strategy territory",
            ));
        }
        if let (Some(seg), false) = (&r.segment, matches!(strategy, Strategy::Segment(_))) {
            return Err(ctx.at(
                seg,
                format!("{p}.segment"),
                "`segment:` is only for strategy segment",
            ));
        }
        let pool = match (&r.pool, &strategy) {
            (Some(pn), Strategy::NamedAccount) => {
                return Err(ctx.at(
                    pn,
                    format!("{p}.pool"),
                    "named_account routes to the account's owner: remove `pool:`",
                ))
            }
            (None, Strategy::NamedAccount) => None,
            (None, _) => {
                return Err(ctx.at(
                    rnode,
                    format!("{p}.pool"),
                    format!("strategy {strategy_name} needs a `pool:` (a team or reps)"),
                ))
            }
            (Some(pn), _) => Some(match (&pn.value.team, &pn.value.reps) {
                (Some(team), None) => {
                    let tname = team.value.trim();
                    let ti = teams.iter().position(|t| t.name == tname).ok_or_else(|| {
                        ctx.at(
                            team,
                            format!("{p}.pool.team"),
                            format!("unknown team \"{tname}\""),
                        )
                    })?;
                    Pool {
                        key: format!("team:{tname}"),
                        reps: (0..teams[ti].members.len()).map(|mi| (ti, mi)).collect(),
                    }
                }
                (None, Some(reps)) if !reps.is_empty() => {
                    let mut out = Vec::new();
                    for (i, rep) in reps.iter().enumerate() {
                        let e = email(&rep.value);
                        let idx = rep_index.get(&e).ok_or_else(|| {
                            ctx.at(
                                rep,
                                format!("{p}.pool.reps[{i}]"),
                                format!("{e} is not a rep of any team (add it to a team's groups)"),
                            )
                        })?;
                        if out.contains(idx) {
                            return Err(ctx.at(
                                rep,
                                format!("{p}.pool.reps[{i}]"),
                                format!("{e} is listed twice"),
                            ));
                        }
                        out.push(*idx);
                    }
                    Pool {
                        key: format!("rule:{name}"),
                        reps: out,
                    }
                }
                _ => {
                    return Err(ctx.at(
                        pn,
                        format!("{p}.pool"),
                        "a pool is either `team: <name>` or a non-empty `reps: [...]`",
                    ))
                }
            }),
        };
        let distribute = match (&r.distribute, &strategy) {
            (None, Strategy::LeastLoaded) => Distribute::LeastLoaded,
            (None, _) => Distribute::RoundRobin,
            (Some(d), Strategy::Territory(_) | Strategy::Segment(_)) => match d.value.trim() {
                "round_robin" => Distribute::RoundRobin,
                "least_loaded" => Distribute::LeastLoaded,
                other => {
                    return Err(ctx.at(
                        d,
                        format!("{p}.distribute"),
                        format!(
                        "unknown distribution \"{other}\" (expected round_robin or least_loaded)"
                    ),
                    ))
                }
            },
            (Some(d), _) => {
                return Err(ctx.at(
                    d,
                    format!("{p}.distribute"),
                    "`distribute:` is only for strategies territory and segment",
                ))
            }
        };
        let nobody = match r
            .when_nobody_available
            .as_ref()
            .map(|n| (n, n.value.trim()))
        {
            None | Some((_, "defer")) => Nobody::Defer,
            Some((_, "queue_owner")) => Nobody::QueueOwner,
            Some((_, "manager")) => Nobody::Manager,
            Some((n, other)) => {
                return Err(ctx.at(
                    n,
                    format!("{p}.when_nobody_available"),
                    format!("unknown action \"{other}\" (expected defer, queue_owner or manager)"),
                ))
            }
        };
        let pool_team = pool
            .as_ref()
            .and_then(|pl| pl.reps.first())
            .map(|(t, _)| *t);
        if nobody == Nobody::QueueOwner
            && r.queue_owner.is_none()
            && pool_team
                .and_then(|t| teams[t].queue_owner.as_ref())
                .is_none()
        {
            let n = r.when_nobody_available.as_ref().unwrap_or(&r.strategy);
            return Err(ctx.at(
                n,
                format!("{p}.when_nobody_available"),
                "queue_owner needs `queue_owner:` on the rule or on the pool's team",
            ));
        }
        rules.push(Rule {
            name,
            when,
            strategy,
            pool,
            distribute,
            nobody,
            queue_owner: r.queue_owner.as_deref().map(email),
            manager: r.manager.as_deref().map(email),
        });
    }
    let fallback = email(&raw.fallback.value.owner.value);
    if !fallback.contains('@') {
        return Err(ctx.at(
            &raw.fallback.value.owner,
            "fallback.owner",
            "fallback owner must be an email address",
        ));
    }
    let sla = super::sla::compile(&ctx, raw.sla.as_ref())?;
    Ok(RuleSet {
        name: raw.name.value.trim().to_owned(),
        description: raw.description,
        origin: origin.to_owned(),
        teams,
        rules,
        out_of_office,
        fallback,
        rep_index,
        sla,
    })
}
