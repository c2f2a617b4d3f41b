//! `rebound bench reload`: config reload latency (parse → observers notified) and the read
//! throughput of the config handle while reloads run at a fixed rate, against the same
//! readers with no reloads (the baseline, measured in the same run).

use super::stats::{figure, median, percentile};
use crate::config::reload::{ReloadManager, ReloadRequest, ReloadResult, Trigger};
use crate::config::{Config, ConfigHandle, ConfigObserver, Observers, load};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Parameters of one benchmark run.
#[derive(Debug, Clone)]
pub struct ReloadBench {
    /// Reloads timed for the latency figures.
    pub reloads: usize,
    /// Reader threads hammering the config handle.
    pub readers: usize,
    /// Reload rate during the loaded phase.
    pub reloads_per_second: u32,
    /// Length of each throughput phase.
    pub phase: Duration,
    /// Phases per mode; the median is reported.
    pub repeats: usize,
}

impl ReloadBench {
    pub fn smoke() -> Self {
        Self {
            reloads: 50,
            readers: 1,
            reloads_per_second: 100,
            phase: Duration::from_millis(200),
            repeats: 1,
        }
    }
}

/// What a real deployment's observers do on a reload: read the new values they own.
struct ComponentObserver(&'static str, AtomicU64);

impl ConfigObserver for ComponentObserver {
    fn name(&self) -> &'static str {
        self.0
    }

    fn apply(&self, _old: &Config, new: &Config) -> Result<(), String> {
        self.1.fetch_add(new.server.drain_timeout.as_millis() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// A realistic file: the shipped annotated config with the variable part appended.
fn content(variant: usize) -> String {
    let base = include_str!("../../deploy/config/rebound.toml");
    base.replace("drain_timeout = \"30s\"", &format!("drain_timeout = \"{}s\"", 20 + variant % 2))
}

pub async fn run(params: ReloadBench) -> Result<(), crate::error::Error> {
    let store = crate::store::open("sqlite::memory:").await?;
    let loaded = load(None, []).map_err(|e| crate::error::Error::Internal(e.to_string()))?;
    let observers = Observers::default();
    for name in ["telemetry.log_level", "scheduler", "safety", "mqtt"] {
        observers.register(Arc::new(ComponentObserver(name, AtomicU64::new(0))));
    }
    let manager =
        Arc::new(ReloadManager::new(ConfigHandle::new(loaded), observers, store, None, Vec::new()));

    // 1. Latency, parse → notify (the manager's own measurement), and end to end with the
    //    event stored.
    let mut parse_to_notify = Vec::with_capacity(params.reloads);
    let mut end_to_end = Vec::with_capacity(params.reloads);
    for i in 0..params.reloads {
        let started = Instant::now();
        let event = manager.reload(request(i)).await?;
        end_to_end.push(started.elapsed());
        if event.result != ReloadResult::Success {
            return Err(crate::error::Error::Internal(format!(
                "reload {i} was {:?}",
                event.result
            )));
        }
        parse_to_notify.push(event.duration);
    }

    // 2. Read throughput, without and with reloads, alternating phases.
    let (mut quiet, mut loaded_rates, mut reloads_done) = (Vec::new(), Vec::new(), 0usize);
    for _ in 0..params.repeats {
        quiet.push(read_phase(&manager, &params, false, &mut reloads_done).await);
        loaded_rates.push(read_phase(&manager, &params, true, &mut reloads_done).await);
    }
    let (quiet, loaded) = (median(&mut quiet), median(&mut loaded_rates));
    let ratio = if quiet > 0.0 { loaded / quiet } else { 0.0 };

    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let p50 = percentile(&mut parse_to_notify, 50);
    let p99 = percentile(&mut parse_to_notify, 99);
    let e50 = percentile(&mut end_to_end, 50);
    let e99 = percentile(&mut end_to_end, 99);
    figure("reload_parse_to_notify_p50", us(p50), "us");
    figure("reload_parse_to_notify_p99", us(p99), "us");
    figure("reload_with_store_write_p50", us(e50), "us");
    figure("reload_with_store_write_p99", us(e99), "us");
    figure("config_reads_per_s_no_reloads", quiet, "reads/s");
    figure("config_reads_per_s_during_reloads", loaded, "reads/s");
    figure("config_read_throughput_ratio", ratio, "ratio");
    println!();
    println!("| figure | value |");
    println!("|---|---|");
    println!("| reloads timed | {} |", params.reloads);
    println!("| parse→notify p50 / p99 | {:.1} µs / {:.1} µs |", us(p50), us(p99));
    println!("| with the event stored p50 / p99 | {:.1} µs / {:.1} µs |", us(e50), us(e99));
    println!("| handle reads/s, {} reader(s), no reloads | {quiet:.0} |", params.readers);
    println!("| handle reads/s during {} reloads/s | {loaded:.0} |", params.reloads_per_second);
    println!("| ratio (target ≥ 0.9) | {ratio:.3} |");
    println!("| reloads during loaded phases | {reloads_done} |");
    Ok(())
}

fn request(i: usize) -> ReloadRequest {
    ReloadRequest { content: Some(content(i)), ..ReloadRequest::from_file(Trigger::Rpc, "bench") }
}

/// Reads per second over one phase, with reloads at the configured rate when `reloading`.
async fn read_phase(
    manager: &Arc<ReloadManager>,
    params: &ReloadBench,
    reloading: bool,
    reloads: &mut usize,
) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..params.readers)
        .map(|_| {
            let handle = manager.handle().clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut reads = 0u64;
                let mut checksum = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let current = handle.load();
                    checksum =
                        checksum.wrapping_add(
                            current.loaded.config.server.drain_timeout.as_millis() as u64,
                        );
                    reads += 1;
                }
                std::hint::black_box(checksum);
                reads
            })
        })
        .collect();
    let started = Instant::now();
    if reloading {
        let mut ticker = tokio::time::interval(Duration::from_secs(1) / params.reloads_per_second);
        while started.elapsed() < params.phase {
            ticker.tick().await;
            let _ = manager.reload(request(*reloads)).await;
            *reloads += 1;
        }
    } else {
        tokio::time::sleep(params.phase).await;
    }
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let reads: u64 = threads.into_iter().map(|t| t.join().unwrap_or(0)).sum();
    reads as f64 / elapsed
}
