//! The in-memory org: every object's records (history rows, users and queues included), the
//! custom fields, picklists and assignment rules, and records rendered as the API returns
//! them. Writes are in [`super::write`].
//!
//! Records are stored as JSON maps keyed by API field name, datetimes as Salesforce writes
//! them (`2013-05-20T20:49:32.000+0000`, whole seconds: every example in NOTES has `.000`),
//! dates as `YYYY-MM-DD`.

use super::schema::{make_id, object, FieldType, LeadStatus, ObjectDef, Stage, OBJECTS};
use super::EmulatorConfig;
use crate::time::{format_ms, parse_ms};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// One record.
pub type Row = Map<String, Value>;

/// The org's data.
#[derive(Clone, Debug)]
pub struct Org {
    /// The org id (`00D…`).
    pub org_id: String,
    next: u64,
    pub(super) tables: BTreeMap<&'static str, BTreeMap<String, Row>>,
    custom: BTreeMap<&'static str, BTreeMap<String, FieldType>>,
    /// The Lead `Status` picklist.
    pub lead_statuses: Vec<LeadStatus>,
    /// The Opportunity stages.
    pub stages: Vec<Stage>,
    /// Object → the owner its assignment rule gives (applied unless `Sforce-Auto-Assign:
    /// FALSE`, S6).
    pub(super) assignment: BTreeMap<&'static str, String>,
    /// The JWT `sub` / refresh-token user: API writes are theirs.
    pub integration_user: String,
    /// (object, writer's user id) → the greatest `(SystemModstamp ms, Id)` that user wrote to
    /// that object ([`Org::mark`]).
    pub(super) marks: BTreeMap<(&'static str, String), (i64, String)>,
    /// The user seeding writes are made as (a person in the UI).
    pub ui_user: String,
}

impl Org {
    /// An org with the integration user and an admin UI user.
    pub fn new(config: &EmulatorConfig, now_ms: i64) -> Self {
        let mut org = Self {
            org_id: make_id("00D", 1),
            next: 1,
            tables: OBJECTS.iter().map(|o| (o.name, BTreeMap::new())).collect(),
            custom: BTreeMap::new(),
            lead_statuses: config.lead_statuses.clone(),
            stages: config.stages.clone(),
            assignment: BTreeMap::new(),
            integration_user: String::new(),
            marks: BTreeMap::new(),
            ui_user: String::new(),
        };
        for (obj, fields) in &config.custom_fields {
            if let Some(def) = object(obj) {
                for f in fields {
                    org.add_field(def, f, FieldType::Text);
                }
            }
        }
        org.integration_user = org.add_user(
            &config.username,
            &config.username,
            "Handoff",
            "Integration",
            now_ms,
        );
        org.ui_user = org.add_user(
            "admin@emulated-org.example",
            "admin@emulated-org.example",
            "Org",
            "Admin",
            now_ms,
        );
        org
    }

    /// A fresh id with `prefix`.
    pub fn next_id(&mut self, prefix: &str) -> String {
        self.next += 1;
        make_id(prefix, self.next)
    }

    /// The object `name`, case-insensitively (SOQL names are).
    pub fn resolve(&self, name: &str) -> Option<&'static ObjectDef> {
        OBJECTS.iter().find(|o| o.name.eq_ignore_ascii_case(name))
    }

    /// Field `name` of `def` (standard or custom), case-insensitively: its API name and type.
    pub fn field(&self, def: &ObjectDef, name: &str) -> Option<(String, FieldType)> {
        if let Some((n, t)) = def.all_fields().find(|(f, _)| f.eq_ignore_ascii_case(name)) {
            return Some((n.to_string(), t));
        }
        self.custom
            .get(def.name)?
            .iter()
            .find(|(f, _)| f.eq_ignore_ascii_case(name))
            .map(|(f, t)| (f.clone(), *t))
    }

    /// Adds a custom field (what an admin does in Setup).
    pub fn add_field(&mut self, def: &'static ObjectDef, name: &str, ty: FieldType) {
        self.custom
            .entry(def.name)
            .or_default()
            .entry(name.to_string())
            .or_insert(ty);
    }

    /// Every field name of `def`, standard then custom.
    pub fn field_names(&self, def: &ObjectDef) -> Vec<String> {
        let mut names: Vec<String> = def.all_fields().map(|(f, _)| f.to_string()).collect();
        if let Some(custom) = self.custom.get(def.name) {
            names.extend(custom.keys().cloned());
        }
        names
    }

    /// A record, deleted or not.
    pub fn row(&self, object: &str, id: &str) -> Option<&Row> {
        let table = self.tables.get(object)?;
        table.get(id).or_else(|| {
            // A 15-character id names the same record as its 18-character form.
            (id.len() == 15)
                .then(|| table.range(id.to_string()..).next())
                .flatten()
                .filter(|(k, _)| k.starts_with(id))
                .map(|(_, v)| v)
        })
    }

