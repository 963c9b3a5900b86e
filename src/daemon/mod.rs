//! The long-running service: wiring, startup order and the shutdown protocol.
//!
//! Startup: open the state store → load the CRM's owners → bind the public and admin listeners
//! → one poll of every feed (catch up on what happened while stopped) → ready (`/readyz` 200,
//! systemd `READY=1`) → worker, executor, poller and maintenance run.
//!
//! Shutdown (SIGTERM/SIGINT, or the caller's token): systemd `STOPPING=1`; the servers stop
//! accepting and finish in-flight requests; the poller stops; the worker finishes its round;
//! the executor lets in-flight steps finish within `delivery.shutdown_grace_s`. Anything left
//! is in sled and resumes at the next start.

pub mod admin;
pub mod completeness;
pub mod listener;
pub mod load;
pub mod poller;
pub mod reload;
pub mod server;
pub mod telemetry;
pub mod timers;
pub mod vendors;
pub mod window_replay;
pub mod worker;

use crate::clock::{Clock, SystemClock};
use crate::config::Loaded;
use crate::flows::owners::OwnerDirectory;
use crate::flows::Flows;
use crate::outbox::{Effects, Executor};
use crate::state::Store;
use handoff_connector::{ChangeFeed, Crm, PollSource};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The vendor side of the daemon, as trait objects (built from config by [`vendors`]).
#[derive(Clone)]
pub struct Vendors {
    /// The CRM: reads, searches and writes through one connector (one rate budget).
    pub crm: Arc<dyn Crm>,
    /// The CRM's change feed and when to poll it (`None`: no `poll` change source).
    pub crm_poll: Option<(Arc<dyn ChangeFeed>, PollSource)>,
    /// The marketing CRM in front of `crm` (`marketing:`), if configured.
    pub marketing: Option<MarketingVendor>,
    /// Endpoints vendors post to (the CRMs' webhooks, Slack interactivity).
    pub webhooks: Vec<server::WebhookRoute>,
    pub effects: Arc<dyn Effects>,
}

/// The marketing CRM: its connector and its change feed (webhooks are in
/// [`Vendors::webhooks`]).
#[derive(Clone)]
pub struct MarketingVendor {
    pub crm: Arc<dyn Crm>,
    /// Its change feed and when to poll it (`None`: no `poll` change source).
    pub poll: Option<(Arc<dyn ChangeFeed>, PollSource)>,
}

/// A CRM and the owner directory kept from its owners.
type OwnerSource = (Arc<dyn Crm>, Arc<RwLock<OwnerDirectory>>);

/// Errors that stop the daemon.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error("cannot serve HTTP: {0}")]
    Io(#[from] std::io::Error),
}

/// Listeners bound by the caller (so tests can bind 127.0.0.1:0 and read the ports).
pub struct Listeners {
    pub public: TcpListener,
    pub admin: TcpListener,
}

