//! The emulated portal's data: CRM records, associations and owners, and how records render
//! in HubSpot's `SimplePublicObject` shape.
//!
//! Every write stamps `hs_object_id`, `createdate` (`hs_createdate` on engagements) and
//! `hs_lastmodifieddate` (plus `lastmodifieddate` on contacts) as ISO-8601 UTC strings, records
//! each property it sets in the property's history with its [`WriteSource`] (see
//! [`super::history`]), and returns the webhook events HubSpot would emit for it
//! (`contact.creation`, `contact.propertyChange` per changed property, `….deletion`; no
//! creation or change events for engagements and users, which handoff does not subscribe to). Property values are stored as strings;
//! `null` or `""` clears one.

use super::history::{newest_first, HistoryEntry, WriteSource};
use crate::objects::ObjectType;
use crate::time::format_ms;
use crate::wire::{ApiObject, AssociationList, AssociationRef, ValueWithTimestamp};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Properties the portal maintains itself; writes to them are ignored.
const SYSTEM_PROPERTIES: [&str; 5] = [
    "hs_object_id",
    "createdate",
    "hs_createdate",
    "hs_lastmodifieddate",
    "lastmodifieddate",
];

/// One stored CRM record.
#[derive(Clone, Debug)]
pub(crate) struct StoredObject {
    pub id: u64,
    pub props: BTreeMap<String, String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// Every write of each property, oldest first.
    pub history: BTreeMap<String, Vec<HistoryEntry>>,
}

/// A HubSpot user who can own records.
#[derive(Clone, Debug)]
pub(crate) struct StoredOwner {
    pub id: u64,
    pub user_id: u64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub team: Option<(u64, String)>,
    pub created_ms: i64,
}

/// A webhook event before the outbox numbers it (`eventId`, `subscriptionId`, `portalId`,
/// `appId`, `attemptNumber` are added at delivery).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct EventDraft {
    pub subscription_type: String,
    pub object_id: u64,
    pub occurred_at: i64,
    pub property_name: Option<String>,
    pub property_value: Option<String>,
    pub change_flag: Option<&'static str>,
    pub change_source: String,
}

/// Which properties a read returns.
#[derive(Clone, Debug)]
pub(crate) enum Selection<'a> {
    /// Every stored property (the Rust API and state files).
    All,
    /// The object type's default properties.
    Default,
    /// These properties (unset ones as `null`) plus the system properties.
    Named(&'a [String]),
}

/// Why a portal write failed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmulatorError {
    #[error("Unable to infer object type from: {0}")]
    UnknownObjectType(String),
    #[error("no {object_type} record with id {id}")]
    NotFound { object_type: String, id: String },
    #[error("{0}")]
    Invalid(String),
}

/// The unlabelled (HubSpot-defined) association type id from one object type to another, as
/// listed in HubSpot's associations v4 docs. `None` for pairs the emulator does not support.
pub(crate) fn association_type_id(from: ObjectType, to: ObjectType) -> Option<u32> {
    use ObjectType::*;
    Some(match (from, to) {
        (Contacts, Companies) => 279,
        (Companies, Contacts) => 280,
        (Deals, Contacts) => 3,
        (Contacts, Deals) => 4,
        (Deals, Companies) => 341,
        (Companies, Deals) => 342,
        (Contacts, Tickets) => 15,
        (Tickets, Contacts) => 16,
        (Deals, Tickets) => 27,
        (Tickets, Deals) => 28,
        (Tickets, Companies) => 339,
        (Companies, Tickets) => 340,
        // Engagements ↔ contacts (HubSpot's association type table; 194 call→contact also in
        // the calls API's request examples; the others [unverified], from the same table as
        // remembered, not re-read this session).
        (Contacts, Calls) => 193,
        (Calls, Contacts) => 194,
        (Contacts, Emails) => 197,
        (Emails, Contacts) => 198,
        (Contacts, Meetings) => 199,
        (Meetings, Contacts) => 200,
        // Notes ↔ records: HubSpot's "Association type ID values" tables ("Note to object":
        // 202 contact, 190 company, 214 deal, 228 ticket; "Contact/Company/Deal/Ticket to
        // object": 201, 189, 213, 227 note), page
        // developers.hubspot.com/docs/api-reference/legacy/crm/associations/associate-records/guide,
        // a stored copy read with the `search` tool [docs].
        (Notes, Contacts) => 202,
        (Contacts, Notes) => 201,
        (Notes, Companies) => 190,
        (Companies, Notes) => 189,
        (Notes, Deals) => 214,
        (Deals, Notes) => 213,
        (Notes, Tickets) => 228,
        (Tickets, Notes) => 227,
        _ => return None,
    })
}

