//! Outbound Messages (workflow / flow SOAP, NOTES-next S2) as a [`WebhookSource`] at
//! `webhooks/salesforce`.
//!
//! The body is a SOAP envelope whose `notifications` element (namespace
//! `http://soap.sforce.com/2005/09/outbound`) holds `OrganizationId`, `ActionId`, `SessionId`,
//! `EnterpriseUrl`, `PartnerUrl` and up to 100 `Notification`s, each `{Id, sObject}`; the
//! sObject is `<sObject xsi:type="sf:Lead">` with `sf:`-prefixed fields (S2; the on-the-wire
//! envelope and the `sf:` prefix are unverified).
//!
//! * **Verification**: Outbound Messages carry **no signature** (S2). [`OutboundMessages::verify`]
//!   checks, on the raw bytes, that `OrganizationId` is the configured org (the check S2
//!   recommends); the other protections S2 lists (Salesforce's IP allow list, TLS, the
//!   Salesforce client certificate) belong to the reverse proxy in front of the daemon. A
//!   delivery for another org, or without `OrganizationId`, is refused.
//! * **Parsing**: each `Notification` with an sObject `Id` becomes a change; its event id is
//!   the notification `Id` (deliveries are at-least-once and out of order: dedupe on it, S2).
//!   `modified_at_ms` is the sObject's `SystemModstamp` (else `LastModifiedDate`, else the
//!   receive time) when the message carries it; `snapshot` is `None` (a message holds only the
//!   fields chosen in the action, and "latest record data only", S2), so the daemon reads the
//!   record. A notification without an sObject id (S2: a record deleted before delivery) is
//!   skipped.
//! * **Ack**: one `<Ack>true</Ack>` covers every notification of the message (S2). The daemon
//!   answers [`ack_body`] (HTTP 200, [`ACK_CONTENT_TYPE`]) only after the changes are on disk;
//!   anything else makes Salesforce retry (intervals growing to 2 h, for up to 24 h, S2).

use crate::auth::same_id;
use crate::error::decode;
use crate::objects::SYSTEM;
use crate::time::parse_ms;
use handoff_connector::{
    Change, ChangeKind, ChangeOrigin, ConnectorError, SignatureError, WebhookRequest, WebhookSource,
};
use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::{Map, Value};

/// The path under the daemon's public URL that Outbound Messages are posted to.
pub const WEBHOOK_PATH: &str = "webhooks/salesforce";

/// The content type of the acknowledgement (S2).
pub const ACK_CONTENT_TYPE: &str = "text/xml";

/// The most notifications one message holds (S2).
pub const MAX_NOTIFICATIONS: usize = 100;

/// The acknowledgement envelope (written from the WSDL, S2, unverified).
pub fn ack_body() -> &'static str {
    r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>"#
}

/// One `Notification` of a message.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Notification {
    /// The notification `Id` (the dedupe key).
    pub id: String,
    /// The SObject from `xsi:type` (`sf:Lead` → `Lead`).
    pub object: String,
    /// The fields sent, by local name; `xsi:nil="true"` fields are `null`.
    pub fields: Map<String, Value>,
}

/// A parsed message.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Notifications {
    /// `OrganizationId` (checked by `verify`).
    pub organization_id: Option<String>,
    /// `ActionId`: the outbound message action.
    pub action_id: Option<String>,
    /// The `Notification`s, in order.
    pub notifications: Vec<Notification>,
}

