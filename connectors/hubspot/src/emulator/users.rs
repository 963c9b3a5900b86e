//! The account's HubSpot users (the users object, `/crm/v3/objects/users`, type `0-115`) in the
//! emulated portal: seeding one per rep and flipping a user's availability as they would in
//! HubSpot's UI, so tests and the sandbox can mark a rep away behind handoff's back.
//!
//! The HTTP side needs nothing of its own: the generic object routes serve `GET
//! /crm/v3/objects/users`, `GET|PATCH …/users/{id}`, `POST …/users/batch/read` and `POST
//! …/users/search` once [`ObjectType::Users`] exists. Users are not delivered as webhooks and
//! not written to state files (see [`ObjectType::has_webhooks`]).
//!
//! Properties (sources and what could not be verified: [`crate::objects`] module doc):
//! [`EMAIL`] `hs_email`, [`GIVEN_NAME`] `hs_given_name`, [`FAMILY_NAME`] `hs_family_name`,
//! [`AVAILABILITY`] `hs_availability_status` (`available` | `away`, [`Availability`]), and,
//! when an owner with the same email exists, `hs_internal_user_id` (the owner's `userId`) and
//! `hubspot_owner_id` — both seen on users in integrations that join users to owners
//! **[unverified]**.

use super::history::WriteSource;
use super::{parse_id, EmulatorError, HubSpotEmulator};
use crate::objects::ObjectType;
use serde_json::{json, Map, Value};

/// The user's email (users object).
pub const EMAIL: &str = "hs_email";
/// The user's first name (users object).
pub const GIVEN_NAME: &str = "hs_given_name";
/// The user's last name (users object).
pub const FAMILY_NAME: &str = "hs_family_name";
/// The user's availability, `available` or `away` (users object).
pub const AVAILABILITY: &str = "hs_availability_status";
/// The user's id across accounts; the owners API's `userId` (users object).
pub const INTERNAL_USER_ID: &str = "hs_internal_user_id";

/// A value of `hs_availability_status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Availability {
    /// `available`: takes work.
    Available,
    /// `away`: out of office.
    Away,
}

impl Availability {
    /// The property value: `available` or `away`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Available => "available",
            Self::Away => "away",
        }
    }
}

impl HubSpotEmulator {
    /// Adds a HubSpot user (a users-object record, created as by the account's admin, no
    /// webhook) with `hs_email`, `hs_given_name`, `hs_family_name` and
    /// `hs_availability_status`; when an owner has the same email (case-insensitively) the
    /// user also carries that owner's `hs_internal_user_id` (= `userId`) and
    /// `hubspot_owner_id`. Returns the user's id (`hs_object_id`).
    pub fn add_user(
        &self,
        email: &str,
        first: &str,
        last: &str,
        availability: Availability,
    ) -> String {
        let mut props = Map::new();
        props.insert(EMAIL.into(), json!(email));
        props.insert(GIVEN_NAME.into(), json!(first));
        props.insert(FAMILY_NAME.into(), json!(last));
        props.insert(AVAILABILITY.into(), json!(availability.as_str()));
        let now = self.now_ms();
        let mut portal = self.portal();
        let owner = portal
            .owners()
            .values()
            .find(|o| o.email.eq_ignore_ascii_case(email))
            .map(|o| (o.id, o.user_id));
        if let Some((owner_id, user_id)) = owner {
            props.insert(INTERNAL_USER_ID.into(), json!(user_id.to_string()));
            props.insert("hubspot_owner_id".into(), json!(owner_id.to_string()));
        }
        let (id, _) = portal.create(ObjectType::Users, &props, now, &WriteSource::seed());
        id.to_string()
    }

    /// The id of the user whose `hs_email` is `email` (case-insensitively), if any.
    pub fn user_id(&self, email: &str) -> Option<String> {
        self.portal()
            .find_by(ObjectType::Users, EMAIL, email)
            .map(|id| id.to_string())
    }

    /// Sets user `user_id`'s `hs_availability_status` as that user does in HubSpot's UI: a
    /// [`WriteSource::user`] write by the user themself (their `hs_internal_user_id`, else the
    /// record id), kept in the property's history (`sourceType: CRM_UI`,
    /// `updatedByUserId`). Setting the current value changes nothing.
    pub fn set_availability(
        &self,
        user_id: &str,
        availability: Availability,
    ) -> Result<(), EmulatorError> {
        let n = parse_id(ObjectType::Users, user_id)?;
        let writer = {
            let portal = self.portal();
            let user =
                portal
                    .object(ObjectType::Users, n)
                    .ok_or_else(|| EmulatorError::NotFound {
                        object_type: ObjectType::Users.name().into(),
                        id: user_id.into(),
                    })?;
            user.props
                .get(INTERNAL_USER_ID)
                .and_then(|v| v.parse().ok())
                .unwrap_or(n)
        };
        let mut props = Map::new();
        props.insert(
            AVAILABILITY.into(),
            Value::String(availability.as_str().into()),
        );
        self.update_as_user(ObjectType::Users.name(), user_id, props, writer)
    }
}
