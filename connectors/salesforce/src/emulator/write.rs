//! Writes to the emulated org, with Salesforce's rules:
//!
//! * unknown fields → `INVALID_FIELD` (seeding through Rust adds them as custom fields);
//!   system and derived fields (`IsWon`, `IsClosed`, `IsConverted`, …) →
//!   `INVALID_FIELD_FOR_INSERT_UPDATE` (unverified code);
//! * required fields (§2.5: Lead `LastName`, `Company`, `Status`; Account `Name`; Opportunity
//!   `Name`, `StageName`, `CloseDate`; Contact `LastName`, unverified) → `REQUIRED_FIELD_MISSING`
//!   with `fields`;
//! * Lead `Status` and Opportunity `StageName` are restricted picklists
//!   (`INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST`, unverified); `IsClosed`/`IsWon` follow the
//!   stage (§2.5);
//! * `OwnerId` must be an active user, or for Lead and Case a queue (§2.5, S6); other lookups
//!   must name an existing record (`INVALID_CROSS_REFERENCE_KEY`, unverified), and a
//!   `CaseComment`'s `ParentId` or a `LiveChatTranscript`'s `CaseId` a live Case (S7): a
//!   comment on a missing case is refused like any bad reference, naming the field;
//! * a converted Lead is read-only (`CANNOT_UPDATE_CONVERTED_LEAD`, unverified);
//! * Lead, Case and Account writes run the object's assignment rule unless the writer sent
//!   `Sforce-Auto-Assign: FALSE` (S6: `TRUE` is the default);
//! * every write stamps `LastModifiedDate`, `LastModifiedById`, `SystemModstamp`; an owner
//!   change on Lead, Opportunity or Case writes **two** history rows (S4): `Field = 'Owner'`
//!   with display names (`DataType = 'Text'`) and with ids (`DataType = 'EntityId'`; the
//!   `DataType` values and `Field = 'Owner'` are unverified), `CreatedById` = the writer.
//!
//! Lead conversion is in [`super::convert`].

use super::errors::ApiError;
use super::org::{Org, Row};
use super::schema::{object, object_of_id, FieldType, ObjectDef};
use crate::client::is_id;
use crate::time::format_ms;
use axum::http::StatusCode;
use serde_json::{json, Value};

/// Who writes, and how.
#[derive(Clone, Debug)]
pub struct Writer {
    /// The user the write is recorded as (`CreatedById`, `LastModifiedById`, history).
    pub user: String,
    /// Whether assignment rules run (`Sforce-Auto-Assign` absent or not `FALSE`).
    pub auto_assign: bool,
    /// An API call (strict about unknown fields) rather than seeding.
    pub api: bool,
}

fn read_only(def: &ObjectDef, field: &str) -> ApiError {
    ApiError::with_fields(
        StatusCode::BAD_REQUEST,
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        format!("Unable to create/update fields: {field}. Please check the security settings of this field and verify that it is read/write for your profile or permission set. ({})", def.name),
        vec![field.to_string()],
    )
}

fn bad_reference(field: &str, id: &str) -> ApiError {
    ApiError::with_fields(
        StatusCode::BAD_REQUEST,
        "INVALID_CROSS_REFERENCE_KEY",
        format!("invalid cross reference id: {id}"),
        vec![field.to_string()],
    )
}

/// The one object a lookup field must name, where it has one: a `CaseComment`'s `ParentId`
/// and a `LiveChatTranscript`'s `CaseId` name a Case (S7).
fn target_of(object: &str, field: &str) -> Option<&'static str> {
    match (object, field) {
        ("CaseComment", "ParentId") | ("LiveChatTranscript", "CaseId") => Some("Case"),
        _ => None,
    }
}

fn is_blank(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        _ => false,
    }
}

fn infer(v: &Value) -> FieldType {
    match v {
        Value::Bool(_) => FieldType::Bool,
        Value::Number(_) => FieldType::Number,
        _ => FieldType::Text,
    }
}

