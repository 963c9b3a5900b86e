//! The emulator's Rust control API for seeding and inspecting the org: users and queues,
//! custom fields, assignment rules, records written as a named user (a rep changing an owner
//! behind handoff's back), lead conversion, records and history as the API returns them, each
//! user's newest change per object (how far a change feed must have read), and the
//! `--state-dir` files.

use super::convert::Conversion;
use super::org::Row;
use super::write::Writer;
use super::{schema, EmulatorError, SalesforceEmulator};
use handoff_connector::emulator::write_state_file;
use serde_json::{Map, Value};
use std::path::Path;

/// A user's newest change to an object ([`SalesforceEmulator::newest_changes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeMark {
    /// The writer (`LastModifiedById`).
    pub user_id: String,
    /// The record's `SystemModstamp` after that write, UTC epoch ms.
    pub modstamp_ms: i64,
    /// The record's `Id`.
    pub id: String,
}

impl SalesforceEmulator {
    // ---- the org ---------------------------------------------------------------------------

    /// The org id (`00D…`, 18 characters).
    pub fn org_id(&self) -> String {
        self.org().org_id.clone()
    }

    /// The integration user's id (API writes are recorded as theirs).
    pub fn integration_user_id(&self) -> String {
        self.org().integration_user.clone()
    }

    /// The admin user seeding writes are made as.
    pub fn ui_user_id(&self) -> String {
        self.org().ui_user.clone()
    }

    /// Adds an active user (username = email); returns the id (`005…`).
    pub fn add_user(&self, email: &str, first: &str, last: &str) -> String {
        let mut org = self.org();
        let now = self.stamp_ms();
        org.add_user(email, email, first, last, now)
    }

    /// Adds a queue (`Group`, `Type = 'Queue'`, S6); returns the id (`00G…`).
    pub fn add_queue(&self, name: &str, email: &str) -> String {
        let mut org = self.org();
        let now = self.stamp_ms();
        org.add_queue(name, email, now)
    }

    /// Adds a custom text field to `object` (what an admin does in Setup).
    pub fn add_field(&self, object: &str, name: &str) -> Result<(), EmulatorError> {
        let def =
            schema::object(object).ok_or_else(|| EmulatorError::UnknownObject(object.into()))?;
        self.org().add_field(def, name, schema::FieldType::Text);
        Ok(())
    }

    /// Makes API writes to `object` (Lead, Case, Account) without `Sforce-Auto-Assign: FALSE`
    /// give records to `owner_id` (an assignment rule, S6); `None` removes the rule.
    pub fn set_assignment_rule(
        &self,
        object: &str,
        owner_id: Option<&str>,
    ) -> Result<(), EmulatorError> {
        let def =
            schema::object(object).ok_or_else(|| EmulatorError::UnknownObject(object.into()))?;
        let mut org = self.org();
        match owner_id {
            Some(o) => org.assignment.insert(def.name, o.to_string()),
            None => org.assignment.remove(def.name),
        };
        Ok(())
    }

    fn seeding(&self, user_id: &str) -> Writer {
        Writer {
            user: user_id.to_string(),
            auto_assign: false,
            api: false,
        }
    }

    /// Creates a record as the admin UI user; returns its id. Unknown fields become custom
    /// fields.
    ///
    /// # Panics
    /// When the org refuses the record (unknown object, a required field missing, a bad
    /// picklist value): a mistake in the caller's seed data.
    pub fn create(&self, object: &str, fields: Map<String, Value>) -> String {
        let user = self.ui_user_id();
        self.create_as(&user, object, fields)
            .unwrap_or_else(|e| panic!("seeding {object}: {e}"))
    }

    /// Creates a record as `user_id`; errors as the API would answer.
    pub fn create_as(
        &self,
        user_id: &str,
        object: &str,
        fields: Map<String, Value>,
    ) -> Result<String, EmulatorError> {
        let def =
            schema::object(object).ok_or_else(|| EmulatorError::UnknownObject(object.into()))?;
        let mut org = self.org();
        let now = self.stamp_ms();
        Ok(org.create(def, &fields, &self.seeding(user_id), now)?)
    }

    /// Updates a record as the admin UI user.
    pub fn update(
        &self,
        object: &str,
        id: &str,
        fields: Map<String, Value>,
    ) -> Result<(), EmulatorError> {
        let user = self.ui_user_id();
        self.update_as(&user, object, id, fields)
    }

