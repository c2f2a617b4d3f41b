//! `rebound bench <name>`: run a benchmark and print its figures (release builds only give
//! meaningful numbers).

use crate::bench;
use crate::exit;
use clap::{Args, Subcommand};
use std::time::Duration;

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Config reload latency (parse → notify) and config-handle read throughput during
    /// reloads versus without them.
    Reload {
        /// Reloads timed for the latency figures.
        #[arg(long, default_value_t = 2000)]
        reloads: usize,
        /// Reader threads.
        #[arg(long, default_value_t = 1)]
        readers: usize,
        /// Reload rate during the loaded phases.
        #[arg(long, default_value_t = 100)]
        rate: u32,
        /// Seconds per throughput phase.
        #[arg(long, default_value_t = 2.0)]
        phase_secs: f64,
        /// Phases per mode (the median is reported).
        #[arg(long, default_value_t = 5)]
        repeats: usize,
        /// A few iterations only, to check the benchmark works (CI).
        #[arg(long)]
        smoke: bool,
    },
    /// The cost of the store's durability (synchronous=FULL) against NORMAL and OFF.
    Durability {
        /// Single-row commits per mode.
        #[arg(long, default_value_t = 2000)]
        writes: usize,
    },
}

pub async fn run(args: BenchArgs) -> u8 {
    let result = match args.command {
        BenchCommand::Reload { reloads, readers, rate, phase_secs, repeats, smoke } => {
            let params = if smoke {
                bench::reload::ReloadBench::smoke()
            } else {
                bench::reload::ReloadBench {
                    reloads,
                    readers: readers.max(1),
                    reloads_per_second: rate.max(1),
                    phase: Duration::from_secs_f64(phase_secs.max(0.1)),
                    repeats: repeats.max(1),
                }
            };
            bench::reload::run(params).await
        }
        BenchCommand::Durability { writes } => {
            bench::durability::run(bench::durability::DurabilityBench { writes: writes.max(1) })
                .await
        }
    };
    match result {
        Ok(()) => exit::OK,
        Err(err) => {
            eprintln!("rebound: benchmark failed: {err}");
            exit::FAILURE
        }
    }
}