impl Org {
    /// Checks and canonicalises the fields of a write.
    fn prepare(
        &mut self,
        def: &'static ObjectDef,
        fields: &Row,
        w: &Writer,
    ) -> Result<Row, ApiError> {
        let mut out = Row::new();
        for (key, value) in fields {
            if key == "attributes" {
                continue;
            }
            let (name, ty) = match self.field(def, key) {
                Some(found) => found,
                None if !w.api && crate::soql::ident(key).is_ok() => {
                    self.add_field(def, key, infer(value));
                    (key.clone(), infer(value))
                }
                None => return Err(ApiError::invalid_field(def.name, key)),
            };
            if def.read_only(&name) {
                return Err(read_only(def, &name));
            }
            let text = value.as_str();
            match (def.name, name.as_str(), text) {
                ("Lead", "Status", Some(s)) if !self.lead_statuses.iter().any(|l| l.name == s) => {
                    return Err(picklist(&name, s))
                }
                ("Opportunity", "StageName", Some(s))
                    if !self.stages.iter().any(|st| st.name == s) =>
                {
                    return Err(picklist(&name, s))
                }
                (_, "OwnerId", Some(id)) => {
                    let queues = matches!(def.name, "Lead" | "Case");
                    if !self.is_owner(id, queues) {
                        return Err(bad_reference(&name, id));
                    }
                }
                (_, _, Some(id)) if ty == FieldType::Id => {
                    let known = object_of_id(id).map(|o| o.name);
                    let exists = known.is_some_and(|o| self.live(o, id).is_some());
                    let elsewhere = target_of(def.name, &name).is_some_and(|t| known != Some(t));
                    if !is_id(id) || (known.is_some() && !exists) || elsewhere {
                        return Err(bad_reference(&name, id));
                    }
                }
                _ => {}
            }
            out.insert(name, value.clone());
        }
        Ok(out)
    }

    fn required(&self, def: &ObjectDef, row: &Row) -> Result<(), ApiError> {
        let missing: Vec<String> = def
            .required
            .iter()
            .filter(|f| is_blank(row.get(**f)))
            .map(|f| f.to_string())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(ApiError::with_fields(
            StatusCode::BAD_REQUEST,
            "REQUIRED_FIELD_MISSING",
            format!("Required fields are missing: [{}]", missing.join(", ")),
            missing,
        ))
    }

    /// Fields the system derives (§2.5 stage flags; Case and Task closure; Task account).
    fn derive(&self, def: &ObjectDef, row: &mut Row, now_ms: i64) {
        let text = |row: &Row, f: &str| row.get(f).and_then(Value::as_str).map(str::to_string);
        match def.name {
            "Opportunity" => {
                let stage = text(row, "StageName");
                let found = self.stages.iter().find(|s| Some(&s.name) == stage.as_ref());
                row.insert("IsClosed".into(), json!(found.is_some_and(|s| s.closed)));
                row.insert("IsWon".into(), json!(found.is_some_and(|s| s.won)));
                row.entry("HasOpportunityLineItem").or_insert(json!(false));
            }
            "Case" => {
                let closed = text(row, "Status").as_deref() == Some("Closed");
                let was = row.get("IsClosed") == Some(&json!(true));
                row.insert("IsClosed".into(), json!(closed));
                if closed && !was {
                    row.insert("ClosedDate".into(), json!(format_ms(now_ms)));
                } else if !closed {
                    row.insert("ClosedDate".into(), Value::Null);
                }
            }
            "Task" => {
                let closed = text(row, "Status").as_deref() == Some("Completed");
                row.insert("IsClosed".into(), json!(closed));
                let what = text(row, "WhatId").filter(|id| id.starts_with("001"));
                let who = text(row, "WhoId")
                    .and_then(|id| self.live("Contact", &id))
                    .and_then(|c| {
                        c.get("AccountId")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    });
                row.insert("AccountId".into(), json!(what.or(who)));
            }
            _ => {}
        }
    }

    fn assign(&self, def: &ObjectDef, row: &mut Row, w: &Writer) {
        if w.auto_assign {
            if let Some(owner) = self.assignment.get(def.name) {
                row.insert("OwnerId".into(), json!(owner));
            }
        }
    }

    pub(super) fn stamp(row: &mut Row, by: &str, now_ms: i64) {
        let now = format_ms(now_ms);
        row.insert("LastModifiedDate".into(), json!(now));
        row.insert("LastModifiedById".into(), json!(by));
        row.insert("SystemModstamp".into(), json!(now));
    }

    /// Creates a record; returns its id.
    pub fn create(
        &mut self,
        def: &'static ObjectDef,
        fields: &Row,
        w: &Writer,
        now_ms: i64,
    ) -> Result<String, ApiError> {
        if !def.writable && w.api {
            return Err(not_writable(def));
        }
        let mut row = self.prepare(def, fields, w)?;
        if def.owned() && is_blank(row.get("OwnerId")) {
            row.insert("OwnerId".into(), json!(w.user));
        }
        if def.name == "Lead" {
            row.insert("IsConverted".into(), json!(false));
        }
        // Checkboxes are never null: a boolean field is "Defaulted on create" and not
        // "Nillable" in the Object Reference (e.g. Lead `HasOptedOutOfEmail`).
        for (name, kind) in def.all_fields() {
            if kind == FieldType::Bool && row.get(name).is_none_or(Value::is_null) {
                row.insert(name.into(), json!(false));
            }
        }
        self.required(def, &row)?;
        self.assign(def, &mut row, w);
        self.derive(def, &mut row, now_ms);
        let id = self.next_id(def.prefix);
        let mut full = self.system_fields(&id, &w.user, now_ms);
        full.append(&mut row);
        self.insert(def.name, full);
        Ok(id)
    }

