//! The `handoff` command: parses the command line and hands off to the library.
//!
//! Exit codes: 0 success, 1 runtime failure, 64 bad configuration or mapping, or emulator
//! options that do not fit the vendor (nothing was started).

use anyhow::Context;
use clap::{Parser, Subcommand};
use handoff::config::{self, ConfigError};
use std::path::PathBuf;
use std::process::ExitCode;

/// Moves leads and customers between HubSpot, Slack and Asana without losing them.
#[derive(Parser)]
#[command(name = "handoff", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon (the systemd service).
    Run {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Check the config and every mapping; exit 64 with file:line:column on the first error.
    Validate {
        #[command(flatten)]
        config: ConfigArg,
        /// Also resolve secrets (environment variables, credential files).
        #[arg(long)]
        secrets: bool,
    },
    /// Apply one mapping to one record and print the mapped record and every gate result.
    Map {
        #[arg(long)]
        mapping: PathBuf,
        /// A JSON record as the vendor returns it (`{"id": ..., "properties": {...}}`).
        #[arg(long)]
        input: PathBuf,
    },
    /// Reload the running daemon's configuration (as `systemctl reload handoff`): mappings,
    /// routing rules, templates; prints the live version, or the error (exit 1) while the
    /// running configuration stays.
    Reload {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Read the CRM change feeds again for a past window and run the flows on what they hold;
    /// effects already applied are skipped. `--dry-run` lists what would happen.
    Replay {
        /// Window start, RFC 3339 (`2026-11-30T08:00:00Z`).
        #[arg(long)]
        from: String,
        /// Window end, RFC 3339.
        #[arg(long)]
        to: String,
        /// Only this object (`contacts`, `Lead`).
        #[arg(long)]
        object: Option<String>,
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Cursors, inbox and outbox depth, dead letters.
    Status {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        json: bool,
    },
    /// What happened to a record and why (`hubspot:contacts:42` or a bare id).
    Audit {
        record: String,
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        json: bool,
    },
    /// List or replay dead letters.
    DeadLetters {
        #[command(subcommand)]
        action: DeadLetterAction,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Route one lead offline with a rule set and show every rule evaluated and why; or, with
    /// `--record`, show why a live lead got its owner (or was deferred), from the audit trail.
    Explain {
        /// A live record (`hubspot:contacts:42`, as `handoff explain hubspot:contacts:42`):
        /// print the explanation stored with its latest `routed` or `deferred` audit entry
        /// (read through the admin API, like `audit`).
        #[arg(conflicts_with_all = ["rules", "input", "mapping", "at", "record"])]
        record_id: Option<String>,
        /// Routing rules (see `examples/routing.yaml`); default: the config's
        /// `lead_handoff.rules`.
        #[arg(long)]
        rules: Option<PathBuf>,
        /// A mapped lead, or a HubSpot contact (`{"id", "properties"}`) with `--mapping`.
        #[arg(long, required_unless_present_any = ["record", "record_id"])]
        input: Option<PathBuf>,
        /// The same as the positional record id.
        #[arg(long, conflicts_with_all = ["rules", "input", "mapping", "at"])]
        record: Option<String>,
        #[command(flatten)]
        config: ConfigArg,
        /// The lead mapping to apply to a raw contact first (its gates are reported too).
        #[arg(long)]
        mapping: Option<PathBuf>,
        /// The moment to route at, RFC 3339 UTC (default: now); business hours depend on it.
        #[arg(long)]
        at: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Route historical leads offline with one or two rule sets (no writes anywhere) and report
    /// the distribution per rep and team, the gate outcomes and the differences.
    Backtest {
        /// Leads as CSV (the datablist customers columns).
        #[arg(long)]
        input: PathBuf,
        /// One or two rule sets; default: the config's `lead_handoff.rules`.
        #[arg(long, num_args = 1)]
        rules: Vec<PathBuf>,
        #[command(flatten)]
        config: ConfigArg,
        /// The lead mapping (its gates decide who is routed).
        #[arg(long, default_value = "mappings/hubspot-contact-to-lead.yaml")]
        mapping: PathBuf,
        /// The moment every lead is routed at, RFC 3339 UTC (default: now).
        #[arg(long)]
        at: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Speed-to-lead p50/p90 per team, SLA met %, acceptance and rejection by reason, handoff
    /// completeness, recycle rate and load per rep (definitions: docs/report.md); optionally a
    /// static HTML page with charts.
    Report {
        #[command(flatten)]
        config: ConfigArg,
        /// A running daemon's admin address (e.g. 127.0.0.1:8081); default: the config's
        /// `admin_listen`, or its `state_dir` when no daemon answers.
        #[arg(long, conflicts_with = "state_dir")]
        admin: Option<std::net::SocketAddr>,
        /// Read a stopped daemon's state directory directly (sled lets one process open it).
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// Count only audit entries at or after this RFC 3339 time (e.g. 2026-03-02T00:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// Write the report as a self-contained HTML page with charts to this file.
        #[arg(long)]
        html: Option<PathBuf>,
        /// Print the figures as JSON (the `GET /admin/report` shape) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Serve one vendor's emulator standalone.
    #[cfg(feature = "emulators")]
    Emulate {
        vendor: handoff::emulate::Vendor,
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        /// Dataset folder to seed from (the sandbox's data layout).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Where to write the emulator's objects as JSON: on shutdown, on SIGUSR1 and (not
        /// Salesforce) on `POST /_emulator/dump`, which answers the files' paths as JSON.
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// HubSpot only: POST signed webhooks for every create and update made through the API
        /// to this URL, as HubSpot does (arrays of up to 100 events, v3 signature, 10 retries
        /// over up to 24 h). Use the URL the receiver is reached at: for handoff, its
        /// `public_url` followed by `webhooks/hubspot`. The Salesforce (Outbound Messages),
        /// Slack and Asana emulators send no webhooks: refused there (exit 64).
        #[arg(long, value_name = "URL")]
        webhook_target: Option<url::Url>,
        /// The HubSpot app's client secret that signs the webhooks (default: the emulator's,
        /// printed at start).
        #[arg(long, value_name = "SECRET", requires = "webhook_target")]
        client_secret: Option<String>,
        /// Multiply the waits of HubSpot's webhook retry schedule by this factor, from 0 to 1
        /// (0.001 runs its 24 hours in about a minute).
        #[arg(long, value_name = "FACTOR", requires = "webhook_target")]
        webhook_retry_scale: Option<f64>,
    },
    /// Run the daemon against in-process emulators seeded with real CRM data.
    #[cfg(feature = "emulators")]
    Sandbox(handoff::sandbox::SandboxArgs),
}

/// `--config FILE` (or `HANDOFF_CONFIG`), shared by every command that reads the config.
#[derive(clap::Args)]
struct ConfigArg {
    /// The daemon's config file.
    #[arg(
        long = "config",
        env = "HANDOFF_CONFIG",
        default_value = "/etc/handoff/handoff.yaml",
        global = true
    )]
    path: PathBuf,
}

#[derive(Subcommand)]
enum DeadLetterAction {
    /// Every dead letter with its reason.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Put a dead letter back to work.
    Replay { id: u64 },
}

/// `println!` that ends quietly when stdout is closed (`handoff map ... | head`) instead of
/// panicking on a broken pipe.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            return Err(e.into());
        }
    }};
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("handoff: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            if let Some(c) = e.downcast_ref::<ConfigError>() {
                eprintln!("handoff: {c}");
                return ExitCode::from(64);
            }
            if let Some(r) = e.downcast_ref::<handoff::routing::RoutingError>() {
                eprintln!("handoff: {r}");
                return ExitCode::from(64);
            }
            eprintln!("handoff: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The explanation stored with the latest `routed` / `deferred` audit entry of `record`:
/// rendered as text when it is a routing-engine explanation, else its detail as pretty JSON.
fn explain_record(
    record: &str,
    report: &handoff::cli_support::AuditReport,
    json: bool,
) -> anyhow::Result<String> {
    let entry = report
        .entries
        .iter()
        .rev()
        .find(|e| e.event == "routed" || e.event == "deferred")
        .with_context(|| format!("{record}: no routing decision in the audit trail"))?;
    let stored = entry.detail.get("explain").cloned();
    if json {
        return Ok(serde_json::to_string_pretty(
            stored.as_ref().unwrap_or(&entry.detail),
        )?);
    }
    let head = format!("{}: {} — {}", entry.record_key, entry.event, entry.message);
    let parsed = stored
        .clone()
        .and_then(|v| serde_json::from_value::<handoff::routing::Explanation>(v).ok());
    let body = match parsed {
        Some(e) => handoff::routing::explain::render_text(&e),
        None => serde_json::to_string_pretty(&entry.detail)?,
    };
    Ok(format!("{head}\n{body}"))
}

/// `--at` as a UTC timestamp, or now.
fn moment(at: Option<&str>) -> anyhow::Result<jiff::Timestamp> {
    match at {
        Some(text) => text.parse().with_context(|| {
            format!("--at {text}: expected an RFC 3339 time such as 2026-11-24T17:00:00Z")
        }),
        None => Ok(jiff::Timestamp::now()),
    }
}

async fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run { config } => {
            let loaded = config::load(&config.path)?;
            handoff::daemon::telemetry::init_logs(&loaded.config.log);
            let vendors = handoff::daemon::vendors::from_config(&loaded)?;
            let listeners = handoff::daemon::Listeners {
                public: tokio::net::TcpListener::bind(loaded.config.listen)
                    .await
                    .with_context(|| format!("cannot bind {}", loaded.config.listen))?,
                admin: tokio::net::TcpListener::bind(loaded.config.admin_listen)
                    .await
                    .with_context(|| format!("cannot bind {}", loaded.config.admin_listen))?,
            };
            let shutdown = tokio_util::sync::CancellationToken::new();
            tokio::spawn(handoff::daemon::signals(shutdown.clone()));
            handoff::daemon::run(loaded, vendors, listeners, shutdown).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { config, secrets } => {
            let loaded = config::load(&config.path)?;
            if secrets {
                handoff::daemon::vendors::from_config(&loaded)?;
            }
            outln!(
                "{}: ok ({} mappings: {})",
                config.path.display(),
                loaded.mappings.len(),
                loaded
                    .mappings
                    .iter()
                    .map(|m| m.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Map { mapping, input } => {
            let m = handoff::mapping::Mapping::load(&mapping).map_err(ConfigError::from)?;
            let text = std::fs::read_to_string(&input)
                .with_context(|| format!("cannot read {}", input.display()))?;
            let record: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", input.display()))?;
            let outcome = m.apply(&record);
            outln!("{}", serde_json::to_string_pretty(&outcome)?);
            Ok(if outcome.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        Command::Reload { config } => {
            let admin = handoff::admin_client::AdminClient::for_config(&config.path)?;
            let v = admin.reload().await?;
            outln!("reloaded: version {} ({} reload(s))", v.version, v.reloads);
            if !v.needs_restart.is_empty() {
                outln!(
                    "changed, applied at the next restart: {}",
                    v.needs_restart.join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay {
            from,
            to,
            object,
            dry_run,
            json,
            config,
        } => {
            let at = |flag: &str, t: &str| {
                t.parse::<jiff::Timestamp>()
                    .map(|t| t.as_millisecond())
                    .map_err(|e| anyhow::anyhow!("--{flag} {t}: expected an RFC 3339 time such as 2026-03-02T00:00:00Z ({e})"))
            };
            let req = handoff::daemon::window_replay::ReplayRequest {
                from_ms: at("from", &from)?,
                to_ms: at("to", &to)?,
                object,
                dry_run,
            };
            let admin = handoff::admin_client::AdminClient::for_config(&config.path)?;
            let report = admin.replay_window(&req).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&report)?);
                return Ok(ExitCode::SUCCESS);
            }
            for (feed, n) in &report.found {
                outln!("{feed}: {n} record(s) modified in the window");
            }
            if report.truncated {
                outln!(
                    "(stopped at {} records: narrow the window)",
                    handoff::daemon::window_replay::MAX_CHANGES
                );
            }
            if dry_run {
                outln!("dry run: {} record(s) would act", report.would_act);
                for r in report
                    .records
                    .iter()
                    .filter(|r| !r.sagas.is_empty() || r.error.is_some())
                {
                    outln!("  {}", r.record);
                    for s in &r.sagas {
                        outln!("    saga {s}");
                    }
                    if let Some(e) = &r.error {
                        outln!("    cannot decide: {e}");
                    }
                }
            } else {
                outln!("{} change(s) replayed", report.enqueued);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { config, json } => {
            let admin = handoff::admin_client::AdminClient::for_config(&config.path)?;
            let status = admin.status().await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                outln!(
                    "{}",
                    handoff::admin_client::render_status(&status).trim_end()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            record,
            config,
            json,
        } => {
            let admin = handoff::admin_client::AdminClient::for_config(&config.path)?;
            let report = admin.audit(&record).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                outln!("{}", handoff::cli_support::render_audit(&report).trim_end());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::DeadLetters { action, config } => {
            let admin = handoff::admin_client::AdminClient::for_config(&config.path)?;
            match action {
                DeadLetterAction::List { json } => {
                    let letters = admin.dead_letters().await?;
                    if json {
                        outln!("{}", serde_json::to_string_pretty(&letters)?);
                    } else if letters.is_empty() {
                        outln!("no dead letters");
                    } else {
                        for l in letters {
                            outln!(
                                "{:>8}  {:<28} attempts {:<3} {}",
                                l.id,
                                l.record_key,
                                l.attempts,
                                l.reason
                            );
                        }
                    }
                }
                DeadLetterAction::Replay { id } => {
                    let l = admin.replay(id).await?;
                    outln!("replayed dead letter {} ({})", l.id, l.record_key);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Explain {
            record_id,
            rules,
            input,
            record,
            config,
            mapping,
            at,
            json,
        } => {
            if let Some(record) = record.or(record_id) {
                let admin = handoff::admin_client::AdminClient::for_config(&config.path)?;
                let report = admin.audit(&record).await?;
                outln!("{}", explain_record(&record, &report, json)?.trim_end());
                return Ok(ExitCode::SUCCESS);
            }
            let Some(input) = input else {
                anyhow::bail!("explain needs --input (and --rules, or a config with lead_handoff.rules), or a record id");
            };
            let rules = match rules {
                Some(path) => handoff::routing::RuleSet::load(&path)?,
                None => handoff::routing::RuleSet::load(&configured_rules(&config.path)?)?,
            };
            let mapping = match mapping {
                Some(m) => Some(handoff::mapping::Mapping::load(&m).map_err(ConfigError::from)?),
                None => None,
            };
            let text = std::fs::read_to_string(&input)
                .with_context(|| format!("cannot read {}", input.display()))?;
            let lead: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", input.display()))?;
            let explanation = handoff::routing::explain_lead(
                &rules,
                &lead,
                mapping.as_ref(),
                &Default::default(),
                &Default::default(),
                moment(at.as_deref())?,
            );
            if json {
                outln!("{}", serde_json::to_string_pretty(&explanation)?);
            } else {
                outln!(
                    "{}",
                    handoff::routing::explain::render_text(&explanation).trim_end()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Backtest {
            input,
            rules,
            config,
            mapping,
            at,
            json,
        } => {
            let rules = if rules.is_empty() {
                vec![configured_rules(&config.path)?]
            } else {
                rules
            };
            let sets = rules
                .iter()
                .map(|r| handoff::routing::RuleSet::load(r))
                .collect::<Result<Vec<_>, _>>()?;
            let mapping = handoff::mapping::Mapping::load(&mapping).map_err(ConfigError::from)?;
            let system = mapping.source().system.clone();
            let as_record = |p: &handoff_connector::Person| config::lead_record(&system, p);
            let report = handoff::routing::backtest::run(
                &sets,
                &input,
                &mapping,
                &as_record,
                moment(at.as_deref())?,
            )?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                outln!(
                    "{}",
                    handoff::routing::backtest::render_text(&report).trim_end()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Report {
            config,
            admin,
            state_dir,
            since,
            html,
            json,
        } => {
            let since = since
                .as_deref()
                .map(|t| {
                    t.parse::<jiff::Timestamp>().with_context(|| {
                        format!(
                            "--since {t}: expected an RFC 3339 time such as 2026-03-02T00:00:00Z"
                        )
                    })
                })
                .transpose()?;
            let report = if let Some(dir) = state_dir {
                handoff::admin_client::report_offline(&dir, since)?
            } else if let Some(addr) = admin {
                handoff::admin_client::AdminClient::new(addr, PathBuf::new())
                    .report_remote(since)
                    .await?
            } else {
                handoff::admin_client::AdminClient::for_config(&config.path)?
                    .report(since)
                    .await?
            };
            if let Some(path) = &html {
                std::fs::write(path, handoff::report::html::render(&report))
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            if json {
                outln!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                outln!("{}", handoff::report::render_text(&report).trim_end());
                if let Some(path) = &html {
                    outln!("\nwrote {}", path.display());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "emulators")]
        Command::Emulate {
            vendor,
            listen,
            data,
            state_dir,
            webhook_target,
            client_secret,
            webhook_retry_scale,
        } => {
            let options = handoff::emulate::Options {
                vendor,
                listen,
                data,
                state_dir,
                webhooks: webhook_target.map(|target| handoff::emulate::WebhookOptions {
                    target,
                    client_secret,
                    retry_scale: webhook_retry_scale.unwrap_or(1.0),
                }),
            };
            if let Err(e) = options.check() {
                eprintln!("handoff: {e}");
                return Ok(ExitCode::from(64));
            }
            handoff::daemon::telemetry::init_logs(&Default::default());
            handoff::emulate::run(options).await?;
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "emulators")]
        Command::Sandbox(args) => {
            let summary = handoff::sandbox::run(args).await?;
            Ok(if summary.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// The rule set file the config names (`lead_handoff.rules`, resolved against the config's
/// folder), for `explain` and `backtest` without `--rules`.
fn configured_rules(config: &std::path::Path) -> anyhow::Result<PathBuf> {
    let loaded = handoff::config::load(config)?;
    loaded
        .config
        .lead_handoff
        .rules
        .map(|r| r.value)
        .with_context(|| {
            format!(
                "{} names no lead_handoff.rules: pass --rules FILE",
                config.display()
            )
        })
}
