//! A case's chat transcript and comments, and handoff's notes on a case (NOTES-next S7):
//! [`SalesforceCrm`](super::SalesforceCrm)'s `case_conversation`, `case_comments` and
//! `add_case_note`.
//!
//! * **Conversation**: `SELECT Id, Body, IsChatbotSession, EndTime FROM LiveChatTranscript
//!   WHERE CaseId = '<case>' ORDER BY CreatedDate DESC LIMIT 1` (S7 \[docs\]: `Body` is the chat's
//!   contents, `IsChatbotSession` a boolean). `Body` is HTML-ish text; [`transcript_text`]
//!   makes it plain text.
//! * **Comments**: `SELECT Id, CommentBody, IsPublished, CreatedDate, CreatedById FROM
//!   CaseComment WHERE ParentId = '<case>' ORDER BY CreatedDate ASC, Id ASC`, every batch
//!   (§2.3). The CaseComment fields are S7 **\[unverified\]**; `CreatedDate` and `CreatedById`
//!   are §2.5's common system fields. `Id ASC` orders comments written in one second.
//! * **Notes**: the case's comments are read; one that carries [`note_marker`]`(key)` is the
//!   note. Otherwise `POST sobjects/CaseComment` (§2.4) with `ParentId`, `CommentBody` = body,
//!   a line break and the marker, and `IsPublished: false`. Salesforce has no external id on
//!   CaseComment to upsert on, and the client retries a write whose answer was lost (a 5xx or a
//!   timeout after Salesforce committed), so a retry can write the note twice: after writing,
//!   the comments are read again and every marked comment but the oldest is deleted
//!   (`DELETE sobjects/CaseComment/{id}`, §2.4; best effort: a failed delete is logged). The
//!   same happens when the first read finds several, so the note is there once whatever
//!   failed. Three calls for a new note, one for a note already there.
//! * Errors: a Case that is not there (or not live) makes the write fail with a 400 (the
//!   `ParentId` reference; the emulator answers `INVALID_CROSS_REFERENCE_KEY`, whose code is
//!   unverified): the Case is then read, and its 404 is [`ConnectorError::NotFound`]. Any other
//!   400 (a body Salesforce refuses) stays [`ConnectorError::Rejected`] naming the field, as
//!   the connector's other writes ([`crate::error`]).

use crate::client::SalesforceClient;
use crate::error::{config, VENDOR};
use crate::objects::SYSTEM;
use crate::soql::{Cond, Literal, Select};
use crate::time::parse_ms;
use handoff_connector::crm::note_marker;
use handoff_connector::{
    CaseComment, ConnectorError, Conversation, Fields, IdempotencyKey, RecordKey,
};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{Map, Value};

/// The SObject of a case (the only one whose comments and transcripts these read).
const CASE: &str = "Case";
/// The SObject of a comment on a case (S7).
pub const COMMENT_OBJECT: &str = "CaseComment";
/// The SObject of a chat transcript (S7).
pub const TRANSCRIPT_OBJECT: &str = "LiveChatTranscript";

/// The case's id, when `case` is a Salesforce Case with a well-formed id.
fn case_id(case: &RecordKey) -> Result<&str, ConnectorError> {
    if case.system != SYSTEM || case.object != CASE {
        return Err(config(format!(
            "{case} is not a Salesforce Case: only Cases have comments and transcripts"
        )));
    }
    if !crate::client::is_id(&case.id) {
        return Err(config(format!("{case}: not a Salesforce id")));
    }
    Ok(&case.id)
}

fn text<'a>(row: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    row.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The newest chat transcript of `case`, as plain text (see the module docs).
pub(super) async fn conversation(
    client: &SalesforceClient,
    case: &RecordKey,
) -> Result<Option<Conversation>, ConnectorError> {
    let id = case_id(case)?;
    let soql = Select::new(
        ["Id", "Body", "IsChatbotSession", "EndTime"],
        TRANSCRIPT_OBJECT,
    )?
    .filter(Cond::eq("CaseId", Literal::Str(id))?)
    .order_by("CreatedDate", true)?
    .limit(1)
    .build();
    let page = client.query(&soql).await?;
    Ok(page.records.first().map(|row| Conversation {
        body: transcript_text(text(row, "Body").unwrap_or_default()),
        is_bot: row.get("IsChatbotSession") == Some(&Value::Bool(true)),
        ended_ms: text(row, "EndTime").and_then(parse_ms),
    }))
}

/// The comments on `case`, oldest first (see the module docs).
pub(super) async fn comments(
    client: &SalesforceClient,
    case: &RecordKey,
) -> Result<Vec<CaseComment>, ConnectorError> {
    let id = case_id(case)?;
    let soql = Select::new(
        [
            "Id",
            "CommentBody",
            "IsPublished",
            "CreatedDate",
            "CreatedById",
        ],
        COMMENT_OBJECT,
    )?
    .filter(Cond::eq("ParentId", Literal::Str(id))?)
    .order_by("CreatedDate", false)?
    .order_by("Id", false)?
    .build();
    let rows = client.query_every(&soql, false).await?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            Some(CaseComment {
                id: text(row, "Id")?.to_string(),
                body: text(row, "CommentBody").unwrap_or_default().to_string(),
                public: row.get("IsPublished") == Some(&Value::Bool(true)),
                created_ms: text(row, "CreatedDate")
                    .and_then(parse_ms)
                    .unwrap_or_default(),
                author_id: text(row, "CreatedById").map(str::to_string),
            })
        })
        .collect())
}

