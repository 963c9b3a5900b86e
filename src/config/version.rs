//! Which configuration is live: a fingerprint of the files a [`Loaded`] came from, and what a
//! reload (`systemctl reload handoff`, `handoff reload`) changed or could not change.
//!
//! The version is the first 12 hex digits of the SHA-256 of the config file, every mapping
//! file of `mappings_dir` (by name) and the routing rule files (`lead_handoff.rules`,
//! `cases.rules`), so two hosts with the same files show the same version. `handoff status`
//! shows it with the time it was loaded.
//!
//! Keys a reload cannot apply (they shape listeners, connections or the store, built once at
//! start) are compared between the running file and the new one: [`restart_only_changes`]
//! names those that differ, so the operator knows a restart is due.

use super::Loaded;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The live configuration, as `GET /admin/status` reports it under `config`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigVersion {
    /// Fingerprint of the files (see the module docs).
    pub version: String,
    /// When it was loaded, UTC ms.
    pub loaded_at_ms: i64,
    /// Successful reloads since the daemon started.
    pub reloads: u64,
    /// The last reload's error (file:line: field: message), if the last attempt failed; the
    /// running configuration stayed.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Keys changed in the file that only a restart applies.
    #[serde(default)]
    pub needs_restart: Vec<String>,
}

/// Top-level keys (and `marketing.crm`) read once at start: listeners, the store, vendor
/// connections, delivery, logging, outgoing mail.
pub const RESTART_ONLY: [&str; 12] = [
    "listen",
    "admin_listen",
    "public_url",
    "state_dir",
    "log",
    "crm",
    "pm",
    "slack",
    "delivery",
    "connections",
    "smtp",
    "marketing.crm",
];

/// The fingerprint of `loaded`'s files (see the module docs). Files that cannot be read count
/// as empty (the load that produced `loaded` read them a moment ago).
pub fn fingerprint(loaded: &Loaded) -> String {
    let mut hash = Sha256::new();
    let mut add = |name: &str, path: &Path| {
        hash.update(name.as_bytes());
        hash.update([0]);
        hash.update(std::fs::read(path).unwrap_or_default());
        hash.update([0]);
    };
    add("config", &loaded.path);
    let mut mappings: Vec<_> = std::fs::read_dir(&loaded.config.mappings_dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    mappings.retain(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"));
    mappings.sort();
    for m in &mappings {
        add(&m.file_name().unwrap_or_default().to_string_lossy(), m);
    }
    if let Some(rules) = &loaded.config.lead_handoff.rules {
        add("lead_handoff.rules", &rules.value);
    }
    if let Some(cases) = &loaded.config.cases {
        add("cases.rules", &cases.rules.value);
    }
    let digest = hash.finalize();
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// The [`RESTART_ONLY`] keys whose values differ between the config texts `running` and
/// `new` (compared as YAML values, so moving a key or reformatting changes nothing). Texts
/// that do not parse compare as empty.
pub fn restart_only_changes(running: &str, new: &str) -> Vec<String> {
    let parse = |t: &str| serde_saphyr::from_str::<serde_json::Value>(t).unwrap_or_default();
    let (a, b) = (parse(running), parse(new));
    RESTART_ONLY
        .iter()
        .filter(|key| {
            let pointer = format!("/{}", key.replace('.', "/"));
            a.pointer(&pointer) != b.pointer(&pointer)
        })
        .map(|k| k.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_restart_only_keys_that_changed_are_named() {
        let running = "listen: 127.0.0.1:8080\ncrm: { type: hubspot, portal_id: 1 }\nlead_handoff: { mapping: a }\nmarketing: { crm: { type: hubspot }, lead_mapping: x }\n";
        let moved = "lead_handoff:\n  mapping: b\ncrm:\n  portal_id: 1\n  type: hubspot\nlisten: 127.0.0.1:8080\nmarketing: { crm: { type: hubspot }, lead_mapping: y }\n";
        assert!(restart_only_changes(running, moved).is_empty());
        let changed = moved.replace("8080", "9090").replace(
            "marketing: { crm: { type: hubspot }",
            "marketing: { crm: { type: salesforce }",
        );
        assert_eq!(
            restart_only_changes(running, &changed),
            vec!["listen".to_string(), "marketing.crm".to_string()]
        );
    }
}
