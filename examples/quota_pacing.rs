//! How much of HubSpot's ten-second quota a busy client uses, and how many 429s it draws, with
//! and without pacing from the quota headers ([`handoff_connector::pacing`]), against the
//! HubSpot emulator's fixed and sliding windows.
//!
//! `--callers C` tasks call `GET /crm/v3/objects/contacts/{id}` back to back for `--seconds`
//! through the shared [`VendorClient`], whose local budget is set at the quota itself (as the
//! config's `rate` does: 190 per 10 s), so without pacing only the local budget and the 429s
//! shape the traffic. It prints one JSON line per run: requests answered 200 in each whole
//! window since the start (`per_window`), 429s served, and the share of the quota used in the
//! whole windows (`mean(per_window) / limit`).
//!
//! ```text
//! cargo run --release --example quota_pacing -- --seconds 60 --callers 16
//! ```

use clap::Parser;
use handoff_connector::pacing::WindowPacer;
use handoff_connector::{ClientConfig, VendorClient, VendorHooks};
use handoff_hubspot::emulator::{EmulatorConfig, HubSpotEmulator};
use reqwest::Method;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
struct Args {
    /// How long each run calls, s.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Concurrent callers.
    #[arg(long, default_value_t = 16)]
    callers: usize,
    /// The quota's window, ms (HubSpot: 10,000).
    #[arg(long, default_value_t = 10_000)]
    window_ms: u64,
    /// Requests per window (HubSpot private apps: 190).
    #[arg(long, default_value_t = 190)]
    limit: u32,
}

struct Paced(WindowPacer);

impl VendorHooks for Paced {
    fn pacer(&self) -> Option<&WindowPacer> {
        Some(&self.0)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    for sliding in [false, true] {
        for paced in [false, true] {
            run(&args, sliding, paced).await?;
        }
    }
    Ok(())
}

async fn run(args: &Args, sliding: bool, paced: bool) -> anyhow::Result<()> {
    let window = Duration::from_millis(args.window_ms);
    let emu = HubSpotEmulator::new(EmulatorConfig {
        ten_second_limit: args.limit,
        ten_second_window: window,
        sliding_window: sliding,
        ..EmulatorConfig::default()
    });
    let stop = CancellationToken::new();
    let running = emu.start("127.0.0.1:0".parse()?, stop.clone()).await?;
    let id = emu.create_object(
        "contacts",
        json!({"email": "quota@example.com"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );
    let mut config = ClientConfig::new(running.base_url(), emu.config().token.clone().into());
    config.requests_per_window = args.limit;
    config.window = window;
    config.max_retries = 1_000;
    let mut client = VendorClient::new("hubspot", config)?;
    if paced {
        client = client.with_hooks(Arc::new(Paced(WindowPacer::new(
            handoff_hubspot::client::TEN_SECOND_QUOTA,
        ))));
    }
    let start = Instant::now();
    let ok = Arc::new(AtomicU64::new(0));
    let done_at = Arc::new(std::sync::Mutex::new(Vec::<Duration>::new()));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for _ in 0..args.callers {
        let (client, ok, path, done_at) = (
            client.clone(),
            ok.clone(),
            format!("crm/v3/objects/contacts/{id}"),
            done_at.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let r: Result<serde_json::Value, _> =
                    client.json(Method::GET, &path, None::<&()>).await;
                if r.is_ok() {
                    ok.fetch_add(1, Ordering::Relaxed);
                    done_at
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(start.elapsed());
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let ok = ok.load(Ordering::Relaxed);
    let whole = (elapsed / window.as_secs_f64()).floor() as usize;
    let mut per_window = vec![0u64; whole];
    for t in done_at.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        let k = (t.as_secs_f64() / window.as_secs_f64()) as usize;
        if k < whole {
            per_window[k] += 1;
        }
    }
    let used =
        per_window.iter().sum::<u64>() as f64 / (whole.max(1) as f64 * f64::from(args.limit));
    println!(
        "{}",
        json!({
            "window": if sliding { "sliding" } else { "fixed" },
            "paced_from_headers": paced,
            "seconds": (elapsed * 10.0).round() / 10.0,
            "ok": ok,
            "per_window": per_window,
            "rate_limited_429": emu.rate_limited_count(),
            "quota_used": (used * 1000.0).round() / 1000.0,
        })
    );
    stop.cancel();
    Ok(())
}
