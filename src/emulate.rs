//! `handoff emulate <vendor>`: one vendor's emulator, standalone, for a daemon, a test or a
//! user's own script to point at. With `--data DIR` it is seeded like the sandbox (CRM owners
//! and accounts, Slack users, Asana templates); with `--state-dir DIR` it writes its objects as
//! JSON files there on request (`kill -USR1 <pid>`) and when it stops (Ctrl-C or SIGTERM).
//!
//! It prints the base URL and what a client needs: a bearer token (HubSpot, Slack, Asana), or
//! for Salesforce the login URL, the connected app's client id, the integration user's
//! username and the path of the JWT private key (the emulator's test key, written to a file
//! readable only by its owner, removed when the emulator stops).

use crate::sandbox::crm::hubspot::HubSpotSandbox;
use crate::sandbox::crm::salesforce::SalesforceSandbox;
use crate::sandbox::crm::SandboxCrm;
use crate::sandbox::local::LocalOptions;
use crate::sandbox::{data::Dataset, seed, IoContext, SandboxError};
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

/// Which emulator.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Vendor {
    Hubspot,
    Salesforce,
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
    let shutdown = CancellationToken::new();
    let options = LocalOptions {
        strict_limits: false,
        hubspot_webhooks: false,
    };
    let slack = handoff_slack::SlackEmulator::new(Default::default());
    let asana = handoff_asana::AsanaEmulator::new(Default::default());
    // The CRM: served on `listen` when it is the vendor asked for; otherwise on any loopback
    // port, only so seeding has owners to give the Slack users and accounts.
    let crm_addr = match vendor {
        Vendor::Hubspot | Vendor::Salesforce => listen,
        Vendor::Slack | Vendor::Asana => SocketAddr::from(([127, 0, 0, 1], 0)),
    };
    let hubspot = handoff_hubspot::HubSpotEmulator::new(Default::default());
    let hubspot_token = hubspot.config().token.clone();
    let (crm, salesforce, crm_url): (Box<dyn SandboxCrm>, Option<SalesforceSandbox>, url::Url) =
        match vendor {
            Vendor::Salesforce => {
                let sf = SalesforceSandbox::start(crm_addr, Vec::new(), options, shutdown.clone())
                    .await?;
                let url = sf.base_url().clone();
                (Box::new(sf.clone()), Some(sf), url)
            }
            _ => {
                let hs = HubSpotSandbox::serve(hubspot, crm_addr, false, shutdown.clone()).await?;
                let url = hs.base_url().clone();
                (Box::new(hs), None, url)
            }
        };
    if let Some(dir) = &data {
        let dataset = Dataset::from_dir(dir)?;
        seed::seed(&dataset, crm.as_ref(), &slack, &asana);
    }
    let running = match vendor {
        Vendor::Hubspot | Vendor::Salesforce => None,
        Vendor::Slack => Some(slack.start(listen, shutdown.clone()).await),
        Vendor::Asana => Some(asana.start(listen, shutdown.clone()).await),
    }
    .transpose()
    .doing(|| format!("cannot listen on {listen}"))?;
    let base_url = running.as_ref().map_or(crm_url, |r| r.base_url());
    println!("{vendor:?} emulator listening on {base_url}");
    // Salesforce's key file lives as long as the emulator.
    let keys = tempfile::TempDir::new().doing(|| "cannot create a temporary folder".into())?;
    if let Some(sf) = &salesforce {
        sf.write_credentials(keys.path())?;
        let config = sf.emulator().config();
        let key = keys
            .path()
            .join(crate::sandbox::crm::salesforce::PRIVATE_KEY_FILE);
        println!("login_url: {base_url}");
        println!("client id (JWT iss): {}", config.client_id);
        println!("integration username (JWT sub): {}", config.username);
        println!(
            "JWT private key: the emulator's test key (for tests and sandboxes only), written to {}",
            key.display()
        );
    }
    let token = match vendor {
        Vendor::Hubspot => Some(hubspot_token),
        Vendor::Slack => Some("xoxb-handoff-emulator".to_string()),
        Vendor::Asana => Some(asana.config().token.clone()),
        Vendor::Salesforce => None,
    };
    if let Some(token) = token {
        println!("bearer token: {token}");
    }
    let write = |dir: &std::path::Path| -> Result<(), SandboxError> {
        match vendor {
            Vendor::Hubspot | Vendor::Salesforce => crm.write_state(dir),
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
    if let Some(r) = running {
        let _ = r.task.await;
    }
    if let Some(dir) = &state_dir {
        write(dir)?;
    }
    drop(keys);
    Ok(())
}
