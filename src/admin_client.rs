//! How the CLI reads state: through the running daemon's admin API when it is up (sled lets one
//! process open the database), or by opening the database directly when it is stopped.

use crate::cli_support::AuditReport;
use crate::config::ConfigError;
use crate::state::{DeadLetter, StateError, StatusReport, Store};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Errors reading state for the CLI.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("the daemon's admin API at {url} answered {status}: {message}")]
    Remote {
        url: String,
        status: u16,
        message: String,
    },
    #[error("the daemon's admin API at {url} failed: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error(
        "no handoff daemon answers at {url} (is it running, and is this its admin_listen address?)"
    )]
    Unreachable { url: String },
    #[error("the state store at {} is locked by another process, probably the running daemon: sled lets one process open it. Read it through the daemon instead (`handoff report --admin ADDR` or `--config FILE`), or stop the daemon first", dir.display())]
    Locked { dir: PathBuf },
}

/// Reads a daemon's state via its admin address, or directly.
pub struct AdminClient {
    base: String,
    state_dir: PathBuf,
    http: reqwest::Client,
}

impl AdminClient {
    /// From the daemon's config file (its `admin_listen` and `state_dir`).
    pub fn for_config(config: &Path) -> Result<Self, AdminError> {
        let loaded = crate::config::load(config)?;
        Ok(Self::new(
            loaded.config.admin_listen,
            loaded.config.state_dir.clone(),
        ))
    }

    pub fn new(admin: std::net::SocketAddr, state_dir: PathBuf) -> Self {
        Self {
            base: format!("http://{admin}"),
            state_dir,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("a plain HTTP client builds"),
        }
    }

    /// `None` when no daemon listens (then the caller opens the store).
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> Result<Option<T>, AdminError> {
        self.call_with(method, path, None::<&()>).await
    }

    /// [`AdminClient::call`] with a JSON `body`.
    async fn call_with<T: serde::de::DeserializeOwned, B: serde::Serialize + ?Sized>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Option<T>, AdminError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) if e.is_connect() => return Ok(None),
            Err(source) => return Err(AdminError::Http { url, source }),
        };
        let status = response.status();
        if !status.is_success() {
            let message = response.text().await.unwrap_or_default();
            return Err(AdminError::Remote {
                url,
                status: status.as_u16(),
                message,
            });
        }
        response
            .json()
            .await
            .map(Some)
            .map_err(|source| AdminError::Http { url, source })
    }

    fn open(&self) -> Result<Store, AdminError> {
        Ok(Store::open(&self.state_dir)?)
    }

    pub async fn status(&self) -> Result<StatusReport, AdminError> {
        match self.call(reqwest::Method::GET, "/admin/status").await? {
            Some(s) => Ok(s),
            None => Ok(self.open()?.status()?),
        }
    }

    /// Asks the running daemon to reload its configuration (`POST /admin/reload`).
    ///
    /// Errors: [`AdminError::Unreachable`] when no daemon listens; [`AdminError::Remote`]
    /// (status 422) with the config error when the new configuration was refused.
    pub async fn reload(&self) -> Result<crate::config::version::ConfigVersion, AdminError> {
        match self.call(reqwest::Method::POST, "/admin/reload").await? {
            Some(v) => Ok(v),
            None => Err(AdminError::Unreachable {
                url: self.base.clone(),
            }),
        }
    }

    /// Asks the running daemon to replay a window of its change feeds (`POST /admin/replay`,
    /// see [`crate::daemon::window_replay`]).
    ///
    /// Errors: [`AdminError::Unreachable`] when no daemon listens (a replay reads the CRM,
    /// which only the daemon is configured to do); [`AdminError::Remote`] for a bad window.
    pub async fn replay_window(
        &self,
        req: &crate::daemon::window_replay::ReplayRequest,
    ) -> Result<crate::daemon::window_replay::ReplayReport, AdminError> {
        match self
            .call_with(reqwest::Method::POST, "/admin/replay", Some(req))
            .await?
        {
            Some(report) => Ok(report),
            None => Err(AdminError::Unreachable {
                url: self.base.clone(),
            }),
        }
    }

    pub async fn audit(&self, record: &str) -> Result<AuditReport, AdminError> {
        let path = format!("/admin/audit/{}", urlencode(record));
        match self.call(reqwest::Method::GET, &path).await? {
            Some(r) => Ok(r),
            None => Ok(crate::cli_support::audit_report(&self.open()?, record)?),
        }
    }

    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, AdminError> {
        match self
            .call(reqwest::Method::GET, "/admin/dead-letters")
            .await?
        {
            Some(d) => Ok(d),
            None => Ok(self.open()?.dead_letters()?),
        }
    }

    /// The report over audit entries since `since` (all when `None`): from the daemon's
    /// `GET /admin/report`, or from the store when no daemon listens.
    pub async fn report(
        &self,
        since: Option<jiff::Timestamp>,
    ) -> Result<crate::report::Report, AdminError> {
        match self.call(reqwest::Method::GET, &report_path(since)).await? {
            Some(r) => Ok(r),
            None => report_offline(&self.state_dir, since),
        }
    }

    /// The report from the daemon's admin API only (`handoff report --admin ADDR`): no
    /// fallback to the store, [`AdminError::Unreachable`] when nothing listens.
    pub async fn report_remote(
        &self,
        since: Option<jiff::Timestamp>,
    ) -> Result<crate::report::Report, AdminError> {
        match self.call(reqwest::Method::GET, &report_path(since)).await? {
            Some(r) => Ok(r),
            None => Err(AdminError::Unreachable {
                url: self.base.clone(),
            }),
        }
    }

    pub async fn replay(&self, id: u64) -> Result<DeadLetter, AdminError> {
        let path = format!("/admin/dead-letters/{id}/replay");
        match self.call(reqwest::Method::POST, &path).await? {
            Some(d) => Ok(d),
            None => Ok(self
                .open()?
                .replay_dead_letter(id, handoff_connector::now_ms())
                .await?),
        }
    }
}

