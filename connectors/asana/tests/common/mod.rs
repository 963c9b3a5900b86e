//! Shared test setup: an emulator on 127.0.0.1:0 and a client pointed at it.

#![allow(dead_code)]

use handoff_asana::{AsanaClient, AsanaConfig, AsanaEmulator, EmulatorConfig};
use handoff_connector::emulator::Running;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

pub struct Harness {
    pub emu: AsanaEmulator,
    pub running: Running,
    pub client: AsanaClient,
    pub config: AsanaConfig,
    shutdown: CancellationToken,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Harness {
    /// Raw `reqwest` call with the right token, for status/header assertions.
    pub fn url(&self, path: &str) -> String {
        format!(
            "{}{}",
            self.running.base_url(),
            path.trim_start_matches('/')
        )
    }

    pub fn token(&self) -> &str {
        &self.emu.config().token
    }
}

/// Starts an emulator with `emu_config` and a client with 10 ms job polling.
pub async fn start(emu_config: EmulatorConfig) -> Harness {
    let emu = AsanaEmulator::new(emu_config);
    let shutdown = CancellationToken::new();
    let running = emu
        .start("127.0.0.1:0".parse().unwrap(), shutdown.clone())
        .await
        .expect("emulator binds");
    let mut config = AsanaConfig::new(
        running.base_url(),
        SecretString::from(emu.config().token.clone()),
        emu.config().workspace_gid.clone(),
        emu.config().team_gid.clone(),
    );
    config.job_poll_interval_ms = 10;
    config.job_timeout_s = 5;
    let client = AsanaClient::new(&config).expect("client builds");
    Harness {
        emu,
        running,
        client,
        config,
        shutdown,
    }
}

/// The enterprise onboarding template: 2 sections, 3 tasks.
pub fn seed_enterprise(emu: &AsanaEmulator) -> String {
    emu.add_template(
        "Onboarding — Enterprise",
        vec![
            ("Kickoff", vec!["Intro call", "Share success plan"]),
            ("Go-live", vec!["Production cutover"]),
        ],
    )
}
