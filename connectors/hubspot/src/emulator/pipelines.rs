//! The default pipelines every HubSpot portal has (`GET /crm/v3/pipelines/{deals,tickets}`):
//! the "Sales Pipeline" (`default`) with its seven deal stages and the "Support Pipeline"
//! (`0`) with ticket stages `1`–`4`. Stage metadata values are strings, as HubSpot returns
//! them (`isClosed`/`probability` on deal stages, `ticketState` on ticket stages).

use serde_json::{json, Value};

/// When the portal's default pipelines were created (a fixed instant).
const CREATED: &str = "2020-01-01T00:00:00.000Z";

fn stage(id: &str, label: &str, order: u32, metadata: Value) -> Value {
    json!({
        "id": id,
        "label": label,
        "displayOrder": order,
        "metadata": metadata,
        "createdAt": CREATED,
        "updatedAt": CREATED,
        "archived": false,
    })
}

/// The default sales pipeline (`id: "default"`).
pub(crate) fn sales() -> Value {
    let stages = [
        (
            "appointmentscheduled",
            "Appointment Scheduled",
            "0.2",
            false,
        ),
        ("qualifiedtobuy", "Qualified To Buy", "0.4", false),
        (
            "presentationscheduled",
            "Presentation Scheduled",
            "0.6",
            false,
        ),
        (
            "decisionmakerboughtin",
            "Decision Maker Bought-In",
            "0.8",
            false,
        ),
        ("contractsent", "Contract Sent", "0.9", false),
        ("closedwon", "Closed Won", "1.0", true),
        ("closedlost", "Closed Lost", "0.0", true),
    ];
    let stages: Vec<Value> = stages
        .iter()
        .enumerate()
        .map(|(i, (id, label, p, closed))| {
            stage(
                id,
                label,
                i as u32,
                json!({"isClosed": closed.to_string(), "probability": p}),
            )
        })
        .collect();
    json!({
        "id": "default",
        "label": "Sales Pipeline",
        "displayOrder": 0,
        "stages": stages,
        "createdAt": CREATED,
        "updatedAt": CREATED,
        "archived": false,
    })
}

/// The default support pipeline (`id: "0"`).
pub(crate) fn support() -> Value {
    let stages = [
        ("1", "New", "OPEN"),
        ("2", "Waiting on contact", "OPEN"),
        ("3", "Waiting on us", "OPEN"),
        ("4", "Closed", "CLOSED"),
    ];
    let stages: Vec<Value> = stages
        .iter()
        .enumerate()
        .map(|(i, (id, label, state))| stage(id, label, i as u32, json!({"ticketState": state})))
        .collect();
    json!({
        "id": "0",
        "label": "Support Pipeline",
        "displayOrder": 0,
        "stages": stages,
        "createdAt": CREATED,
        "updatedAt": CREATED,
        "archived": false,
    })
}