/// Adds the internal note `body` to `case` once (see the module docs); returns its id.
pub(super) async fn add_note(
    client: &SalesforceClient,
    key: &IdempotencyKey,
    case: &RecordKey,
    body: &str,
) -> Result<String, ConnectorError> {
    let id = case_id(case)?;
    let marker = note_marker(key);
    if let Some(found) = keep_one(client, &comments(client, case).await?, &marker).await {
        return Ok(found);
    }
    let mut fields = Fields::new();
    fields.insert("ParentId".into(), Value::String(id.to_string()));
    fields.insert(
        "CommentBody".into(),
        Value::String(format!("{body}\n{marker}")),
    );
    fields.insert("IsPublished".into(), Value::Bool(false));
    let written = match client.create(COMMENT_OBJECT, &fields).await {
        Ok(written) => written,
        Err(err @ ConnectorError::Rejected { status: 400, .. }) => {
            return Err(missing_case(client, id).await.unwrap_or(err))
        }
        Err(err) => return Err(err),
    };
    // A retried write may have written the note twice: keep the oldest.
    let now = comments(client, case).await?;
    Ok(keep_one(client, &now, &marker).await.unwrap_or(written))
}

/// The oldest of `comments` carrying `marker`, after deleting the others (best effort).
async fn keep_one(
    client: &SalesforceClient,
    comments: &[CaseComment],
    marker: &str,
) -> Option<String> {
    let mut marked = comments.iter().filter(|c| c.body.contains(marker));
    let kept = marked.next()?;
    for extra in marked {
        match delete(client, COMMENT_OBJECT, &extra.id).await {
            Ok(()) | Err(ConnectorError::NotFound { .. }) => {
                tracing::info!(vendor = VENDOR, comment = %extra.id, kept = %kept.id,
                    "deleted a second copy of a case note (a retried write)");
            }
            Err(e) => tracing::warn!(vendor = VENDOR, comment = %extra.id, error = %e,
                "could not delete a second copy of a case note"),
        }
    }
    Some(kept.id.clone())
}

/// [`ConnectorError::NotFound`] when Case `id` is not there (a 404 reading it), else `None`.
async fn missing_case(client: &SalesforceClient, id: &str) -> Option<ConnectorError> {
    match client.get(CASE, id, &["Id".to_string()]).await {
        Err(ConnectorError::NotFound { .. }) => Some(ConnectorError::NotFound {
            vendor: VENDOR,
            what: format!("Case {id} to add a note to"),
        }),
        _ => None,
    }
}

/// `DELETE sobjects/{SObject}/{id}` → 204 (§2.4).
async fn delete(client: &SalesforceClient, sobject: &str, id: &str) -> Result<(), ConnectorError> {
    let sobject = crate::soql::ident(sobject)?;
    crate::wire::check_id(id)?;
    let path = client.data(&format!("sobjects/{sobject}/{id}"));
    let _: Value = client
        .api
        .json_with_headers::<(), Value>(Method::DELETE, &path, None, &HeaderMap::new())
        .await?;
    Ok(())
}

/// A transcript's `Body` (S7: "the contents of the chat", stored as HTML-ish text) as plain
/// text: `<br>`, `<br/>` and `</p>` become line breaks, other tags are dropped, the common
/// entities (`&amp;`, `&lt;`, `&gt;`, `&quot;`, `&#39;`, `&apos;`, `&nbsp;`, `&#NN;`,
/// `&#xHH;`) are decoded, and spaces at line ends and blank lines at either end trimmed.
pub fn transcript_text(body: &str) -> String {
    let mut plain = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(open) = rest.find('<') {
        plain.push_str(&rest[..open]);
        let tag = &rest[open + 1..];
        let Some(close) = tag.find('>') else {
            // A lone `<`: text, not a tag.
            plain.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let inner = tag[..close].trim().to_ascii_lowercase();
        let name: String = inner
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if name == "br" || (name == "p" && inner.starts_with('/')) {
            plain.push('\n');
        }
        rest = &tag[close + 1..];
    }
    plain.push_str(rest);
    let decoded = decode_entities(&plain);
    let lines: Vec<&str> = decoded.lines().map(str::trim_end).collect();
    lines.join("\n").trim_matches('\n').to_string()
}

fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let decoded = after
            .find(';')
            .filter(|&end| end <= 10)
            .and_then(|end| entity(&after[..end]).map(|c| (c, end)));
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        _ => {
            let code = name.strip_prefix('#')?;
            let n = match code.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => code.parse().ok()?,
            };
            char::from_u32(n)?
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcript_bodies_become_plain_text() {
        let body = "<p align=\"center\">Chat Started: Monday</p>\
                    <p>( 1s ) Bot: Hi &amp; welcome!<br>( 5s ) Visitor: is 2 &lt; 3?<br/>\
                    ( 9s ) Agent: <b>Yes</b> &quot;it&#39;s&quot; &#x2713;<BR />done</p>";
        assert_eq!(
            transcript_text(body),
            "Chat Started: Monday\n( 1s ) Bot: Hi & welcome!\n( 5s ) Visitor: is 2 < 3?\n\
             ( 9s ) Agent: Yes \"it's\" \u{2713}\ndone"
        );
        assert_eq!(transcript_text("a & b &bogus; < c"), "a & b &bogus; < c");
        assert_eq!(transcript_text("&lt;br&gt; stays text"), "<br> stays text");
        assert_eq!(transcript_text(""), "");
    }
}
