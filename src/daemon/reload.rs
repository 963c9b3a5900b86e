//! Reloading the configuration while the daemon runs: `systemctl reload handoff` (SIGHUP, the
//! unit's `ExecReload=`) or `handoff reload` (`POST /admin/reload`).
//!
//! A reload reads the config file again with everything it names (mappings, routing rules for
//! leads and cases, templates, lists) and checks it exactly as `handoff validate` does. Only
//! when all of it loads is it swapped in, at once: the worker takes the flows afresh for each
//! round, so a round decides with one configuration, old or new, never a mix. On an error the
//! running configuration stays; the error (file:line: field: message) is logged, counted
//! (`handoff_config_reloads_total{result="error"}`) and shown by `handoff status`.
//!
//! What a reload cannot apply, because it is built once at start, is named instead of applied
//! (`needs_restart` in the status): listeners, the state directory, vendor connections and
//! their change sources, delivery, logging, outgoing mail ([`crate::config::version`]), and
//! new fields the mappings read from polled objects (the poll requests are built at start).

use crate::config::version::{self, ConfigVersion};
use crate::flows::Flows;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// The flows the worker decides with, swapped whole by a reload, and the version that is live.
pub struct LiveFlows {
    current: RwLock<Arc<Flows>>,
    version: RwLock<ConfigVersion>,
    /// The config file.
    path: PathBuf,
    /// The text of the config file the daemon started with (restart-only keys compare to it).
    started_text: String,
}

/// Why a reload was refused (the running configuration stays).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ReloadError(pub String);

impl LiveFlows {
    /// The flows of the configuration the daemon starts with, loaded at `now_ms` (UTC ms).
    pub fn new(flows: Flows, now_ms: i64) -> Self {
        let path = flows.loaded.path.clone();
        let version = ConfigVersion {
            version: version::fingerprint(&flows.loaded),
            loaded_at_ms: now_ms,
            ..ConfigVersion::default()
        };
        metrics::gauge!("handoff_config_loaded_timestamp_seconds").set(now_ms as f64 / 1000.0);
        LiveFlows {
            started_text: std::fs::read_to_string(&path).unwrap_or_default(),
            current: RwLock::new(Arc::new(flows)),
            version: RwLock::new(version),
            path,
        }
    }

    /// The flows to decide with now.
    pub fn current(&self) -> Arc<Flows> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The live version, with the last reload's error if it failed.
    pub fn version(&self) -> ConfigVersion {
        self.version
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Loads the config file again and swaps it in (see the module docs). Blocking (file
    /// reads): call it from `spawn_blocking`. `now_ms` is the load time (UTC ms).
    ///
    /// Errors: [`ReloadError`] with the config error; nothing changed.
    pub fn reload(&self, now_ms: i64) -> Result<ConfigVersion, ReloadError> {
        let loaded = match crate::config::load(&self.path) {
            Ok(l) => l,
            Err(e) => {
                let message = e.to_string();
                tracing::error!(error = %message, "config reload refused; the running configuration stays");
                metrics::counter!("handoff_config_reloads_total", "result" => "error").increment(1);
                self.version
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .last_error = Some(message.clone());
                return Err(ReloadError(message));
            }
        };
        let old = self.current();
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let mut needs_restart = version::restart_only_changes(&self.started_text, &text);
        if loaded.fields_by_object() != old.loaded.fields_by_object() {
            needs_restart.push("fields the mappings read (polled with the start-up list)".into());
        }
        let new_version = version::fingerprint(&loaded);
        let flows = Flows {
            loaded: Arc::new(loaded),
            owners: old.owners.clone(),
            marketing_owners: old.marketing_owners.clone(),
        };
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(flows);
        let mut v = self.version.write().unwrap_or_else(|p| p.into_inner());
        *v = ConfigVersion {
            version: new_version,
            loaded_at_ms: now_ms,
            reloads: v.reloads + 1,
            last_error: None,
            needs_restart,
        };
        metrics::counter!("handoff_config_reloads_total", "result" => "ok").increment(1);
        metrics::gauge!("handoff_config_loaded_timestamp_seconds").set(now_ms as f64 / 1000.0);
        if v.needs_restart.is_empty() {
            tracing::info!(version = %v.version, "configuration reloaded");
        } else {
            tracing::warn!(version = %v.version, needs_restart = ?v.needs_restart, "configuration reloaded; these changes wait for a restart");
        }
        Ok(v.clone())
    }

    /// Reloads on every SIGHUP until `shutdown` (Unix; elsewhere it only waits).
    pub async fn on_hangup(self: Arc<Self>, shutdown: tokio_util::sync::CancellationToken) {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let Ok(mut hup) = signal(SignalKind::hangup()) else {
                tracing::error!("cannot install the SIGHUP handler; reload with `handoff reload`");
                return;
            };
            loop {
                tokio::select! {
                    _ = hup.recv() => {
                        tracing::info!("SIGHUP received: reloading the configuration");
                        let live = self.clone();
                        let now = handoff_connector::now_ms();
                        let _ = tokio::task::spawn_blocking(move || live.reload(now)).await;
                    }
                    _ = shutdown.cancelled() => return,
                }
            }
        }
        #[cfg(not(unix))]
        shutdown.cancelled().await;
    }
}
