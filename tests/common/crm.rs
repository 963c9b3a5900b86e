//! What a black-box test does in the CRM, whichever CRM the environment runs
//! ([`super::CrmKind`]): create a lead or a won deal, read what handoff wrote, and play people
//! working in the CRM (a rep setting a status or logging a call, another system changing an
//! owner). Expected writes are computed from the configured mappings, never spelled per CRM:
//! `lead_shows(id, json!({"status": "working"}))` asks whether the lead carries the fields the
//! update mapping gives for that update.

use super::{CrmKind, TestEnv};
use handoff::mapping::Mapping;
use handoff_connector::{Person, RecordKey};
use serde_json::{json, Map, Value};

/// The CRM side of an environment, cheap to clone into a task that plays records in while the
/// test does something else (kills the daemon, say).
#[derive(Clone)]
pub struct CrmHandle {
    pub kind: CrmKind,
    pub hubspot: handoff_hubspot::HubSpotEmulator,
    pub salesforce: handoff_salesforce::emulator::SalesforceEmulator,
    /// The Salesforce queue leads arrive in.
    pub queue: String,
}

impl CrmHandle {
    /// Creates `person` as a lead (see [`TestEnv::create_person`]); returns its id.
    pub fn create_person(&self, person: &Person) -> String {
        let record = handoff::config::lead_record(self.kind.system(), person).expect("a CRM");
        match self.kind {
            CrmKind::HubSpot => self.hubspot.create_object("contacts", record.properties),
            CrmKind::Salesforce => {
                let mut fields = record.properties;
                fields.insert("OwnerId".into(), json!(self.queue));
                self.salesforce.create("Lead", fields)
            }
        }
    }

    /// Creates an open deal `name` linked to `account`; returns its id.
    pub fn open_deal(&self, name: &str, account: &str) -> String {
        match self.kind {
            CrmKind::HubSpot => {
                let id = self.hubspot.create_object(
                    "deals",
                    super::props(json!({"dealname": name, "dealstage": "qualifiedtobuy",
                        "pipeline": "default", "product": "GTXPro"})),
                );
                self.hubspot
                    .associate("deals", &id, "companies", account)
                    .unwrap();
                id
            }
            CrmKind::Salesforce => self.salesforce.create(
                "Opportunity",
                super::props(json!({"Name": name, "StageName": "Qualification",
                    "CloseDate": "2024-05-01", "AccountId": account, "Product__c": "GTXPro"})),
            ),
        }
    }

    /// Closes deal `id` won or lost with `amount`.
    pub fn close_deal(&self, id: &str, won: bool, amount: f64) {
        match self.kind {
            CrmKind::HubSpot => {
                let stage = if won { "closedwon" } else { "closedlost" };
                let fields = json!({"dealstage": stage, "amount": amount.to_string(),
                    "closedate": "2024-05-01T00:00:00.000Z"});
                self.hubspot
                    .update_object("deals", id, super::props(fields))
                    .unwrap()
            }
            CrmKind::Salesforce => {
                let stage = if won { "Closed Won" } else { "Closed Lost" };
                let fields = json!({"StageName": stage, "Amount": amount});
                self.salesforce
                    .update("Opportunity", id, super::props(fields))
                    .unwrap()
            }
        }
    }
}

impl TestEnv {
    /// A handle on the CRM emulator for a task of its own.
    pub fn crm_handle(&self) -> CrmHandle {
        CrmHandle {
            kind: self.crm,
            hubspot: self.hubspot.clone(),
            salesforce: self.salesforce.clone(),
            queue: match self.crm {
                CrmKind::HubSpot => String::new(),
                CrmKind::Salesforce => self.inbound_queue(),
            },
        }
    }

    /// The name of the field the update mapping writes a nurture reason to.
    pub fn nurture_reason_field(&self) -> String {
        let fields = self.update_fields(json!({"nurture_reason": "x"}));
        fields
            .keys()
            .next()
            .expect("the update mapping writes reasons")
            .clone()
    }