    /// Updates a record as `user_id` (e.g. a rep taking a lead): history rows carry
    /// `CreatedById = user_id`.
    pub fn update_as(
        &self,
        user_id: &str,
        object: &str,
        id: &str,
        fields: Map<String, Value>,
    ) -> Result<(), EmulatorError> {
        let def =
            schema::object(object).ok_or_else(|| EmulatorError::UnknownObject(object.into()))?;
        let mut org = self.org();
        let now = self.stamp_ms();
        Ok(org.update(def, id, &fields, &self.seeding(user_id), now)?)
    }

    /// Deletes a record (it stays visible to `queryAll` with `IsDeleted = true`).
    pub fn delete(&self, object: &str, id: &str) -> Result<(), EmulatorError> {
        let def =
            schema::object(object).ok_or_else(|| EmulatorError::UnknownObject(object.into()))?;
        let user = self.ui_user_id();
        let mut org = self.org();
        let now = self.stamp_ms();
        Ok(org.delete(def, id, &self.seeding(&user), now)?)
    }

    /// Converts a lead as the admin user (S8): Account, Contact and, when `opportunity`, an
    /// Opportunity; the lead becomes read-only.
    pub fn convert_lead(
        &self,
        lead_id: &str,
        opportunity: bool,
    ) -> Result<Conversion, EmulatorError> {
        let user = self.ui_user_id();
        let mut org = self.org();
        let now = self.stamp_ms();
        Ok(org.convert_lead(lead_id, &self.seeding(&user), opportunity, now)?)
    }

    /// A live record as the API returns it (`attributes` and every field), if it exists.
    pub fn get(&self, object: &str, id: &str) -> Option<Value> {
        let def = schema::object(object)?;
        let org = self.org();
        let row = org.live(def.name, id)?;
        Some(org.render(def, row, None, "68.0"))
    }

    /// Every live record of `object` as the API returns it, in creation order.
    pub fn objects(&self, object: &str) -> Vec<Value> {
        let Some(def) = schema::object(object) else {
            return Vec::new();
        };
        let org = self.org();
        org.rows(def.name)
            .filter(|r| r.get("IsDeleted") != Some(&Value::Bool(true)))
            .map(|r| org.render(def, r, None, "68.0"))
            .collect()
    }

    // ---- cases: transcripts and comments (NOTES-next S7) -----------------------------------

    /// Seeds the chat transcript of case `case_id` as the admin UI user: a
    /// `LiveChatTranscript` (S7) with `Body` (the chat as Salesforce stores it, HTML-ish text),
    /// `IsChatbotSession` `chatbot`, `EndTime` `end_ms` (UTC epoch ms) when given, and the
    /// case's `AccountId` and `ContactId`. Returns its id. Errors as the API would answer (a
    /// missing case: `INVALID_CROSS_REFERENCE_KEY` on `CaseId`).
    pub fn add_transcript(
        &self,
        case_id: &str,
        body: &str,
        chatbot: bool,
        end_ms: Option<i64>,
    ) -> Result<String, EmulatorError> {
        let mut fields = Map::new();
        fields.insert("CaseId".into(), Value::String(case_id.to_string()));
        fields.insert("Body".into(), Value::String(body.to_string()));
        fields.insert("IsChatbotSession".into(), Value::Bool(chatbot));
        if let Some(ms) = end_ms {
            fields.insert("EndTime".into(), Value::String(crate::time::format_ms(ms)));
        }
        if let Some(case) = self.get("Case", case_id) {
            for link in ["AccountId", "ContactId"] {
                if let Some(id) = case.get(link).filter(|v| v.is_string()) {
                    fields.insert(link.into(), id.clone());
                }
            }
        }
        let user = self.ui_user_id();
        self.create_as(&user, "LiveChatTranscript", fields)
    }

    /// Adds a comment to case `case_id` as `user_id` (someone writing in the UI): a
    /// `CaseComment` (S7) with `CommentBody` `body` and `IsPublished` `public`; its
    /// `CreatedById` is `user_id`. Returns its id. Errors as the API would answer (a missing
    /// case: `INVALID_CROSS_REFERENCE_KEY` on `ParentId`).
    pub fn add_case_comment(
        &self,
        user_id: &str,
        case_id: &str,
        body: &str,
        public: bool,
    ) -> Result<String, EmulatorError> {
        let mut fields = Map::new();
        fields.insert("ParentId".into(), Value::String(case_id.to_string()));
        fields.insert("CommentBody".into(), Value::String(body.to_string()));
        fields.insert("IsPublished".into(), Value::Bool(public));
        self.create_as(user_id, "CaseComment", fields)
    }

