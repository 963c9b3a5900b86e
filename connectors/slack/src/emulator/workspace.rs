//! The emulated workspace's data: members, DM channels, messages, and id/`ts` generation.
//!
//! Ids look like Slack's (`U…` users, `D…` DMs, `G…` multi-person DMs, `B…` bots, `A…` apps);
//! message `ts` values are `"<epoch s>.<6 digits>"` (like `"1503435956.000247"`), strictly
//! increasing across the whole workspace, so they are unique per channel and sort by time.

use serde_json::{json, Value};
use std::collections::HashMap;

/// The emulated bot user (the token's owner).
pub(crate) const BOT_USER_ID: &str = "U0HANDOFFB";
/// The emulated bot id (`bot_id` on the bot's messages).
pub(crate) const BOT_ID: &str = "B0HANDOFF1";
/// The emulated app id (`app_id` on messages, `api_app_id` on interactions).
pub(crate) const APP_ID: &str = "A0HANDOFF1";
/// The emulated bot's handle (`auth.test` `user`).
pub(crate) const BOT_NAME: &str = "handoff";

/// A workspace member added with [`crate::SlackEmulator::add_user`].
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub id: String,
    pub email: String,
    pub real_name: String,
    /// The handle: the email's local part.
    pub name: String,
}

/// A message and the channel it is in.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub channel: String,
    /// The message object as the API returns it (`type`, `text`, `user`, `bot_id`, `ts`, …).
    pub message: Value,
}

impl Stored {
    pub fn ts(&self) -> &str {
        self.message["ts"].as_str().unwrap_or_default()
    }
}

/// Everything the emulator remembers.
#[derive(Debug)]
pub(crate) struct Workspace {
    pub team_id: String,
    pub members: Vec<Member>,
    /// Sorted member ids joined by `,` → channel id.
    pub conversations: HashMap<String, String>,
    /// In posting order (so also in `ts` order).
    pub messages: Vec<Stored>,
    last_ts_us: i64,
    seq: u64,
}

impl Workspace {
    pub fn new(team_id: String) -> Self {
        Self {
            team_id,
            members: Vec::new(),
            conversations: HashMap::new(),
            messages: Vec::new(),
            last_ts_us: 0,
            seq: 0,
        }
    }

    /// A fresh number for ids (`block_id`s, trigger ids).
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// A new message `ts`: now (UTC µs), bumped past the last one handed out.
    pub fn next_ts(&mut self) -> String {
        let now_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        self.last_ts_us = now_us.max(self.last_ts_us + 1);
        format_ts(self.last_ts_us)
    }

    /// Adds a member (or returns the existing one's id for the same email, any case).
    pub fn add_member(&mut self, email: &str, real_name: &str) -> String {
        if let Some(m) = self.member_by_email(email) {
            return m.id.clone();
        }
        let id = format!("U0{:08}", self.members.len() + 1);
        let name = email.split('@').next().unwrap_or(email).to_string();
        self.members.push(Member {
            id: id.clone(),
            email: email.to_string(),
            real_name: real_name.to_string(),
            name,
        });
        id
    }

    pub fn member_by_email(&self, email: &str) -> Option<&Member> {
        self.members
            .iter()
            .find(|m| m.email.eq_ignore_ascii_case(email.trim()))
    }

    pub fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }

    /// Whether `id` is a conversation that exists.
    pub fn has_channel(&self, id: &str) -> bool {
        self.conversations.values().any(|c| c == id)
    }

    /// The bot's conversation with `user_ids` (one member: a `D…` DM; several: a `G…` group
    /// DM), and whether it was already open.
    pub fn open_conversation(&mut self, user_ids: &[String]) -> (String, bool) {
        let mut sorted = user_ids.to_vec();
        sorted.sort();
        sorted.dedup();
        let key = sorted.join(",");
        if let Some(id) = self.conversations.get(&key) {
            return (id.clone(), true);
        }
        let prefix = if sorted.len() == 1 { 'D' } else { 'G' };
        let id = format!("{prefix}0{:08}", self.conversations.len() + 1);
        self.conversations.insert(key, id.clone());
        (id, false)
    }

    /// The existing DM channel with one member.
    pub fn dm_of(&self, user_id: &str) -> Option<&str> {
        self.conversations.get(user_id).map(String::as_str)
    }

    pub fn find_message(&self, channel: &str, ts: &str) -> Option<&Stored> {
        self.messages
            .iter()
            .find(|m| m.channel == channel && m.ts() == ts)
    }

    pub fn find_message_mut(&mut self, channel: &str, ts: &str) -> Option<&mut Stored> {
        self.messages
            .iter_mut()
            .find(|m| m.channel == channel && m.ts() == ts)
    }

    /// A member as `users.lookupByEmail` / `users.info` return it (fields from the spec
    /// example and the SDK sample).
    pub fn user_json(&self, m: &Member) -> Value {
        json!({
            "id": m.id,
            "team_id": self.team_id,
            "name": m.name,
            "deleted": false,
            "color": "9f69e7",
            "real_name": m.real_name,
            "tz": "America/Los_Angeles",
            "tz_label": "Pacific Standard Time",
            "tz_offset": -28800,
            "profile": {
                "real_name": m.real_name,
                "real_name_normalized": m.real_name,
                "display_name": m.name,
                "display_name_normalized": m.name,
                "email": m.email,
                "team": self.team_id
            },
            "is_admin": false,
            "is_owner": false,
            "is_primary_owner": false,
            "is_restricted": false,
            "is_ultra_restricted": false,
            "is_bot": false,
            "is_app_user": false,
            "updated": 1_700_000_000,
            "has_2fa": false
        })
    }

    /// Every message with its `channel` added, in posting order.
    pub fn messages_with_channel(&self) -> Vec<Value> {
        self.messages
            .iter()
            .map(|s| {
                let mut m = s.message.clone();
                m["channel"] = Value::String(s.channel.clone());
                m
            })
            .collect()
    }
}

/// `"<s>.<µs, 6 digits>"`.
pub(crate) fn format_ts(us: i64) -> String {
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

/// Parses `"<s>.<µs>"` (or whole seconds) to µs; `None` when not a Slack timestamp.
pub(crate) fn parse_ts(ts: &str) -> Option<i64> {
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, ""));
    let secs: i64 = secs.parse().ok()?;
    if frac.len() > 6 || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let micros: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}").parse().ok()?
    };
    secs.checked_mul(1_000_000)?.checked_add(micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ts_values_increase_and_round_trip() {
        let mut w = Workspace::new("T0".into());
        let a = w.next_ts();
        let b = w.next_ts();
        assert!(parse_ts(&b).unwrap() > parse_ts(&a).unwrap());
        assert_eq!(a.split('.').nth(1).unwrap().len(), 6);
        assert_eq!(
            format_ts(parse_ts("1503435956.000247").unwrap()),
            "1503435956.000247"
        );
        assert_eq!(parse_ts("1503435956"), Some(1_503_435_956_000_000));
        assert_eq!(parse_ts("soon"), None);
    }

    #[test]
    fn members_and_dms_are_stable() {
        let mut w = Workspace::new("T0".into());
        let id = w.add_member("Ana@Example.com", "Ana");
        assert_eq!(w.add_member("ana@example.com", "Ana"), id);
        assert!(id.starts_with('U'));
        let (dm, existed) = w.open_conversation(std::slice::from_ref(&id));
        assert!(dm.starts_with('D') && !existed);
        assert_eq!(
            w.open_conversation(std::slice::from_ref(&id)),
            (dm.clone(), true)
        );
        assert_eq!(w.dm_of(&id), Some(dm.as_str()));
    }
}
