//! A bounded loopback load generator for handoff's webhook intake.
//!
//! Sends `--events N` HubSpot `contact.creation` events as signed v3 deliveries
//! (`X-HubSpot-Signature-v3`, `X-HubSpot-Request-Timestamp` in ms, over the daemon's
//! `public_url` + `/webhooks/hubspot`), `--batch B` events per request (HubSpot sends up to 100),
//! from `--concurrency C` concurrent senders. Every event is unique (its own eventId, objectId
//! and occurredAt), so none is deduplicated. It stops after N events or `--time-limit-s`,
//! whichever comes first, and only ever talks to 127.0.0.1.
//!
//! By default it starts everything in this process: the HubSpot, Slack and Asana emulators
//! (rate limits off, seeded like `handoff sandbox`, plus one MQL contact per event so the
//! worker's batch reads find them) and the daemon with the sandbox config (polling companies
//! only, so the contacts arrive through the webhooks alone). After the intake it waits until
//! the worker has drained every accepted event from the inbox into sagas (end to end).
//! With `--target URL --secret S` it loads an already running daemon instead (intake only).
//!
//! It prints one JSON summary on stdout: events/s and requests/s acknowledged (200), latency
//! per request (p50/p90/p99/max, ms), group commits (`handoff_state_flushes_total` from
//! `/metrics`) and events per flush, error counts, and the drain time.
//!
//! ```text
//! cargo run --release --example intake_load -- --events 20000 --concurrency 64 --batch 1
//! cargo run --release --example intake_load -- --events 100000 --concurrency 64 --batch 100
//! ```

use anyhow::{bail, Context};
use clap::Parser;
use handoff::admin_client::AdminClient;
use handoff::daemon::vendors;
use handoff::daemon::{self, Listeners};
use handoff::sandbox::crm::hubspot::HubSpotSandbox;
use handoff::sandbox::local::{wait_ready, LocalOptions, LocalVendors};
use handoff::sandbox::{self, data::Dataset, seed};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Command-line options.
#[derive(Debug, Parser)]
#[command(about = "Bounded loopback load generator for handoff's HubSpot webhook intake")]
struct Args {
    /// Events to send in total.
    #[arg(long, default_value_t = 10_000)]
    events: u64,
    /// Concurrent senders (each with its own connection).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Events per request (1..=100; HubSpot batches up to 100).
    #[arg(long, default_value_t = 1)]
    batch: u64,
    /// Stop sending after this many seconds even if not all events were sent.
    #[arg(long, default_value_t = 120.0)]
    time_limit_s: f64,
    /// Give up waiting for the worker to drain the inbox after this many seconds.
    #[arg(long, default_value_t = 600.0)]
    drain_limit_s: f64,
    /// Skip the end-to-end part (do not wait for the worker to drain the inbox).
    #[arg(long)]
    no_drain: bool,
    /// In-process only: seed no contacts and send events for ids the emulator does not have,
    /// so the worker's reads come back empty and no sagas are created. Isolates the intake
    /// from the worker's and executor's CPU use (they still run, with little to do).
    #[arg(long)]
    intake_only: bool,
    /// Load a running daemon at this base URL (must be on 127.0.0.1) instead of starting one.
    #[arg(long, requires = "secret")]
    target: Option<url::Url>,
    /// The HubSpot app client secret the target daemon verifies with (never printed).
    #[arg(long, env = "HANDOFF_LOAD_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// The target's configured `public_url`, which signatures cover (default: `--target`).
    #[arg(long)]
    public_url: Option<url::Url>,
}

/// What one sender saw.
#[derive(Default)]
struct SenderStats {
    latencies_us: Vec<u64>,
    ok_events: u64,
    ok_requests: u64,
    /// HTTP status (or 0 for a transport error) → count of requests.
    errors: BTreeMap<u16, u64>,
}