    /// The CRM's system name (`hubspot`, `salesforce`).
    pub fn system(&self) -> &'static str {
        self.crm.system()
    }

    /// The CRM object that holds leads (`contacts`, `Lead`).
    pub fn lead_object(&self) -> &'static str {
        match self.crm {
            CrmKind::HubSpot => "contacts",
            CrmKind::Salesforce => "Lead",
        }
    }

    /// The CRM object that holds deals (`deals`, `Opportunity`).
    pub fn deal_object(&self) -> &'static str {
        match self.crm {
            CrmKind::HubSpot => "deals",
            CrmKind::Salesforce => "Opportunity",
        }
    }

    /// The record key of lead `id`.
    pub fn lead_key(&self, id: &str) -> String {
        RecordKey::new(self.system(), self.lead_object(), id).to_string()
    }

    /// The record key of deal `id`.
    pub fn deal_key(&self, id: &str) -> String {
        RecordKey::new(self.system(), self.deal_object(), id).to_string()
    }

    /// A sales-ready, consenting person at Northwind Traders in the US with a valid phone.
    pub fn person(email: &str) -> Person {
        Person {
            id: String::new(),
            first_name: "Ana".into(),
            last_name: "Lima".into(),
            company: "Northwind Traders".into(),
            email: email.into(),
            phone: "+1 212 736 5000".into(),
            country: "United States".into(),
            consent: true,
            sales_ready: true,
            ..Person::default()
        }
    }

    /// Creates `person` as a lead in the CRM (written by a UI user); returns its id. A
    /// Salesforce lead arrives as web-to-lead leads do: owned by the inbound-leads queue.
    pub fn create_person(&self, person: &Person) -> String {
        self.crm_handle().create_person(person)
    }

    /// The Salesforce queue new leads land in (created once).
    pub fn inbound_queue(&self) -> String {
        const NAME: &str = "Inbound Leads";
        let existing = self
            .salesforce
            .objects("Group")
            .into_iter()
            .find(|g| g["Name"] == NAME)
            .and_then(|g| g["Id"].as_str().map(String::from));
        existing.unwrap_or_else(|| self.salesforce.add_queue(NAME, "inbound-leads@example.com"))
    }

    /// Creates a sales-ready lead for `email` ([`TestEnv::person`]); returns its id.
    pub fn new_lead(&self, email: &str) -> String {
        self.create_person(&Self::person(email))
    }

    /// The lead's fields as the CRM holds them (empty if it does not exist).
    pub fn lead_fields(&self, id: &str) -> Map<String, Value> {
        self.fields(self.lead_object(), id)
    }

    fn fields(&self, object: &str, id: &str) -> Map<String, Value> {
        let record = match self.crm {
            CrmKind::HubSpot => self.hubspot.get(object, id),
            CrmKind::Salesforce => self.salesforce.get(object, id),
        };
        let Some(record) = record else {
            return Map::new();
        };
        match self.crm {
            CrmKind::HubSpot => record["properties"]
                .as_object()
                .cloned()
                .unwrap_or_default(),
            CrmKind::Salesforce => record.as_object().cloned().unwrap_or_default(),
        }
    }

    fn mapping(&self, name: &str) -> Mapping {
        let loaded = handoff::config::load(&self.config_path).expect("the test config loads");
        let name = match name {
            "update" => loaded.config.lead_handoff.update_mapping.value.clone(),
            "case" => loaded.config.closed_won.case_mapping.value.clone(),
            other => other.to_string(),
        };
        loaded.mapping(&name).clone()
    }

    /// The CRM fields the update mapping writes for `update` (e.g. `{"status": "working"}`).
    pub fn update_fields(&self, update: Value) -> Map<String, Value> {
        self.mapping("update").apply(&update).record
    }

    /// Whether the lead carries every field the update mapping writes for `update`.
    pub fn lead_shows(&self, id: &str, update: Value) -> bool {
        let lead = self.lead_fields(id);
        self.update_fields(update)
            .iter()
            .all(|(k, v)| text(lead.get(k)) == text(Some(v)))
    }

    /// The name of the lead's owner field (what the update mapping writes an owner id to).
    pub fn owner_field(&self) -> String {
        let fields = self.update_fields(json!({"owner_id": "x"}));
        fields
            .keys()
            .next()
            .expect("the update mapping writes owners")
            .clone()
    }

    /// The lead's owner id in the CRM, if set.
    pub fn lead_owner(&self, id: &str) -> Option<String> {
        text(self.lead_fields(id).get(&self.owner_field())).filter(|s| !s.is_empty())
    }

    /// The email of the lead's owner in the CRM, if it is one of the seeded people.
    pub fn lead_owner_email(&self, id: &str) -> Option<String> {
        self.owner_email(&self.lead_owner(id)?)
    }

    /// The lead's status field name and value (what the update mapping writes for `status`).
    pub fn status_field(&self, status: &str) -> (String, String) {
        let fields = self.update_fields(json!({ "status": status }));
        let (k, v) = fields
            .into_iter()
            .next()
            .expect("the update mapping writes a status");
        (k, text(Some(&v)).unwrap_or_default())
    }

    /// `rep_email`, working in the CRM, sets the lead's fields (as themselves).
    pub fn rep_updates_lead(&self, id: &str, rep_email: &str, fields: Map<String, Value>) {
        let owner = self.owner_ids[rep_email].clone();
        match self.crm {
            CrmKind::HubSpot => {
                let user: u64 = owner.parse().unwrap_or(1);
                self.hubspot
                    .update_as_user(self.lead_object(), id, fields, user)
                    .unwrap()
            }
            CrmKind::Salesforce => self
                .salesforce
                .update_as(&owner, "Lead", id, fields)
                .unwrap(),
        }
    }

    /// `rep_email` logs a call on the lead at the CRM's now (HubSpot: a call engagement,
    /// which moves "Last contacted"; Salesforce: a Task with `TaskSubtype = Call`).
    pub fn rep_logs_call(&self, id: &str, rep_email: &str, at_ms: i64) {
        match self.crm {
            CrmKind::HubSpot => {
                self.hubspot
                    .log_engagement("calls", id, at_ms, Map::new())
                    .unwrap();
            }
            CrmKind::Salesforce => {
                let owner = self.owner_ids[rep_email].clone();
                self.salesforce.set_clock(Some(at_ms));
                let fields = json!({"WhoId": id, "Subject": "Call", "TaskSubtype": "Call",
                    "Status": "Completed", "OwnerId": owner});
                self.salesforce
                    .create_as(&owner, "Task", fields.as_object().unwrap().clone())
                    .unwrap();
                self.follow_clock();
            }
        }
    }

    /// `rep_email` qualifies the lead in the CRM: the mapped `lifecycle_stage` becomes SQL
    /// (HubSpot: `lifecyclestage` `salesqualifiedlead`; Salesforce: `Status` `Working -
    /// Contacted`, which the lead mapping reads as SQL).
    pub fn rep_qualifies_lead(&self, id: &str, rep_email: &str) {
        let fields = match self.crm {
            CrmKind::HubSpot => json!({"lifecyclestage": "salesqualifiedlead"}),
            CrmKind::Salesforce => json!({"Status": "Working - Contacted"}),
        };
        self.rep_updates_lead(id, rep_email, super::props(fields));
    }

    /// The `ownership.systems` of a config where marketing automation, reps in the CRM and
    /// handoff are the writers: HubSpot's source types, or Salesforce's `USER` and the marketing
    /// integration user's id.
    pub fn ownership_systems_yaml(&self) -> String {
        match self.crm {
            CrmKind::HubSpot => "    marketing: [AUTOMATION_PLATFORM, FORM, IMPORT]\n    crm: [CRM_UI, MOBILE_IOS, MOBILE_ANDROID, SALES]\n    handoff: [INTEGRATION]\n".into(),
            CrmKind::Salesforce => format!(
                "    marketing: [{}]\n    crm: [USER]\n    handoff: [INTEGRATION]\n",
                self.marketing_integration_user()
            ),
        }
    }

    /// The source type the CRM reports for another system's owner write (HubSpot
    /// `AUTOMATION_PLATFORM`; Salesforce `USER`), and for a rep's in the UI (`CRM_UI`; `USER`).
    pub fn source_types(&self) -> (&'static str, &'static str) {
        match self.crm {
            CrmKind::HubSpot => ("AUTOMATION_PLATFORM", "CRM_UI"),
            CrmKind::Salesforce => ("USER", "USER"),
        }
    }

    /// Another system (a HubSpot workflow; a Salesforce integration user that is not handoff's)
    /// gives the lead to `owner_email`.
    pub fn other_system_sets_owner(&self, id: &str, owner_email: &str) {
        let owner = self.owner_ids[owner_email].clone();
        let mut fields = Map::new();
        fields.insert(self.owner_field(), json!(owner));
        match self.crm {
            CrmKind::HubSpot => self
                .hubspot
                .update_as_workflow(self.lead_object(), id, fields, 4242)
                .unwrap(),
            CrmKind::Salesforce => {
                let other = self.marketing_integration_user();
                self.salesforce
                    .update_as(&other, "Lead", id, fields)
                    .unwrap()
            }
        }
    }

    /// A Salesforce user standing for another integration (a marketing tool's), created once.
    pub fn marketing_integration_user(&self) -> String {
        const EMAIL: &str = "marketing-sync@example.com";
        let existing = self
            .salesforce
            .objects("User")
            .into_iter()
            .find(|u| u["Email"] == EMAIL)
            .and_then(|u| u["Id"].as_str().map(String::from));
        existing.unwrap_or_else(|| self.salesforce.add_user(EMAIL, "Marketing", "Sync"))
    }

    /// Creates a won deal named `name` of `amount`; returns its id. HubSpot: a deal at
    /// `closedwon`; Salesforce: an Opportunity at `Closed Won` (IsWon follows the stage).
    pub fn won_deal(&self, name: &str, amount: f64) -> String {
        self.win_deal(name, Some(amount), None)
    }

    /// Creates an open deal named `name` (with `amount`, linked to `account`), then moves it
    /// to won (two versions of the deal, as a rep working it makes); returns its id.
    pub fn win_deal(&self, name: &str, amount: Option<f64>, account: Option<&str>) -> String {
        match self.crm {
            CrmKind::HubSpot => {
                let mut p = super::props(json!({"dealname": name, "pipeline": "default",
                    "dealstage": "appointmentscheduled", "product": "GTXPro"}));
                if let Some(a) = amount {
                    p.insert("amount".into(), json!(a.to_string()));
                }
                let id = self.hubspot.create_object("deals", p);
                if let Some(c) = account {
                    self.hubspot
                        .associate("deals", &id, "companies", c)
                        .unwrap();
                }
                let won =
                    json!({"dealstage": "closedwon", "closedate": "2024-03-01T00:00:00.000Z"});
                self.hubspot
                    .update_object("deals", &id, super::props(won))
                    .unwrap();
                id
            }
            CrmKind::Salesforce => {
                let mut p = super::props(json!({"Name": name, "StageName": "Prospecting",
                    "CloseDate": "2024-03-01", "Product__c": "GTXPro"}));
                if let Some(a) = amount {
                    p.insert("Amount".into(), json!(a));
                }
                if let Some(c) = account {
                    p.insert("AccountId".into(), json!(c));
                }
                let id = self.salesforce.create("Opportunity", p);
                let won = super::props(json!({"StageName": "Closed Won"}));
                self.salesforce.update("Opportunity", &id, won).unwrap();
                id
            }
        }
    }

    /// Sets a deal's amount, as a rep fixing it in the CRM.
    pub fn set_deal_amount(&self, id: &str, amount: f64) {
        match self.crm {
            CrmKind::HubSpot => self
                .hubspot
                .update_object(
                    "deals",
                    id,
                    super::props(json!({"amount": amount.to_string()})),
                )
                .unwrap(),
            CrmKind::Salesforce => self
                .salesforce
                .update("Opportunity", id, super::props(json!({"Amount": amount})))
                .unwrap(),
        }
    }

    /// Creates an account `name` at web domain `domain` owned by `owner_email`; returns its id.
    pub fn new_account(&self, name: &str, domain: &str, owner_email: &str) -> String {
        let owner = self.owner_ids[owner_email].clone();
        match self.crm {
            CrmKind::HubSpot => self.hubspot.create_object(
                "companies",
                super::props(json!({"name": name, "domain": domain, "hubspot_owner_id": owner})),
            ),
            CrmKind::Salesforce => self.salesforce.create(
                "Account",
                super::props(
                    json!({"Name": name, "Website": format!("https://{domain}/"),
                    "OwnerId": owner}),
                ),
            ),
        }
    }

    /// The account a case is linked to (HubSpot: its company association; Salesforce: its
    /// `AccountId`).
    pub fn case_account(&self, case_id: &str) -> Option<String> {
        match self.crm {
            CrmKind::HubSpot => {
                let ticket = self.hubspot.get("tickets", case_id)?;
                super::assoc_ids(&ticket, "companies").into_iter().next()
            }
            CrmKind::Salesforce => text(self.salesforce.get("Case", case_id)?.get("AccountId")),
        }
    }

    /// The CSM a case is owned by (the owner field the case mapping writes), as an email.
    pub fn case_owner_email(&self, case: &Map<String, Value>) -> Option<String> {
        let draft = json!({"subject": "s", "owner_id": "x"});
        let fields = self.mapping("case").apply(&draft).record;
        let field = fields
            .iter()
            .find(|(_, v)| v.as_str() == Some("x"))?
            .0
            .clone();
        self.owner_email(&text(case.get(&field))?)
    }

    /// A case's id.
    pub fn case_id(&self, case: &Map<String, Value>) -> String {
        let id = match self.crm {
            CrmKind::HubSpot => case.get("hs_object_id"),
            CrmKind::Salesforce => case.get("Id"),
        };
        text(id).unwrap_or_default()
    }

    /// Every onboarding case (HubSpot ticket, Salesforce Case) in the CRM, as field maps.
    pub fn cases(&self) -> Vec<Map<String, Value>> {
        match self.crm {
            CrmKind::HubSpot => self
                .hubspot
                .objects("tickets")
                .into_iter()
                .map(|t| t["properties"].as_object().cloned().unwrap_or_default())
                .collect(),
            CrmKind::Salesforce => self
                .salesforce
                .objects("Case")
                .into_iter()
                .map(|c| c.as_object().cloned().unwrap_or_default())
                .collect(),
        }
    }

    /// The cases whose idempotency key is the onboarding saga of deal `id`.
    pub fn cases_for_deal(&self, id: &str) -> Vec<Map<String, Value>> {
        let saga = format!("onboarding:{}:", self.deal_key(id));
        let field = match self.crm {
            CrmKind::HubSpot => "handoff_idempotency_key",
            CrmKind::Salesforce => "Handoff_Idempotency_Key__c",
        };
        self.cases()
            .into_iter()
            .filter(|c| text(c.get(field)).is_some_and(|k| k.starts_with(&saga)))
            .collect()
    }

    /// Sets the Salesforce org's clock to the daemon's (a test's [`TestEnv::clock`]), so
    /// records are stamped in the test's time; the system clock without one. HubSpot's
    /// emulator stamps what the test gives it.
    pub fn follow_clock(&self) {
        if self.crm == CrmKind::Salesforce {
            self.salesforce
                .set_clock(self.clock.as_ref().map(|c| c.now_ms()));
        }
    }

    /// Requests the CRM emulator has served (to tell a quiet CRM from a busy one).
    pub fn crm_requests(&self) -> u64 {
        match self.crm {
            CrmKind::HubSpot => self.hubspot.request_count(),
            CrmKind::Salesforce => self.salesforce.request_count(),
        }
    }
}

/// A JSON value's text (strings as they are, numbers and booleans as JSON), `None` for null.
pub fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}