/// Reads a message. Errors: text that is not well-formed XML.
pub fn parse_message(body: &[u8]) -> Result<Notifications, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("not UTF-8: {e}"))?;
    let mut reader = Reader::from_str(text);
    let mut out = Notifications::default();
    // Local names of the open elements.
    let mut path: Vec<String> = Vec::new();
    let mut buf = String::new();
    let mut nil = false;
    let mut current: Option<Notification> = None;
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) => {
                let (name, xsi_type, is_nil) = element(&e)?;
                open(&name, xsi_type, &mut current);
                nil = is_nil;
                path.push(name);
                buf.clear();
            }
            Event::Empty(e) => {
                let (name, xsi_type, is_nil) = element(&e)?;
                open(&name, xsi_type, &mut current);
                let parent = path.last().map(String::as_str);
                close(&name, parent, "", is_nil, &mut current, &mut out);
            }
            Event::Text(t) => buf.push_str(&t.xml10_content().map_err(|e| e.to_string())?),
            Event::CData(t) => buf.push_str(&t.decode().map_err(|e| e.to_string())?),
            Event::GeneralRef(r) => {
                if r.is_char_ref() {
                    if let Some(c) = r.resolve_char_ref().map_err(|e| e.to_string())? {
                        buf.push(c);
                    }
                } else {
                    let name = r.decode().map_err(|e| e.to_string())?;
                    let reference = format!("&{name};");
                    let resolved =
                        quick_xml::escape::unescape(&reference).map_err(|e| e.to_string())?;
                    buf.push_str(&resolved);
                }
            }
            Event::End(_) => {
                let name = path.pop().ok_or("unbalanced end tag")?;
                let parent = path.last().map(String::as_str);
                close(&name, parent, buf.trim(), nil, &mut current, &mut out);
                buf.clear();
                nil = false;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

/// An element's local name, `xsi:type` and `xsi:nil`.
fn element(
    e: &quick_xml::events::BytesStart<'_>,
) -> Result<(String, Option<String>, bool), String> {
    let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
    let mut xsi_type = None;
    let mut nil = false;
    for attr in e.attributes() {
        let attr = attr.map_err(|e| e.to_string())?;
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| e.to_string())?;
        match attr.key.local_name().as_ref() {
            b"type" => xsi_type = Some(value.into_owned()),
            b"nil" => nil = value == "true",
            _ => {}
        }
    }
    Ok((name, xsi_type, nil))
}

fn open(name: &str, xsi_type: Option<String>, current: &mut Option<Notification>) {
    match name {
        "Notification" => *current = Some(Notification::default()),
        "sObject" => {
            if let (Some(n), Some(t)) = (current.as_mut(), xsi_type) {
                n.object = t.rsplit(':').next().unwrap_or_default().to_string();
            }
        }
        _ => {}
    }
}

fn close(
    name: &str,
    parent: Option<&str>,
    text: &str,
    nil: bool,
    current: &mut Option<Notification>,
    out: &mut Notifications,
) {
    match (name, parent) {
        ("OrganizationId", Some("notifications")) => out.organization_id = Some(text.into()),
        ("ActionId", Some("notifications")) => out.action_id = Some(text.into()),
        ("Id", Some("Notification")) => {
            if let Some(n) = current.as_mut() {
                n.id = text.into();
            }
        }
        ("Notification", _) => {
            if let Some(n) = current.take() {
                out.notifications.push(n);
            }
        }
        (field, Some("sObject")) => {
            if let Some(n) = current.as_mut() {
                let value = if nil {
                    Value::Null
                } else {
                    Value::String(text.into())
                };
                n.fields.insert(field.into(), value);
            }
        }
        _ => {}
    }
}

/// Verifies and parses Outbound Messages for one org.
#[derive(Clone, Debug)]
pub struct OutboundMessages {
    organization_id: String,
}

impl OutboundMessages {
    /// Accepts messages whose `OrganizationId` is `organization_id` (15 or 18 characters).
    pub fn new(organization_id: impl Into<String>) -> Self {
        Self {
            organization_id: organization_id.into(),
        }
    }
}

impl WebhookSource for OutboundMessages {
    fn verify(&self, request: &WebhookRequest<'_>, _now_ms: i64) -> Result<(), SignatureError> {
        if request.method != "POST" {
            return Err(SignatureError::MalformedHeader("method"));
        }
        let message = parse_message(request.body).map_err(|e| {
            SignatureError::WrongSender(format!("not an Outbound Message SOAP envelope: {e}"))
        })?;
        match message.organization_id {
            None => Err(SignatureError::MissingHeader("OrganizationId")),
            Some(org) if same_id(&org, &self.organization_id) => Ok(()),
            Some(org) => Err(SignatureError::WrongSender(format!(
                "OrganizationId {org} is not crm.organization_id {}",
                self.organization_id
            ))),
        }
    }

    fn parse(&self, body: &[u8], received_at_ms: i64) -> Result<Vec<Change>, ConnectorError> {
        let message = parse_message(body).map_err(|e| decode(format!("outbound message: {e}")))?;
        if message.notifications.len() > MAX_NOTIFICATIONS {
            return Err(decode(format!(
                "outbound message with {} notifications (at most {MAX_NOTIFICATIONS})",
                message.notifications.len()
            )));
        }
        Ok(message
            .notifications
            .into_iter()
            .filter_map(|n| to_change(n, received_at_ms))
            .collect())
    }
}