/// The in-memory portal.
#[derive(Debug, Default)]
pub(crate) struct Portal {
    last_id: u64,
    objects: HashMap<ObjectType, BTreeMap<u64, StoredObject>>,
    links: HashMap<(ObjectType, u64), BTreeMap<ObjectType, BTreeSet<u64>>>,
    owners: BTreeMap<u64, StoredOwner>,
    teams: BTreeMap<String, u64>,
}

fn as_property(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string().trim_matches('"').to_string()),
    }
}

impl Portal {
    fn next_id(&mut self) -> u64 {
        self.last_id += 1;
        self.last_id
    }

    /// The records of one type, by id.
    pub fn table(&self, kind: ObjectType) -> Option<&BTreeMap<u64, StoredObject>> {
        self.objects.get(&kind)
    }

    /// One record.
    pub fn object(&self, kind: ObjectType, id: u64) -> Option<&StoredObject> {
        self.objects.get(&kind)?.get(&id)
    }

    /// The id of the record whose `property` equals `value` (`hs_object_id` looks up by id).
    pub fn find_by(&self, kind: ObjectType, property: &str, value: &str) -> Option<u64> {
        if property == "hs_object_id" {
            let id = value.parse().ok()?;
            return self.object(kind, id).map(|o| o.id);
        }
        self.objects
            .get(&kind)?
            .values()
            .find(|o| {
                o.props
                    .get(property)
                    .is_some_and(|v| v.eq_ignore_ascii_case(value))
            })
            .map(|o| o.id)
    }

    /// Creates a record at `now_ms`; returns its id and the `….creation` event.
    pub fn create(
        &mut self,
        kind: ObjectType,
        properties: &Map<String, Value>,
        now_ms: i64,
        source: &WriteSource,
    ) -> (u64, Vec<EventDraft>) {
        let id = self.next_id();
        let mut props = BTreeMap::new();
        for (name, value) in properties {
            if SYSTEM_PROPERTIES.contains(&name.as_str()) {
                continue;
            }
            if let Some(v) = as_property(value) {
                props.insert(name.clone(), v);
            }
        }
        match kind {
            ObjectType::Deals => {
                props
                    .entry("pipeline".into())
                    .or_insert_with(|| "default".into());
            }
            ObjectType::Tickets => {
                props
                    .entry("hs_pipeline".into())
                    .or_insert_with(|| "0".into());
                props
                    .entry("hs_pipeline_stage".into())
                    .or_insert_with(|| "1".into());
            }
            _ => {}
        }
        let history = props
            .iter()
            .map(|(name, value)| {
                let entry = HistoryEntry {
                    value: value.clone(),
                    at_ms: now_ms,
                    source: source.clone(),
                };
                (name.clone(), vec![entry])
            })
            .collect();
        props.insert("hs_object_id".into(), id.to_string());
        props.insert(kind.created_property().into(), format_ms(now_ms));
        let mut obj = StoredObject {
            id,
            props,
            created_ms: now_ms,
            updated_ms: now_ms,
            history,
        };
        stamp(kind, &mut obj, now_ms);
        self.objects.entry(kind).or_default().insert(id, obj);
        if !kind.has_webhooks() {
            return (id, Vec::new());
        }
        let event = EventDraft {
            subscription_type: format!("{}.creation", kind.singular()),
            object_id: id,
            occurred_at: now_ms,
            property_name: None,
            property_value: None,
            change_flag: Some("NEW"),
            change_source: source.change_source.clone(),
        };
        (id, vec![event])
    }

    /// Sets properties on a record; returns one `….propertyChange` event per changed property.
    /// A write that changes nothing leaves `hs_lastmodifieddate` as it was.
    pub fn update(
        &mut self,
        kind: ObjectType,
        id: u64,
        properties: &Map<String, Value>,
        now_ms: i64,
        source: &WriteSource,
    ) -> Result<Vec<EventDraft>, EmulatorError> {
        let obj = self
            .objects
            .get_mut(&kind)
            .and_then(|t| t.get_mut(&id))
            .ok_or_else(|| not_found(kind, id))?;
        let mut events = Vec::new();
        for (name, value) in properties {
            if SYSTEM_PROPERTIES.contains(&name.as_str()) {
                continue;
            }
            let new = as_property(value);
            if obj.props.get(name) == new.as_ref() {
                continue;
            }
            match &new {
                Some(v) => obj.props.insert(name.clone(), v.clone()),
                None => obj.props.remove(name),
            };
            obj.history
                .entry(name.clone())
                .or_default()
                .push(HistoryEntry {
                    value: new.clone().unwrap_or_default(),
                    at_ms: now_ms,
                    source: source.clone(),
                });
            events.push(EventDraft {
                subscription_type: format!("{}.propertyChange", kind.singular()),
                object_id: id,
                occurred_at: now_ms,
                property_name: Some(name.clone()),
                property_value: Some(new.unwrap_or_default()),
                change_flag: None,
                change_source: source.change_source.clone(),
            });
        }
        let changed = !events.is_empty();
        if changed {
            stamp(kind, obj, now_ms);
        }
        if !kind.has_webhooks() {
            events.clear();
        }
        Ok(events)
    }