/// Latency percentiles of the requests, in ms.
#[derive(Debug, Serialize)]
struct Latency {
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

/// The JSON summary printed at the end.
#[derive(Debug, Serialize)]
struct Summary {
    mode: &'static str,
    events_requested: u64,
    batch: u64,
    concurrency: usize,
    events_sent: u64,
    events_acknowledged: u64,
    requests_acknowledged: u64,
    /// HTTP status → requests; `0` is a transport error.
    errors: BTreeMap<u16, u64>,
    intake_seconds: f64,
    events_per_second: f64,
    requests_per_second: f64,
    latency: Latency,
    /// Group commits during the intake window (every flush in the daemon, including the
    /// worker's and executor's, which run at the same time).
    flushes: u64,
    events_per_flush: f64,
    /// Seconds from the first request until the worker had taken every acknowledged event
    /// out of the inbox (decided into sagas, nurture or nothing); `None` if not measured.
    drain_seconds: Option<f64>,
    /// Acknowledged events / drain seconds.
    end_to_end_events_per_second: Option<f64>,
    /// Sagas (outbox + done) existing when the inbox was drained.
    sagas_at_drain: Option<usize>,
    /// Sagas whose every step had taken effect when the inbox was drained.
    completed_sagas_at_drain: Option<usize>,
    dead_letters_at_drain: Option<usize>,
}

/// A daemon to load: where to post, what to sign, where to read metrics and status.
struct Target {
    webhook_url: url::Url,
    signed_uri: String,
    metrics_url: url::Url,
    secret: String,
    admin: Option<AdminClient>,
    /// HubSpot contact ids to use as objectIds, one per event (in-process mode).
    contact_ids: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.batch == 0 || args.batch > 100 {
        bail!("--batch must be between 1 and 100");
    }
    if args.concurrency == 0 || args.events == 0 {
        bail!("--concurrency and --events must be at least 1");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let mut in_process = None;
    let target = match &args.target {
        Some(url) => {
            let host = url.host_str().unwrap_or("");
            if host != "127.0.0.1" && host != "localhost" {
                bail!("--target must be on 127.0.0.1 (this generator only loads loopback)");
            }
            let public = args.public_url.clone().unwrap_or_else(|| url.clone());
            Target {
                webhook_url: url.join("webhooks/hubspot")?,
                signed_uri: signed_uri(&public),
                metrics_url: url.join("metrics")?,
                secret: args
                    .secret
                    .clone()
                    .context("--secret is required with --target")?,
                admin: None,
                contact_ids: Vec::new(),
            }
        }
        None => {
            let contacts = if args.intake_only { 0 } else { args.events };
            let (daemon, target) = start_in_process(contacts).await?;
            in_process = Some(daemon);
            target
        }
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(30))
        .build()?;
    let before = scrape(&client, &target.metrics_url).await?;
    let processed_before = metric(&before, "handoff_changes_processed_total");

    let target = Arc::new(target);
    let next = Arc::new(AtomicU64::new(0));
    let run_id = handoff_connector::now_ms() as u64 * 1000;
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.time_limit_s);
    let mut senders = Vec::new();
    for _ in 0..args.concurrency {
        senders.push(tokio::spawn(sender(
            client.clone(),
            target.clone(),
            next.clone(),
            args.events,
            args.batch,
            run_id,
            deadline,
        )));
    }
    let mut stats = SenderStats::default();
    for s in senders {
        let s = s.await.context("sender panicked")?;
        stats.latencies_us.extend(s.latencies_us);
        stats.ok_events += s.ok_events;
        stats.ok_requests += s.ok_requests;
        for (k, v) in s.errors {
            *stats.errors.entry(k).or_default() += v;
        }
    }
    let intake = started.elapsed().as_secs_f64();
    let after = scrape(&client, &target.metrics_url).await?;
    let flushes = metric(&after, "handoff_state_flushes_total")
        - metric(&before, "handoff_state_flushes_total");
    let sent = next.load(Ordering::SeqCst).min(args.events);

    let mut summary = Summary {
        mode: match (&in_process, args.intake_only) {
            (None, _) => "target",
            (Some(_), false) => "in-process",
            (Some(_), true) => "in-process, intake only",
        },
        events_requested: args.events,
        batch: args.batch,
        concurrency: args.concurrency,
        events_sent: sent,
        events_acknowledged: stats.ok_events,
        requests_acknowledged: stats.ok_requests,
        errors: stats.errors,
        intake_seconds: round(intake, 3),
        events_per_second: round(stats.ok_events as f64 / intake, 1),
        requests_per_second: round(stats.ok_requests as f64 / intake, 1),
        latency: percentiles(&mut stats.latencies_us),
        flushes: flushes as u64,
        events_per_flush: round(stats.ok_events as f64 / flushes.max(1.0), 1),
        drain_seconds: None,
        end_to_end_events_per_second: None,
        sagas_at_drain: None,
        completed_sagas_at_drain: None,
        dead_letters_at_drain: None,
    };
    eprintln!(
        "intake: {} events acknowledged in {:.2} s ({:.0} events/s), p99 {:.1} ms, {} flushes",
        summary.events_acknowledged,
        intake,
        summary.events_per_second,
        summary.latency.p99_ms,
        summary.flushes
    );