    /// Updates a live record.
    pub fn update(
        &mut self,
        def: &'static ObjectDef,
        id: &str,
        fields: &Row,
        w: &Writer,
        now_ms: i64,
    ) -> Result<(), ApiError> {
        if !def.writable && w.api {
            return Err(not_writable(def));
        }
        let existing = self
            .live(def.name, id)
            .cloned()
            .ok_or_else(|| ApiError::not_found("The requested resource does not exist"))?;
        if def.name == "Lead" && existing.get("IsConverted") == Some(&json!(true)) {
            return Err(ApiError::bad(
                "CANNOT_UPDATE_CONVERTED_LEAD",
                "cannot reference converted lead",
            ));
        }
        let changes = self.prepare(def, fields, w)?;
        let mut row = existing.clone();
        for (k, v) in changes {
            row.insert(k, v);
        }
        self.required(def, &row)?;
        self.assign(def, &mut row, w);
        self.derive(def, &mut row, now_ms);
        Self::stamp(&mut row, &w.user, now_ms);
        let id = existing
            .get("Id")
            .and_then(Value::as_str)
            .unwrap_or(id)
            .to_string();
        let (old, new) = (
            existing.get("OwnerId").cloned(),
            row.get("OwnerId").cloned(),
        );
        self.insert(def.name, row);
        if old != new {
            self.owner_history(def, &id, old, new, &w.user, now_ms);
        }
        Ok(())
    }

    /// Marks a record deleted (`IsDeleted = true`, stamps bumped): `query` no longer returns
    /// it, `queryAll` does.
    pub fn delete(
        &mut self,
        def: &'static ObjectDef,
        id: &str,
        w: &Writer,
        now_ms: i64,
    ) -> Result<(), ApiError> {
        if !def.writable && w.api {
            return Err(not_writable(def));
        }
        let key = self
            .live(def.name, id)
            .and_then(|r| r.get("Id").and_then(Value::as_str).map(str::to_string))
            .ok_or_else(|| ApiError::not_found("The requested resource does not exist"))?;
        if let Some(row) = self.row_mut(def.name, &key) {
            row.insert("IsDeleted".into(), json!(true));
            Self::stamp(row, &w.user, now_ms);
        }
        self.mark(def.name, &key, &w.user, now_ms);
        Ok(())
    }

    fn owner_history(
        &mut self,
        def: &ObjectDef,
        id: &str,
        old: Option<Value>,
        new: Option<Value>,
        by: &str,
        now_ms: i64,
    ) {
        let Some((history, parent)) = def.history else {
            return;
        };
        let Some(hdef) = object(history) else { return };
        let name = |org: &Org, v: &Option<Value>| {
            v.as_ref()
                .and_then(Value::as_str)
                .map(|id| json!(org.display_name(id).unwrap_or_else(|| id.to_string())))
                .unwrap_or(Value::Null)
        };
        let rows = [
            ("Text", name(self, &old), name(self, &new)),
            (
                "EntityId",
                old.unwrap_or(Value::Null),
                new.unwrap_or(Value::Null),
            ),
        ];
        for (data_type, old_value, new_value) in rows {
            let hid = self.next_id(hdef.prefix);
            let mut row = Row::new();
            row.insert("Id".into(), json!(hid));
            row.insert(parent.into(), json!(id));
            row.insert("Field".into(), json!("Owner"));
            row.insert("DataType".into(), json!(data_type));
            row.insert("OldValue".into(), old_value);
            row.insert("NewValue".into(), new_value);
            row.insert("CreatedById".into(), json!(by));
            row.insert("CreatedDate".into(), json!(format_ms(now_ms)));
            row.insert("IsDeleted".into(), json!(false));
            self.insert(hdef.name, row);
        }
    }

    /// Ids of live records of `def` whose `field` equals `value` (upsert by external id).
    pub fn find_by(&self, def: &ObjectDef, field: &str, value: &str) -> Vec<String> {
        self.rows(def.name)
            .filter(|r| r.get("IsDeleted") != Some(&json!(true)))
            .filter(|r| r.get(field).and_then(Value::as_str) == Some(value))
            .filter_map(|r| r.get("Id").and_then(Value::as_str).map(str::to_string))
            .collect()
    }
}

fn picklist(field: &str, value: &str) -> ApiError {
    ApiError::with_fields(
        StatusCode::BAD_REQUEST,
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        format!("{field}: bad value for restricted picklist field: {value}"),
        vec![field.to_string()],
    )
}

fn not_writable(def: &ObjectDef) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!(
            "{} records cannot be written through this emulator's REST API",
            def.name
        ),
    )
}