    /// Archives (removes) a record and its associations; returns the `….deletion` event.
    pub fn archive(
        &mut self,
        kind: ObjectType,
        id: u64,
        now_ms: i64,
        source: &WriteSource,
    ) -> Result<Vec<EventDraft>, EmulatorError> {
        self.objects
            .get_mut(&kind)
            .and_then(|t| t.remove(&id))
            .ok_or_else(|| not_found(kind, id))?;
        if let Some(links) = self.links.remove(&(kind, id)) {
            for (other_kind, ids) in links {
                for other in ids {
                    if let Some(back) = self.links.get_mut(&(other_kind, other)) {
                        if let Some(set) = back.get_mut(&kind) {
                            set.remove(&id);
                        }
                    }
                }
            }
        }
        Ok(vec![EventDraft {
            subscription_type: format!("{}.deletion", kind.singular()),
            object_id: id,
            occurred_at: now_ms,
            property_name: None,
            property_value: None,
            change_flag: Some("DELETED"),
            change_source: source.change_source.clone(),
        }])
    }

    /// Stores the default association in both directions. Idempotent.
    pub fn associate(
        &mut self,
        from: ObjectType,
        from_id: u64,
        to: ObjectType,
        to_id: u64,
    ) -> Result<u32, EmulatorError> {
        let type_id = association_type_id(from, to).ok_or_else(|| {
            EmulatorError::Invalid(format!("{from} cannot be associated with {to} by default"))
        })?;
        if self.object(from, from_id).is_none() {
            return Err(not_found(from, from_id));
        }
        if self.object(to, to_id).is_none() {
            return Err(not_found(to, to_id));
        }
        self.links
            .entry((from, from_id))
            .or_default()
            .entry(to)
            .or_default()
            .insert(to_id);
        self.links
            .entry((to, to_id))
            .or_default()
            .entry(from)
            .or_default()
            .insert(from_id);
        Ok(type_id)
    }