fn to_change(n: Notification, received_at_ms: i64) -> Option<Change> {
    let id = n.fields.get("Id").and_then(Value::as_str)?.to_string();
    if n.object.is_empty() || n.id.is_empty() {
        return None;
    }
    let stamp = |f: &str| n.fields.get(f).and_then(Value::as_str).and_then(parse_ms);
    let modified = stamp("SystemModstamp").or_else(|| stamp("LastModifiedDate"));
    let kind = match (stamp("CreatedDate"), modified) {
        (Some(c), Some(m)) if c == m => ChangeKind::Created,
        _ => ChangeKind::Updated,
    };
    Some(Change {
        source: SYSTEM.into(),
        object_type: n.object,
        object_id: id,
        event_id: Some(n.id),
        modified_at_ms: modified.unwrap_or(received_at_ms),
        received_at_ms,
        origin: ChangeOrigin::Webhook,
        kind,
        changed_property: None,
        snapshot: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message in the S2 shape (envelope written from the WSDL description).
    pub(crate) const SAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>00D000000000001AAA</OrganizationId>
   <ActionId>04k000000000001AAA</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://x.my.salesforce.com/services/Soap/c/68.0/00D000000000001</EnterpriseUrl>
   <PartnerUrl>https://x.my.salesforce.com/services/Soap/u/68.0/00D000000000001</PartnerUrl>
   <Notification>
    <Id>04l000000000001AAA</Id>
    <sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>00Q000000000001AAA</sf:Id>
     <sf:Company>Smith &amp; Sons &#x2013; EU</sf:Company>
     <sf:CreatedDate>2013-05-20T20:49:32.000Z</sf:CreatedDate>
     <sf:SystemModstamp>2013-05-20T20:50:00.000Z</sf:SystemModstamp>
     <sf:Email xsi:nil="true"/>
    </sObject>
   </Notification>
   <Notification>
    <Id>04l000000000002AAA</Id>
    <sObject xsi:type="sf:Opportunity" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>006000000000001AAA</sf:Id>
    </sObject>
   </Notification>
   <Notification><Id>04l000000000003AAA</Id></Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>"#;

    fn request<'a>(headers: &'a reqwest::header::HeaderMap, body: &'a [u8]) -> WebhookRequest<'a> {
        WebhookRequest {
            method: "POST",
            uri: "https://handoff.example/webhooks/salesforce",
            headers,
            body,
        }
    }

    #[test]
    fn notifications_are_read_with_their_fields() {
        let m = parse_message(SAMPLE.as_bytes()).unwrap();
        assert_eq!(m.organization_id.as_deref(), Some("00D000000000001AAA"));
        assert_eq!(m.notifications.len(), 3);
        let lead = &m.notifications[0];
        assert_eq!(
            (lead.id.as_str(), lead.object.as_str()),
            ("04l000000000001AAA", "Lead")
        );
        assert_eq!(lead.fields["Company"], "Smith & Sons \u{2013} EU");
        assert_eq!(lead.fields["Email"], Value::Null);
    }

    #[test]
    fn only_the_configured_org_is_accepted() {
        let headers = reqwest::header::HeaderMap::new();
        let ok = OutboundMessages::new("00D000000000001");
        assert!(ok.verify(&request(&headers, SAMPLE.as_bytes()), 0).is_ok());
        let other = OutboundMessages::new("00D000000000002AAA");
        assert_eq!(
            other
                .verify(&request(&headers, SAMPLE.as_bytes()), 0)
                .unwrap_err()
                .to_string(),
            "OrganizationId 00D000000000001AAA is not crm.organization_id 00D000000000002AAA"
        );
        let stripped = SAMPLE.replace("<OrganizationId>00D000000000001AAA</OrganizationId>", "");
        assert_eq!(
            ok.verify(&request(&headers, stripped.as_bytes()), 0),
            Err(SignatureError::MissingHeader("OrganizationId"))
        );
        assert!(ok.verify(&request(&headers, b"<not xml"), 0).is_err());
    }

    #[test]
    fn each_notification_with_a_record_becomes_one_change() {
        let changes = OutboundMessages::new("00D000000000001AAA")
            .parse(SAMPLE.as_bytes(), 42)
            .unwrap();
        assert_eq!(changes.len(), 2, "the empty notification is skipped");
        let lead = &changes[0];
        assert_eq!(lead.object_type, "Lead");
        assert_eq!(lead.object_id, "00Q000000000001AAA");
        assert_eq!(lead.event_id.as_deref(), Some("04l000000000001AAA"));
        assert_eq!(lead.modified_at_ms, 1_369_083_000_000);
        assert_eq!(lead.kind, ChangeKind::Updated);
        assert_eq!(lead.origin, ChangeOrigin::Webhook);
        assert_eq!(changes[1].modified_at_ms, 42, "no stamp: the receive time");
        assert!(ack_body().contains("<Ack>true</Ack>"));
    }
}
