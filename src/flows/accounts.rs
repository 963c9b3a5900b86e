//! Account matching: does a lead belong to a company the CRM already has?
//!
//! handoff keeps a small index of CRM companies in flow state (kept current by the companies
//! change feed): by web domain and by normalised name. A lead matches by its email or website
//! domain first, then by its normalised company name. An existing account's owner keeps every
//! new lead of that account.

use crate::state::Completion;
use handoff_connector::Record;
use serde::{Deserialize, Serialize};

/// What the index keeps of a company.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRef {
    /// CRM account id.
    pub id: String,
    pub name: String,
    /// CRM owner id, if the account has an owner.
    pub owner_id: Option<String>,
}

/// How a lead matched an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    Domain,
    Name,
}

/// Flow-state key of the index entry for a domain.
pub fn domain_key(domain: &str) -> String {
    let domain = domain.trim().to_lowercase();
    format!("account:domain:{}", domain.trim_start_matches("www."))
}

/// Flow-state key of the index entry for a company name.
pub fn name_key(name: &str) -> Option<String> {
    let n = normalize_name(name);
    (!n.is_empty()).then(|| format!("account:name:{n}"))
}

/// Lower case, punctuation dropped, legal suffixes (inc, llc, ltd, gmbh, corp, co, ...) removed,
/// spaces collapsed: `"Acme Corporation, Inc."` → `"acme"`.
pub fn normalize_name(name: &str) -> String {
    const SUFFIXES: &[&str] = &[
        "inc",
        "incorporated",
        "llc",
        "ltd",
        "limited",
        "gmbh",
        "corp",
        "corporation",
        "co",
        "company",
        "plc",
        "sa",
        "ag",
        "bv",
        "srl",
        "pty",
    ];
    let cleaned: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let mut words: Vec<&str> = cleaned.split_whitespace().collect();
    while words.len() > 1 && words.last().is_some_and(|w| SUFFIXES.contains(w)) {
        words.pop();
    }
    words.join(" ")
}

/// Domains that identify a mailbox provider, not a company: never matched to an account.
pub fn is_free_mail(domain: &str) -> bool {
    const FREE: &[&str] = &[
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "hotmail.com",
        "outlook.com",
        "live.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "mail.com",
        "yandex.ru",
        "qq.com",
    ];
    FREE.contains(&domain.trim().to_lowercase().as_str())
}

/// Flow-state key of the index entry for a company id.
pub fn id_key(id: &str) -> String {
    format!("account:id:{id}")
}

/// The index entries a CRM account record produces (by id, domain and normalised name), as
/// the account mapping (`lead_handoff.account_mapping`: `name`, `domain`, `owner_id`) reads it.
pub fn index_update(flows: &super::Flows, company: &Record) -> Completion {
    let mapping = &flows.loaded.config.lead_handoff.account_mapping.value;
    let mapped = flows
        .loaded
        .mapping(mapping)
        .apply(&company.to_json())
        .record;
    let text = |name: &str| super::field(&mapped, name).map(str::to_string);
    let account = AccountRef {
        id: company.id.clone(),
        name: text("name").unwrap_or_default(),
        owner_id: text("owner_id"),
    };
    let value = serde_json::to_value(&account).expect("account refs serialise");
    let mut state = vec![(id_key(&account.id), value.clone())];
    if let Some(domain) = text("domain").filter(|d| !d.trim().is_empty()) {
        state.push((domain_key(&domain), value.clone()));
    }
    if let Some(key) = name_key(&account.name) {
        state.push((key, value));
    }
    Completion {
        state,
        ..Completion::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalise_across_punctuation_case_and_suffixes() {
        assert_eq!(normalize_name("Acme Corporation, Inc."), "acme");
        assert_eq!(normalize_name("ACME corp"), "acme");
        assert_eq!(normalize_name("Gekko & Co"), "gekko");
        assert_eq!(normalize_name("Bubba Gump"), "bubba gump");
        assert_eq!(normalize_name("Company"), "company", "a lone suffix stays");
    }

    #[test]
    fn domain_keys_ignore_www_and_case() {
        assert_eq!(domain_key("WWW.Acme.com"), domain_key("acme.com"));
        assert!(is_free_mail("Gmail.com"));
        assert!(!is_free_mail("acme.com"));
    }
}
