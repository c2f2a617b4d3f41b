//! `rebound bench …`: benchmarks as programs (never timed tests). Each prints one
//! machine-readable `name=value unit` line per figure and a human summary, and measures its
//! baseline in the same run. Build with `--release` for figures worth quoting.

mod load;
mod restart;

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub bench: Bench,
}

#[derive(Debug, Subcommand)]
pub enum Bench {
    /// Failed RPCs, restart time and latency across hot restarts under closed-loop load,
    /// against the same load across plain stop/start restarts.
    Restart(restart::RestartBenchArgs),
}

pub async fn run(args: BenchArgs) -> u8 {
    match args.bench {
        Bench::Restart(args) => restart::run(args).await,
    }
}
