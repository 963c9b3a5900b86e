//! What applying a mapping returns: the target record and every gate result.

use serde::Serialize;
use serde_json::{Map, Value};

/// Which system and object type a mapping reads or writes: a connector's system name and the
/// vendor's object name (as in record keys), or `handoff` and handoff's own record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ObjectRef {
    /// System name: a connector's (as in `crm.type`), or `handoff`.
    pub system: String,
    /// Object type within the system, e.g. `contacts`, `deals`, `lead`.
    pub object: String,
}

/// The result of [`super::Mapping::apply`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MapOutcome {
    /// The target record: one key per field that produced a non-empty value.
    pub record: Map<String, Value>,
    /// Field gates (`required:<to>`, `valid:<to>`, in field order), then the mapping's
    /// declared gates in order. Every result is reported, passed or not.
    pub gates: Vec<GateResult>,
}

impl MapOutcome {
    /// True when every gate passed.
    pub fn passed(&self) -> bool {
        self.gates.iter().all(|g| g.passed)
    }

    /// The first failed gate, if any.
    pub fn first_failure(&self) -> Option<&GateResult> {
        self.gates.iter().find(|g| !g.passed)
    }

    /// The reason codes of every failed gate, in order.
    pub fn failure_reasons(&self) -> impl Iterator<Item = &str> {
        self.gates
            .iter()
            .filter(|g| !g.passed)
            .filter_map(|g| g.reason.as_deref())
    }
}

/// One gate's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateResult {
    /// Gate name: `required:<to>`, `valid:<to>`, or a declared gate's `name` (e.g. `consent`).
    pub gate: String,
    /// Whether the record passed this gate.
    pub passed: bool,
    /// Reason code when failed (`missing_email`, `invalid_phone`, `no_consent`); `None` when passed.
    pub reason: Option<String>,
    /// Human words: which value, and why.
    pub detail: String,
}
