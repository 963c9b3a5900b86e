//! A checked, compiled rule set ([`RuleSet`]) and the load-time errors of a rules file. The
//! checking and compiling of the parsed YAML is in `compile.rs`; the SLA section's compiled
//! form is [`super::sla::SlaConfig`].
//!
//! Errors render as `examples/routing.yaml:14:7: rules[2].strategy: unknown strategy "rr"
//! (expected one of: …)`: origin, 1-based line and column, the node's path, and what is wrong.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use jiff::civil::Date;

use super::calendar::BusinessCalendar;
use super::compile::{compile, syntax};
use super::sla::SlaConfig;
use super::spec::{RawBand, RawRuleSet};
use crate::mapping::Position;

/// Why a rules file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RoutingError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// Not YAML, or not the rule set's shape (unknown key, missing key, wrong type).
    #[error("{at}: {message}")]
    Syntax {
        /// Where, and which node.
        at: Position,
        /// What is wrong.
        message: String,
    },
    /// The right shape, but impossible: unknown team, time zone, strategy, duplicate name…
    #[error("{at}: {message}")]
    Invalid {
        /// Where, and which node.
        at: Position,
        /// What is wrong.
        message: String,
    },
}

impl RoutingError {
    /// Where in the text the problem is, when it comes from the text.
    pub fn position(&self) -> Option<&Position> {
        match self {
            RoutingError::Syntax { at, .. } | RoutingError::Invalid { at, .. } => Some(at),
            RoutingError::Io { .. } => None,
        }
    }
}

/// One rep of a team: email (lowercase), weight and caps.
#[derive(Debug, Clone)]
pub struct Member {
    /// Rep email (CRM owners and Slack users are matched by email).
    pub email: String,
    /// Weighted round-robin weight in thousandths (1.0 = 1000, a new rep at 0.5 = 500).
    pub weight_milli: u32,
    /// Most assignments per UTC day, if capped.
    pub daily_cap: Option<u32>,
    /// Most assignments per ISO week (UTC), if capped.
    pub weekly_cap: Option<u32>,
    /// The rep's manager (escalation target).
    pub manager: String,
}

/// A team: calendar, reps, queue owner.
#[derive(Debug, Clone)]
pub struct Team {
    /// Unique name, e.g. `West`.
    pub name: String,
    /// Business hours and holidays.
    pub calendar: BusinessCalendar,
    /// Reps in declaration order.
    pub members: Vec<Member>,
    /// Managers in declaration order.
    pub managers: Vec<String>,
    /// Owner of the team's queue, if configured.
    pub queue_owner: Option<String>,
}

/// One out-of-office range of a rep: inclusive local dates (the rep's team's time zone).
#[derive(Debug, Clone)]
pub struct OutOfOffice {
    /// Rep email.
    pub rep: String,
    /// First day away.
    pub from: Date,
    /// Last day away.
    pub to: Date,
}

/// One condition over a mapped lead field.
#[derive(Debug, Clone)]
pub(crate) struct Cond {
    pub field: String,
    pub equals: Option<String>,
    pub not_equals: Option<String>,
    pub in_: Option<Vec<String>>,
    pub not_in: Option<Vec<String>>,
    pub exists: Option<bool>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// Territory criteria, already expanded (regions → country codes), all upper case.
#[derive(Debug, Clone, Default)]
pub(crate) struct Territory {
    pub country_codes: BTreeSet<String>,
    pub states: BTreeSet<String>,
    pub postal_ranges: Vec<(String, String)>,
}

/// Segment criteria.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub industries: BTreeSet<String>,
    pub employees: Option<RawBand>,
    pub annual_revenue: Option<RawBand>,
    pub product_interest: BTreeSet<String>,
}

/// Which strategy a rule uses.
#[derive(Debug, Clone)]
pub(crate) enum Strategy {
    Territory(Territory),
    Segment(Segment),
    NamedAccount,
    RoundRobin,
    LeastLoaded,
}