    /// Every live comment on case `case_id` (`CaseComment` rows whose `ParentId` is the case),
    /// as the API returns them, oldest first.
    pub fn case_comments(&self, case_id: &str) -> Vec<Value> {
        self.objects("CaseComment")
            .into_iter()
            .filter(|c| c.get("ParentId").and_then(Value::as_str) == Some(case_id))
            .collect()
    }

    /// The field-history rows of record `id` of `object` (Lead, Opportunity, Case), oldest
    /// first: two per owner change (S4).
    pub fn history(&self, object: &str, id: &str) -> Vec<Value> {
        let Some((history, parent)) = schema::object(object).and_then(|d| d.history) else {
            return Vec::new();
        };
        let Some(hdef) = schema::object(history) else {
            return Vec::new();
        };
        let org = self.org();
        org.rows(history)
            .filter(|r: &&Row| r.get(parent).and_then(Value::as_str) == Some(id))
            .map(|r| org.render(hdef, r, None, "68.0"))
            .collect()
    }

    /// The newest change each user made to `object`'s records: per writer
    /// (`LastModifiedById`), the greatest `(SystemModstamp, Id)` they wrote, in the order a
    /// change feed on `SystemModstamp` reads. A feed whose position is at or past a user's mark
    /// has read every change that user made to the object (or a later state of the record).
    /// Sorted by user id; empty for an object nobody wrote.
    pub fn newest_changes(&self, object: &str) -> Vec<ChangeMark> {
        let Some(def) = schema::object(object) else {
            return Vec::new();
        };
        self.org()
            .marks
            .iter()
            .filter(|((o, _), _)| *o == def.name)
            .map(|((_, user), (ms, id))| ChangeMark {
                user_id: user.clone(),
                modstamp_ms: *ms,
                id: id.clone(),
            })
            .collect()
    }

    /// Writes `dir/salesforce/{Lead,Contact,Account,Opportunity,Case,Task,User}.json`: JSON
    /// arrays of the live records as the API returns them.
    pub fn write_state(&self, dir: &Path) -> std::io::Result<()> {
        for object in [
            "Lead",
            "Contact",
            "Account",
            "Opportunity",
            "Case",
            "Task",
            "User",
        ] {
            write_state_file(dir, "salesforce", object, &self.objects(object))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;

    fn fields(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn writes_follow_a_clock_and_each_writer_s_newest_change_is_kept() {
        let emu = SalesforceEmulator::new(Default::default());
        let now = Arc::new(AtomicI64::new(1_795_100_400_000));
        let clock = now.clone();
        emu.follow_clock(Some(Arc::new(move || clock.load(Ordering::SeqCst))));
        let queue = emu.add_queue("Inbound Leads", "inbound@example.com");
        let rep = emu.add_user("rep@example.com", "Rep", "One");
        let a = emu.create(
            "Lead",
            fields(
                json!({"LastName": "A", "Company": "X", "Status": "Open - Not Contacted",
                "OwnerId": queue}),
            ),
        );
        assert_eq!(
            emu.get("Lead", &a).unwrap()["CreatedDate"],
            "2026-11-19T15:00:00.000+0000"
        );
        now.fetch_add(61_500, Ordering::SeqCst);
        let b = emu.create(
            "Lead",
            fields(json!({"LastName": "B", "Company": "Y", "Status": "Open - Not Contacted"})),
        );
        // The rep works the older lead later: their mark is that write, the admin's is `b`.
        now.fetch_add(1_000, Ordering::SeqCst);
        emu.update_as(
            &rep,
            "Lead",
            &a,
            fields(json!({"Status": "Working - Contacted"})),
        )
        .unwrap();
        let marks = emu.newest_changes("Lead");
        let admin = emu.ui_user_id();
        let of = |user: &str| marks.iter().find(|m| m.user_id == user).cloned();
        assert_eq!(
            of(&admin).map(|m| (m.modstamp_ms, m.id)),
            Some((1_795_100_461_000, b))
        );
        assert_eq!(
            of(&rep).map(|m| (m.modstamp_ms, m.id)),
            Some((1_795_100_462_000, a))
        );
        assert!(emu.newest_changes("Opportunity").is_empty());
        emu.follow_clock(None);
        assert!((emu.now_ms() - handoff_connector::now_ms()).abs() < 5_000);
    }
}