/// Runs the daemon on the wall clock until `shutdown` is cancelled.
pub async fn run(
    loaded: Loaded,
    vendors: Vendors,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<(), DaemonError> {
    run_with_clock(loaded, vendors, listeners, shutdown, Arc::new(SystemClock)).await
}

/// Runs the daemon until `shutdown` is cancelled, deciding on `clock`'s time: flows
/// (`Env::now_ms`, hence audit times, SLA due times, business hours) and the timer runner read
/// it. Transport concerns stay on the wall clock: webhook signature skew, retry backoff, dedupe
/// retention. Tests pass a [`crate::clock::ManualClock`]; the sandbox a clock that runs faster.
pub async fn run_with_clock(
    loaded: Loaded,
    vendors: Vendors,
    listeners: Listeners,
    shutdown: CancellationToken,
    clock: Arc<dyn Clock>,
) -> Result<(), DaemonError> {
    let cfg = loaded.config.clone();
    let store = Store::open_with_cache(&cfg.state_dir, cfg.state.cache_mb.max(1) * 1024 * 1024)?;
    let metrics = telemetry::metrics();
    let wake = Arc::new(Notify::new());
    let executor_wake = Arc::new(Notify::new());
    let ready = Arc::new(AtomicBool::new(false));
    let tasks = TaskTracker::new();
    let stop_intake = shutdown.child_token();

    let intake = server::Intake {
        store: store.clone(),
        public_url: cfg.public_url.clone(),
        wake: wake.clone(),
        ready: ready.clone(),
        metrics,
    };
    let public = server::router(intake, vendors.webhooks.clone());
    // The owner directories (filled below, before any lead can be routed) and the flows.
    let owners = Arc::new(RwLock::new(OwnerDirectory::default()));
    let marketing_owners = Arc::new(RwLock::new(OwnerDirectory::default()));
    let live = Arc::new(reload::LiveFlows::new(
        Flows {
            loaded: Arc::new(loaded),
            owners: owners.clone(),
            marketing_owners: marketing_owners.clone(),
        },
        clock.now_ms(),
    ));
    let replayer = Arc::new(window_replay::Replayer {
        feeds: std::iter::once((vendors.crm.system(), vendors.crm_poll.clone()))
            .chain(
                vendors
                    .marketing
                    .as_ref()
                    .map(|m| (m.crm.system(), m.poll.clone())),
            )
            .filter_map(|(source, poll)| {
                let (feed, poll) = poll?;
                Some(window_replay::ReplayFeed {
                    source,
                    feed,
                    objects: poll.objects.clone(),
                })
            })
            .collect(),
        store: store.clone(),
        live: live.clone(),
        crm: vendors.crm.clone(),
        marketing: vendors.marketing.as_ref().map(|m| m.crm.clone()),
        now_ms: {
            let clock = clock.clone();
            Arc::new(move || clock.now_ms())
        },
    });
    let admin = admin::router(admin::Admin {
        store: store.clone(),
        wake: wake.clone(),
        executor_wake: executor_wake.clone(),
        live: Some(live.clone()),
        replayer: Some(replayer.clone()),
    });
    tracing::info!(public = %listeners.public.local_addr()?, admin = %listeners.admin.local_addr()?, "listening");
    let limits = listener::ConnectionLimits {
        max_connections: cfg.connections.max_open.max(1),
        header_timeout: Duration::from_secs(cfg.connections.header_timeout_s.max(1)),
        body_timeout: Duration::from_secs(cfg.connections.body_timeout_s.max(1)),
    };
    for (name, socket, router) in [
        ("public", listeners.public, public),
        ("admin", listeners.admin, admin),
    ] {
        tasks.spawn(listener::serve(
            name,
            socket,
            router,
            limits,
            stop_intake.clone(),
        ));
    }

    let marketing_crm = vendors.marketing.as_ref().map(|m| m.crm.clone());
    let directories: Vec<OwnerSource> = std::iter::once((vendors.crm.clone(), owners.clone()))
        .chain(marketing_crm.clone().map(|c| (c, marketing_owners.clone())))
        .collect();
    for (crm, directory) in &directories {
        if !load_owners(crm.as_ref(), directory, &shutdown).await {
            tasks.close();
            tasks.wait().await;
            return Ok(());
        }
    }

    let feeds = std::iter::once((vendors.crm.system(), vendors.crm_poll.clone())).chain(
        vendors
            .marketing
            .as_ref()
            .map(|m| (m.crm.system(), m.poll.clone())),
    );
    let pollers: Vec<poller::Poller> = feeds
        .filter_map(|(source, poll)| {
            let (feed, poll) = poll?;
            Some(poller::Poller {
                source,
                feed,
                store: store.clone(),
                objects: poll.objects.clone(),
                schedule: poller::Poller::schedule(&poll.schedule.value)
                    .expect("schedule is checked at config load"),
                wake: wake.clone(),
                stalled_after: cfg.completeness.stalled_after_polls,
            })
        })
        .collect();
    for poller in &pollers {
        if let Err(e) = poller.poll_all().await {
            tracing::warn!(source = poller.source, error = %e, "catch-up poll failed; the schedule will retry");
        }
    }

    let loaded = live.current().loaded.clone();
    let worker = worker::Worker {
        store: store.clone(),
        flows: live.clone(),
        crm: vendors.crm.clone(),
        marketing: marketing_crm,
        wake: wake.clone(),
        executor_wake: executor_wake.clone(),
        batch: cfg.delivery.worker_batch,
        max_attempts: cfg.delivery.max_attempts,
        clock: clock.clone(),
    };
    let executor = Executor {
        store: store.clone(),
        effects: vendors.effects.clone(),
        wake: executor_wake.clone(),
        concurrency: cfg.delivery.executor_concurrency,
        max_attempts: cfg.delivery.max_attempts,
        grace: Duration::from_secs(cfg.delivery.shutdown_grace_s),
    };
    let stop_work = shutdown.child_token();
    for poller in pollers {
        tasks.spawn(poller.run(stop_work.clone()));
    }
    tasks.spawn(worker.run(stop_work.clone()));
    let mut timer_runner = timers::TimerRunner::new(store.clone(), wake.clone());
    timer_runner.clock = clock.clone();
    if clock.wakes_waits_on_jumps() {
        // No wall-clock steps to notice: wait for the next timer, however far.
        timer_runner.max_wait = Duration::from_secs(366 * 86_400);
    }
    tasks.spawn(timer_runner.run(stop_work.clone()));
    tasks.spawn(executor.run(stop_work.clone()));
    tasks.spawn(live.clone().on_hangup(stop_work.clone()));
    let reconciled = std::iter::once((vendors.crm.clone(), vendors.crm_poll.clone()))
        .chain(
            vendors
                .marketing
                .as_ref()
                .map(|m| (m.crm.clone(), m.poll.clone())),
        )
        .filter_map(|(crm, poll)| Some((crm, poll?.1.objects.clone())))
        .flat_map(|(crm, objects)| {
            objects.into_iter().map(move |object| completeness::Feed {
                crm: crm.clone(),
                object,
            })
        })
        .collect();
    tasks.spawn(
        completeness::Completeness {
            feeds: reconciled,
            store: store.clone(),
            config: cfg.completeness.clone(),
            replayer,
            clock: clock.clone(),
        }
        .run(stop_work.clone()),
    );
    if let Some(rules) = loaded
        .rules
        .clone()
        .filter(|_| load::Refresher::wanted(&loaded))
    {
        let refresher = load::Refresher {
            store: store.clone(),
            crm: vendors.crm.clone(),
            config: cfg.lead_handoff.routing_inputs.clone(),
            rules,
            owners: owners.clone(),
            clock: clock.clone(),
        };
        tasks.spawn(refresher.run(stop_work.clone()));
    }
    tasks.spawn(crate::report::metrics::run_refresher(
        store.clone(),
        crate::report::metrics::DEFAULT_EVERY,
        stop_work.clone(),
    ));
    tasks.spawn(maintenance(
        store.clone(),
        directories,
        cfg.delivery.dedupe_retention_h,
        stop_work.clone(),
    ));

    server::set_ready(&ready);
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    tracing::info!("handoff is ready");

    shutdown.cancelled().await;
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    tracing::info!("shutting down: draining in-flight work");
    tasks.close();
    tasks.wait().await;
    store.durable().await?;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Loads `crm`'s owners into `directory`, retrying every 2 s until it works; `false` when
/// `shutdown` came first.
async fn load_owners(
    crm: &dyn Crm,
    directory: &RwLock<OwnerDirectory>,
    shutdown: &CancellationToken,
) -> bool {
    loop {
        match crm.owners().await {
            Ok(list) => {
                *directory.write().unwrap_or_else(|p| p.into_inner()) = OwnerDirectory::new(list);
                return true;
            }
            Err(e) => {
                tracing::warn!(crm = crm.system(), error = %e, "cannot load CRM owners yet; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                    _ = shutdown.cancelled() => return false,
                }
            }
        }
    }
}

/// Background upkeep: feed the systemd watchdog (when the unit sets `WatchdogSec=`), refresh
/// each CRM's owner directory every ten minutes (bounded by a timeout), and forget dedupe keys
/// older than the retention every hour. Each runs on its own timer, so a slow CRM never delays
/// the watchdog or shutdown.
async fn maintenance(
    store: Store,
    directories: Vec<OwnerSource>,
    retention_h: u64,
    shutdown: CancellationToken,
) {
    use tokio::time::{interval, MissedTickBehavior};
    let watchdog = sd_notify::watchdog_enabled();
    let mut watchdog_tick = interval(watchdog.map_or(Duration::from_secs(3600), |d| {
        (d / 2).max(Duration::from_secs(1))
    }));
    let mut owners_tick = interval(Duration::from_secs(600));
    let mut prune_tick = interval(Duration::from_secs(3600));
    for t in [&mut watchdog_tick, &mut owners_tick, &mut prune_tick] {
        t.set_missed_tick_behavior(MissedTickBehavior::Delay);
    }
    // The first tick of an interval fires at once; the startup already loaded owners.
    owners_tick.tick().await;
    prune_tick.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = watchdog_tick.tick() => {
                if watchdog.is_some() {
                    let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
                }
            }
            _ = owners_tick.tick() => {
                for (crm, owners) in &directories {
                    let refresh = tokio::time::timeout(Duration::from_secs(60), crm.owners());
                    match tokio::select! { r = refresh => r, _ = shutdown.cancelled() => return } {
                        Ok(Ok(list)) => {
                            *owners.write().unwrap_or_else(|p| p.into_inner()) = OwnerDirectory::new(list)
                        }
                        Ok(Err(e)) => tracing::warn!(crm = crm.system(), error = %e, "owner refresh failed; keeping the old directory"),
                        Err(_) => tracing::warn!(crm = crm.system(), "owner refresh timed out; keeping the old directory"),
                    }
                }
            }
            _ = prune_tick.tick() => {
                let cutoff = handoff_connector::now_ms() - (retention_h * 3_600_000) as i64;
                match store.prune_seen(cutoff) {
                    Ok(n) => tracing::debug!(removed = n, "pruned dedupe keys"),
                    Err(e) => tracing::warn!(error = %e, "pruning dedupe keys failed"),
                }
            }
        }
    }
}

/// Cancels `shutdown` on SIGTERM or SIGINT.
pub async fn signals(shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::error!("cannot install signal handlers");
            return;
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    shutdown.cancel();
}