impl Strategy {
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::Territory(_) => "territory",
            Strategy::Segment(_) => "segment",
            Strategy::NamedAccount => "named_account",
            Strategy::RoundRobin => "round_robin",
            Strategy::LeastLoaded => "least_loaded",
        }
    }
}

/// How a pool picks a rep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Distribute {
    RoundRobin,
    LeastLoaded,
}

/// What happens when no rep of the pool is available.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nobody {
    Defer,
    QueueOwner,
    Manager,
}

/// Reps of a pool: (team index, member index).
#[derive(Debug, Clone)]
pub(crate) struct Pool {
    /// State key of the pool's rotation: `team:<name>` or `rule:<name>`.
    pub key: String,
    pub reps: Vec<(usize, usize)>,
}

/// One compiled rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub name: String,
    pub when: Vec<Cond>,
    pub strategy: Strategy,
    pub pool: Option<Pool>,
    pub distribute: Distribute,
    pub nobody: Nobody,
    pub queue_owner: Option<String>,
    pub manager: Option<String>,
}

/// A compiled, checked rule set. Cheap to share; [`super::engine::route`] takes `&self`.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) origin: String,
    pub(crate) teams: Vec<Team>,
    pub(crate) rules: Vec<Rule>,
    pub(crate) out_of_office: Vec<OutOfOffice>,
    pub(crate) fallback: String,
    pub(crate) rep_index: BTreeMap<String, (usize, usize)>,
    /// The `sla:` section (defaults, no policies, when absent).
    pub(crate) sla: SlaConfig,
}

impl RuleSet {
    /// Reads and compiles a rules file; errors name `path`.
    ///
    /// # Errors
    /// [`RoutingError::Io`], or as [`RuleSet::parse`].
    pub fn load(path: &Path) -> Result<RuleSet, RoutingError> {
        let text = std::fs::read_to_string(path).map_err(|source| RoutingError::Io {
            path: path.to_owned(),
            source,
        })?;
        RuleSet::parse(&text, &path.display().to_string())
    }

    /// Parses and compiles rules text; `origin` names the file in errors.
    ///
    /// # Errors
    /// [`RoutingError::Syntax`] for shape errors, [`RoutingError::Invalid`] for semantic ones.
    pub fn parse(text: &str, origin: &str) -> Result<RuleSet, RoutingError> {
        let mut path = None;
        let options = serde_saphyr::options! { with_snippet: false };
        let raw: RawRuleSet =
            serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
                serde_path_to_error::deserialize(de).map_err(|err| {
                    path = Some(err.path().clone());
                    err.into_inner()
                })
            })
            .map_err(|err| syntax(origin, &err, path.as_ref()))?;
        compile(raw, origin)
    }

    /// The rule set's `name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The free-text `description`, if any.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The file it came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Teams in declaration order.
    pub fn teams(&self) -> &[Team] {
        &self.teams
    }

    /// Rule names in evaluation order.
    pub fn rule_names(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.name.as_str())
    }

    /// The global fallback owner.
    pub fn fallback_owner(&self) -> &str {
        &self.fallback
    }

    /// The team a rep belongs to.
    pub fn team_of(&self, rep: &str) -> Option<&Team> {
        self.rep_index.get(rep).map(|(t, _)| &self.teams[*t])
    }

    /// Configured out-of-office ranges.
    pub fn out_of_office(&self) -> &[OutOfOffice] {
        &self.out_of_office
    }

    /// The speed-to-lead SLA section: first-touch statuses, reject reasons, policies.
    pub fn sla(&self) -> &SlaConfig {
        &self.sla
    }

    /// The manager of `rep`'s group (the escalation target), if `rep` is a team member.
    pub fn manager_of(&self, rep: &str) -> Option<&str> {
        self.rep_index
            .get(rep)
            .map(|(t, m)| self.teams[*t].members[*m].manager.as_str())
    }
}