    /// A record that is not deleted.
    pub fn live(&self, object: &str, id: &str) -> Option<&Row> {
        self.row(object, id)
            .filter(|r| r.get("IsDeleted") != Some(&Value::Bool(true)))
    }

    /// Every record of `object` (deleted too), in id (creation) order.
    pub fn rows(&self, object: &str) -> impl Iterator<Item = &Row> {
        self.tables.get(object).into_iter().flat_map(|t| t.values())
    }

    /// Adds an active user; returns the id.
    pub fn add_user(
        &mut self,
        username: &str,
        email: &str,
        first: &str,
        last: &str,
        now_ms: i64,
    ) -> String {
        let id = self.next_id("005");
        let mut row = self.system_fields(&id, &id, now_ms);
        row.insert("Username".into(), json!(username));
        row.insert("Email".into(), json!(email));
        row.insert("FirstName".into(), json!(first));
        row.insert("LastName".into(), json!(last));
        row.insert("Name".into(), json!(format!("{first} {last}").trim()));
        row.insert("IsActive".into(), json!(true));
        self.insert("User", row);
        id
    }

    /// Adds a queue: a `Group` with `Type = 'Queue'` (S6); returns the id.
    pub fn add_queue(&mut self, name: &str, email: &str, now_ms: i64) -> String {
        let id = self.next_id("00G");
        let by = self.ui_user.clone();
        let mut row = self.system_fields(&id, &by, now_ms);
        row.insert("Name".into(), json!(name));
        row.insert("Type".into(), json!("Queue"));
        row.insert("Email".into(), json!(email));
        self.insert("Group", row);
        id
    }

    pub(super) fn insert(&mut self, object: &'static str, row: Row) {
        if let Some(id) = row.get("Id").and_then(Value::as_str).map(str::to_string) {
            let text = |f: &str| row.get(f).and_then(Value::as_str);
            if let (Some(ms), Some(by)) = (
                text("SystemModstamp").and_then(parse_ms),
                text("LastModifiedById").map(str::to_string),
            ) {
                self.mark(object, &id, &by, ms);
            }
            self.tables.entry(object).or_default().insert(id, row);
        }
    }

    /// Notes that `by` wrote record `id` of `object` with `SystemModstamp` `ms`: the change
    /// becomes that user's newest on the object if it is later in `(SystemModstamp, Id)`
    /// order (the order a change feed reads in).
    pub(super) fn mark(&mut self, object: &'static str, id: &str, by: &str, ms: i64) {
        let position = (ms, id.to_string());
        let slot = self
            .marks
            .entry((object, by.to_string()))
            .or_insert_with(|| position.clone());
        if position > *slot {
            *slot = position;
        }
    }

    pub(super) fn row_mut(&mut self, object: &str, id: &str) -> Option<&mut Row> {
        self.tables.get_mut(object)?.get_mut(id)
    }

    /// `Id` plus the system fields of a record created by `by` at `now_ms`.
    pub(super) fn system_fields(&self, id: &str, by: &str, now_ms: i64) -> Row {
        let now = format_ms(now_ms);
        let mut row = Row::new();
        row.insert("Id".into(), json!(id));
        row.insert("CreatedDate".into(), json!(now));
        row.insert("CreatedById".into(), json!(by));
        row.insert("LastModifiedDate".into(), json!(now));
        row.insert("LastModifiedById".into(), json!(by));
        row.insert("SystemModstamp".into(), json!(now));
        row.insert("IsDeleted".into(), json!(false));
        row
    }

    /// Whether `id` is an active user, or (when `queues`) a queue.
    pub fn is_owner(&self, id: &str, queues: bool) -> bool {
        let user = self
            .live("User", id)
            .is_some_and(|u| u.get("IsActive") == Some(&Value::Bool(true)));
        let queue = queues
            && self
                .live("Group", id)
                .is_some_and(|g| g.get("Type").and_then(Value::as_str) == Some("Queue"));
        user || queue
    }

    /// A user's or queue's display name (history's name row, S4).
    pub fn display_name(&self, id: &str) -> Option<String> {
        ["User", "Group"]
            .iter()
            .find_map(|o| self.row(o, id))
            .and_then(|r| r.get("Name").and_then(Value::as_str).map(str::to_string))
    }

    /// A record as the API returns it: `attributes {type, url}` then `fields` (every field
    /// when `None`, `null` where unset), under API version `version` (`"68.0"`).
    pub fn render(
        &self,
        def: &ObjectDef,
        row: &Row,
        fields: Option<&[String]>,
        version: &str,
    ) -> Value {
        let id = row.get("Id").and_then(Value::as_str).unwrap_or_default();
        let mut out = Map::new();
        out.insert(
            "attributes".into(),
            json!({
                "type": def.name,
                "url": format!("/services/data/v{version}/sobjects/{}/{id}", def.name),
            }),
        );
        let names = match fields {
            Some(list) => list.to_vec(),
            None => self.field_names(def),
        };
        for name in names {
            let value = row.get(&name).cloned().unwrap_or(Value::Null);
            out.insert(name, value);
        }
        Value::Object(out)
    }
}
