//! `handoff emulate <vendor>`: one vendor's emulator, standalone, for a daemon, a test or a
//! user's own script to point at. With `--data DIR` it is seeded like the sandbox (owners,
//! companies, Slack users, Asana templates); with `--state-dir DIR` it writes its objects as
//! JSON files there on request (`kill -USR1 <pid>`) and when it stops (Ctrl-C or SIGTERM).

use crate::sandbox::{data::Dataset, seed, IoContext, SandboxError};
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

/// Which emulator.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Vendor {
    Hubspot,
    Slack,
    Asana,
}

/// Serves the emulator until a signal arrives.
pub async fn run(
    vendor: Vendor,
    listen: SocketAddr,
    data: Option<PathBuf>,
    state_dir: Option<PathBuf>,
) -> Result<(), SandboxError> {
    let hubspot = handoff_hubspot::HubSpotEmulator::new(Default::default());
    let slack = handoff_slack::SlackEmulator::new(Default::default());
    let asana = handoff_asana::AsanaEmulator::new(Default::default());
    if let Some(dir) = &data {
        let dataset = Dataset::from_dir(dir)?;
        seed::seed(&dataset, &hubspot, &slack, &asana);
    }
    let shutdown = CancellationToken::new();
    let running = match vendor {
        Vendor::Hubspot => hubspot.start(listen, shutdown.clone()).await,
        Vendor::Slack => slack.start(listen, shutdown.clone()).await,
        Vendor::Asana => asana.start(listen, shutdown.clone()).await,
    }
    .doing(|| format!("cannot listen on {listen}"))?;
    let token = match vendor {
        Vendor::Hubspot => hubspot.config().token.clone(),
        Vendor::Slack => "xoxb-handoff-emulator".to_string(),
        Vendor::Asana => asana.config().token.clone(),
    };
    println!("{vendor:?} emulator listening on {}", running.base_url());
    println!("bearer token: {token}");
    let write = |dir: &std::path::Path| -> Result<(), SandboxError> {
        match vendor {
            Vendor::Hubspot => hubspot.write_state(dir).map(|_| ()),
            Vendor::Slack => slack.write_state(dir).map(|_| ()),
            Vendor::Asana => asana.write_state(dir).map(|_| ()),
        }
        .doing(|| format!("cannot write state to {}", dir.display()))?;
        println!("state written to {}", dir.display());
        Ok(())
    };
    tokio::spawn(crate::daemon::signals(shutdown.clone()));
    let mut dump = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())
        .doing(|| "cannot install the SIGUSR1 handler".into())?;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = dump.recv() => match &state_dir {
                Some(dir) => write(dir)?,
                None => eprintln!("SIGUSR1: no --state-dir given, nothing written"),
            },
        }
    }
    let _ = running.task.await;
    if let Some(dir) = &state_dir {
        write(dir)?;
    }
    Ok(())
}