fn report_path(since: Option<jiff::Timestamp>) -> String {
    match since {
        Some(t) => format!("/admin/report?since={}", urlencode(&t.to_string())),
        None => "/admin/report".into(),
    }
}

/// The report read straight from a stopped daemon's state directory (`handoff report
/// --state-dir DIR`), stamped with the wall clock. [`AdminError::Locked`] when a running
/// process holds the database. Must run inside a tokio runtime (the store's flusher).
pub fn report_offline(
    state_dir: &Path,
    since: Option<jiff::Timestamp>,
) -> Result<crate::report::Report, AdminError> {
    let store = Store::open(state_dir).map_err(|e| match e {
        StateError::Open {
            source: sled::Error::Io(io),
            ..
        } if io.to_string().contains("could not acquire lock") => AdminError::Locked {
            dir: state_dir.to_path_buf(),
        },
        other => AdminError::State(other),
    })?;
    Ok(crate::report::from_store(
        &store,
        since.map(|t| t.as_millisecond()),
        handoff_connector::now_ms(),
    )?)
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `handoff status` for people.
pub fn render_status(s: &StatusReport) -> String {
    let mut out = format!(
        "inbox:        {} changes waiting\noutbox:       {} sagas pending ({} parked)\ncompleted:    {} sagas\ndead letters: {}\ndisk:         {} bytes\ncursors:\n",
        s.inbox_depth, s.outbox_depth, s.parked_sagas, s.completed_sagas, s.dead_letters, s.size_on_disk
    );
    if s.cursors.is_empty() {
        out.push_str("  (none yet)\n");
    }
    for (feed, cursor) in &s.cursors {
        let human = cursor
            .parse::<i64>()
            .ok()
            .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
            .map(|t| format!(" ({t})"))
            .unwrap_or_default();
        out.push_str(&format!("  {feed}: {cursor}{human}\n"));
    }
    if let Some(c) = &s.config {
        out.push_str(&format!(
            "config:       version {} loaded {} ({} reload(s))\n",
            c.version,
            crate::report::utc(c.loaded_at_ms),
            c.reloads
        ));
        if let Some(e) = &c.last_error {
            out.push_str(&format!("  last reload refused: {e}\n"));
        }
        if !c.needs_restart.is_empty() {
            out.push_str(&format!(
                "  changed, applied at the next restart: {}\n",
                c.needs_restart.join(", ")
            ));
        }
    }
    out
}