    /// Ids of `to` records associated with a record, ascending.
    pub fn associated(&self, from: ObjectType, from_id: u64, to: ObjectType) -> Vec<u64> {
        self.links
            .get(&(from, from_id))
            .and_then(|m| m.get(&to))
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    /// A record in `SimplePublicObject` shape with the selected properties and its
    /// associations to `associations` types (v3 shape; empty lists left out).
    pub fn render(
        &self,
        kind: ObjectType,
        obj: &StoredObject,
        selection: &Selection<'_>,
        associations: &[ObjectType],
    ) -> ApiObject {
        let mut properties = Map::new();
        let mut put = |name: &str| {
            let v = obj
                .props
                .get(name)
                .map(|s| Value::String(s.clone()))
                .unwrap_or(Value::Null);
            properties.insert(name.to_string(), v);
        };
        match selection {
            Selection::All => obj.props.keys().for_each(|k| put(k)),
            Selection::Default => kind.default_properties().iter().for_each(|k| put(k)),
            Selection::Named(names) => {
                names.iter().for_each(|k| put(k));
                put("hs_object_id");
                put(kind.created_property());
                put(kind.modified_property());
            }
        }
        let mut assoc = BTreeMap::new();
        for &to in associations {
            let ids = self.associated(kind, obj.id, to);
            if ids.is_empty() {
                continue;
            }
            let label = format!("{}_to_{}", kind.singular(), to.singular());
            let results = ids
                .into_iter()
                .map(|id| AssociationRef {
                    id: id.to_string(),
                    kind: label.clone(),
                })
                .collect();
            assoc.insert(to.name().to_string(), AssociationList { results });
        }
        ApiObject {
            id: obj.id.to_string(),
            properties,
            created_at: Some(format_ms(obj.created_ms)),
            updated_at: Some(format_ms(obj.updated_ms)),
            archived: false,
            associations: assoc,
            properties_with_history: BTreeMap::new(),
        }
    }

    /// `propertiesWithHistory` of a record for the named properties: each one's writes,
    /// newest first; properties never written are left out (HubSpot ignores unknown names).
    pub fn history(
        obj: &StoredObject,
        names: &[String],
    ) -> BTreeMap<String, Vec<ValueWithTimestamp>> {
        names
            .iter()
            .filter_map(|n| {
                let entries = obj.history.get(n).filter(|e| !e.is_empty())?;
                Some((n.clone(), newest_first(entries)))
            })
            .collect()
    }

    /// Adds an owner (and their team, created on first use); returns the owner id.
    pub fn add_owner(
        &mut self,
        email: &str,
        first: &str,
        last: &str,
        team: Option<&str>,
        now_ms: i64,
    ) -> u64 {
        let team = team.map(|name| {
            let id = match self.teams.get(name) {
                Some(id) => *id,
                None => {
                    let id = self.next_id();
                    self.teams.insert(name.to_string(), id);
                    id
                }
            };
            (id, name.to_string())
        });
        let id = self.next_id();
        self.owners.insert(
            id,
            StoredOwner {
                id,
                user_id: 1_000_000 + id,
                email: email.to_string(),
                first_name: first.to_string(),
                last_name: last.to_string(),
                team,
                created_ms: now_ms,
            },
        );
        id
    }

    /// Owners, by id.
    pub fn owners(&self) -> &BTreeMap<u64, StoredOwner> {
        &self.owners
    }
}

impl StoredOwner {
    /// The owner in `PublicOwner` shape.
    pub fn to_json(&self) -> Value {
        let teams: Vec<Value> = self
            .team
            .iter()
            .map(|(id, name)| json!({"id": id.to_string(), "name": name, "primary": true}))
            .collect();
        json!({
            "id": self.id.to_string(),
            "email": self.email,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "userId": self.user_id,
            "createdAt": format_ms(self.created_ms),
            "updatedAt": format_ms(self.created_ms),
            "archived": false,
            "teams": teams,
        })
    }
}

fn stamp(kind: ObjectType, obj: &mut StoredObject, now_ms: i64) {
    obj.updated_ms = now_ms;
    obj.props
        .insert("hs_lastmodifieddate".into(), format_ms(now_ms));
    if kind == ObjectType::Contacts {
        obj.props
            .insert("lastmodifieddate".into(), format_ms(now_ms));
    }
}

fn not_found(kind: ObjectType, id: u64) -> EmulatorError {
    EmulatorError::NotFound {
        object_type: kind.name().to_string(),
        id: id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn writes_stamp_dates_and_emit_events_per_changed_property() {
        let mut p = Portal::default();
        let (id, ev) = p.create(
            ObjectType::Contacts,
            &props(json!({"email": "a@x.io", "hs_object_id": "999", "num_employees": 12})),
            1_000,
            &WriteSource::integration(1),
        );
        assert_eq!(ev[0].subscription_type, "contact.creation");
        let o = p.object(ObjectType::Contacts, id).unwrap();
        assert_eq!(o.props["hs_object_id"], id.to_string());
        assert_eq!(o.props["num_employees"], "12");
        assert_eq!(o.props["lastmodifieddate"], format_ms(1_000));
        assert_eq!(o.props["createdate"], format_ms(1_000));

        let ev = p
            .update(
                ObjectType::Contacts,
                id,
                &props(json!({"email": "a@x.io", "firstname": "Ada"})),
                2_000,
                &WriteSource::integration(1),
            )
            .unwrap();
        assert_eq!(ev.len(), 1, "unchanged email emits nothing");
        assert_eq!(ev[0].property_name.as_deref(), Some("firstname"));
        let o = p.object(ObjectType::Contacts, id).unwrap();
        assert_eq!(o.props["hs_lastmodifieddate"], format_ms(2_000));

        let none = p
            .update(
                ObjectType::Contacts,
                id,
                &props(json!({"firstname": "Ada"})),
                3_000,
                &WriteSource::integration(1),
            )
            .unwrap();
        assert!(none.is_empty());
        assert_eq!(
            p.object(ObjectType::Contacts, id).unwrap().updated_ms,
            2_000
        );
    }

    #[test]
    fn associations_are_stored_both_ways_and_render_in_v3_shape() {
        let mut p = Portal::default();
        let (c, _) = p.create(ObjectType::Contacts, &Map::new(), 1, &WriteSource::seed());
        let (co, _) = p.create(ObjectType::Companies, &Map::new(), 1, &WriteSource::seed());
        assert_eq!(
            p.associate(ObjectType::Contacts, c, ObjectType::Companies, co),
            Ok(279)
        );
        assert_eq!(
            p.associated(ObjectType::Companies, co, ObjectType::Contacts),
            vec![c]
        );
        let obj = p.object(ObjectType::Contacts, c).unwrap();
        let api = p.render(ObjectType::Contacts, obj, &Selection::All, &ObjectType::ALL);
        assert_eq!(
            api.associations["companies"].results[0].kind,
            "contact_to_company"
        );
        assert!(!api.associations.contains_key("deals"));
        assert!(p
            .associate(ObjectType::Contacts, c, ObjectType::Companies, 404)
            .is_err());
    }
}