    if let (Some(admin), false) = (&target.admin, args.no_drain) {
        let limit = Duration::from_secs_f64(args.drain_limit_s);
        let goal = processed_before + stats.ok_events as f64;
        loop {
            let m = scrape(&client, &target.metrics_url).await?;
            if metric(&m, "handoff_changes_processed_total") >= goal {
                let status = admin.status().await?;
                if status.inbox_depth == 0 {
                    let drain = started.elapsed().as_secs_f64();
                    summary.drain_seconds = Some(round(drain, 3));
                    summary.end_to_end_events_per_second =
                        Some(round(stats.ok_events as f64 / drain, 1));
                    summary.sagas_at_drain = Some(status.outbox_depth + status.completed_sagas);
                    summary.completed_sagas_at_drain = Some(status.completed_sagas);
                    summary.dead_letters_at_drain = Some(status.dead_letters);
                    break;
                }
            }
            if started.elapsed() > limit {
                eprintln!("the inbox was not drained within {limit:?}");
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if let Some(d) = summary.drain_seconds {
            eprintln!("end to end: inbox drained {d:.2} s after the first request");
        }
    }

    if let Some(daemon) = in_process {
        daemon.stop().await?;
    }
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}

/// One sender: claims `batch` event numbers at a time until all are sent or time is up.
async fn sender(
    client: reqwest::Client,
    target: Arc<Target>,
    next: Arc<AtomicU64>,
    total: u64,
    batch: u64,
    run_id: u64,
    deadline: Instant,
) -> SenderStats {
    let mut stats = SenderStats::default();
    let base_ms = handoff_connector::now_ms() - total as i64;
    let mut body = String::with_capacity(batch as usize * 220);
    while Instant::now() < deadline {
        let start = next.fetch_add(batch, Ordering::SeqCst);
        if start >= total {
            break;
        }
        let end = (start + batch).min(total);
        body.clear();
        body.push('[');
        for i in start..end {
            if i > start {
                body.push(',');
            }
            let object_id = target
                .contact_ids
                .get(i as usize)
                .cloned()
                .unwrap_or_else(|| (9_000_000_000 + i).to_string());
            body.push_str(&format!(
                r#"{{"eventId":{},"subscriptionId":1,"portalId":62515,"appId":54321,"occurredAt":{},"subscriptionType":"contact.creation","attemptNumber":0,"objectId":{},"changeSource":"CRM","changeFlag":"NEW"}}"#,
                run_id + i,
                base_ms + i as i64,
                object_id
            ));
        }
        body.push(']');
        let ts = handoff_connector::now_ms();
        let signature = handoff_hubspot::sign_v3(
            &target.secret,
            "POST",
            &target.signed_uri,
            body.as_bytes(),
            ts,
        );
        let t0 = Instant::now();
        let result = client
            .post(target.webhook_url.clone())
            .header("content-type", "application/json")
            .header("x-hubspot-signature-v3", signature)
            .header("x-hubspot-request-timestamp", ts.to_string())
            .body(body.clone())
            .send()
            .await;
        let status = match result {
            Ok(resp) => {
                let s = resp.status().as_u16();
                let _ = resp.bytes().await;
                s
            }
            Err(_) => 0,
        };
        stats.latencies_us.push(t0.elapsed().as_micros() as u64);
        if status == 200 {
            stats.ok_events += end - start;
            stats.ok_requests += 1;
        } else {
            *stats.errors.entry(status).or_default() += 1;
        }
    }
    stats
}

/// The URI HubSpot signs: the public base URL without its trailing slash + the webhook path.
fn signed_uri(public: &url::Url) -> String {
    format!("{}/webhooks/hubspot", public.as_str().trim_end_matches('/'))
}

fn percentiles(us: &mut [u64]) -> Latency {
    us.sort_unstable();
    let at = |q: f64| -> f64 {
        if us.is_empty() {
            return 0.0;
        }
        let i = ((us.len() as f64 * q).ceil() as usize).clamp(1, us.len()) - 1;
        round(us[i] as f64 / 1000.0, 2)
    };
    Latency {
        p50_ms: at(0.50),
        p90_ms: at(0.90),
        p99_ms: at(0.99),
        max_ms: at(1.0),
    }
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

async fn scrape(client: &reqwest::Client, url: &url::Url) -> anyhow::Result<String> {
    let resp = client.get(url.clone()).send().await?.error_for_status()?;
    Ok(resp.text().await?)
}

/// The sum of every series of `name` in Prometheus text (0 when absent).
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            if !(rest.starts_with(' ') || rest.starts_with('{')) {
                return None;
            }
            l.rsplit(' ').next()?.parse::<f64>().ok()
        })
        .sum()
}

/// The daemon and emulators running in this process.
struct InProcess {
    stop_daemon: CancellationToken,
    emulators: CancellationToken,
    daemon_task: tokio::task::JoinHandle<Result<(), daemon::DaemonError>>,
    _state: tempfile::TempDir,
}

impl InProcess {
    async fn stop(self) -> anyhow::Result<()> {
        self.stop_daemon.cancel();
        self.daemon_task.await.context("daemon task panicked")??;
        self.emulators.cancel();
        Ok(())
    }
}

/// An MQL contact for event `i`, built from the sandbox's customers with a unique email.
fn contact(data: &Dataset, i: u64) -> Map<String, Value> {
    let c = &data.customers[i as usize % data.customers.len()];
    let mut p = Map::new();
    let email = format!("load{i}.{}", c.email);
    for (k, v) in [
        ("email", email.as_str()),
        ("firstname", c.first_name.as_str()),
        ("lastname", c.last_name.as_str()),
        ("company", c.company.as_str()),
        ("website", c.website.as_str()),
        ("city", c.city.as_str()),
        ("country", c.country.as_str()),
        ("phone", c.phone_1.as_str()),
        ("lifecyclestage", "marketingqualifiedlead"),
        ("hs_legal_basis", "Legitimate interest – prospect/lead"),
    ] {
        if !v.is_empty() {
            p.insert(k.into(), json!(v));
        }
    }
    p
}

/// Starts the emulators (rate limits off, sandbox seed, `contacts` MQL contacts) and the
/// daemon with the sandbox config; returns once `/readyz` answers 200.
async fn start_in_process(contacts: u64) -> anyhow::Result<(InProcess, Target)> {
    let data = Dataset::embedded()?;
    let mut loaded = sandbox::bundled_config()?;
    handoff::daemon::telemetry::init_logs(&loaded.config.log);
    let state = tempfile::TempDir::new()?;
    let public = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let daemon_url: url::Url = format!("http://{}/", public.local_addr()?).parse()?;
    let admin_addr: SocketAddr = admin.local_addr()?;

    let emulators = CancellationToken::new();
    // No webhook delivery from HubSpot: the only webhooks the daemon gets are this generator's.
    let options = LocalOptions {
        strict_limits: false,
        hubspot_webhooks: false,
    };
    let handoff::config::CrmSection::HubSpot(section) = &loaded.config.crm else {
        anyhow::bail!("the bundled sandbox config names HubSpot as its CRM");
    };
    let hubspot_crm =
        Arc::new(HubSpotSandbox::start(section, &daemon_url, options, emulators.clone()).await?);
    let local = LocalVendors::with_crm(
        hubspot_crm.clone(),
        &loaded.config,
        &daemon_url,
        options,
        emulators.clone(),
    )
    .await?;
    let hubspot = hubspot_crm.emulator();
    seed::seed(&data, local.crm.as_ref(), &local.slack, &local.asana);
    let seeding = Instant::now();
    let contact_ids: Vec<String> = (0..contacts)
        .map(|i| hubspot.create_object("contacts", contact(&data, i)))
        .collect();
    eprintln!(
        "seeded {} contacts in {:.1} s",
        contact_ids.len(),
        seeding.elapsed().as_secs_f64()
    );

    loaded.config.public_url = daemon_url.clone();
    loaded.config.state_dir = state.path().join("handoff");
    // Contacts reach the daemon through this generator's webhooks only, not the poller.
    let handoff::config::CrmSection::HubSpot(crm) = &mut loaded.config.crm else {
        anyhow::bail!("the bundled sandbox config names HubSpot as its CRM");
    };
    for source in &mut crm.changes {
        if let handoff_connector::ChangeSource::Poll(poll) = source {
            poll.objects = vec!["companies".into()];
        }
    }
    let secret = hubspot_crm.client_secret();
    local.configure(&mut loaded.config, state.path())?;
    let vendors = vendors::from_config(&loaded)?;
    let stop_daemon = CancellationToken::new();
    let daemon_task = tokio::spawn(daemon::run(
        loaded,
        vendors,
        Listeners { public, admin },
        stop_daemon.clone(),
    ));
    wait_ready(&daemon_url).await?;
    let target = Target {
        webhook_url: daemon_url.join("webhooks/hubspot")?,
        signed_uri: signed_uri(&daemon_url),
        metrics_url: daemon_url.join("metrics")?,
        secret,
        admin: Some(AdminClient::new(admin_addr, PathBuf::new())),
        contact_ids,
    };
    Ok((
        InProcess {
            stop_daemon,
            emulators,
            daemon_task,
            _state: state,
        },
        target,
    ))
}
