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
    /// Start-up recovery on a generated database (default: 1,000,000 commands, 100,000
    /// devices) against opening the same database and counting its rows.
    Recovery {
        /// Command rows.
        #[arg(long, default_value_t = 1_000_000)]
        commands: u64,
        /// Device rows.
        #[arg(long, default_value_t = 100_000)]
        devices: u64,
        /// Commands left non-terminal by the "crash" (half of them with timers run out).
        #[arg(long, default_value_t = 50_000)]
        open: u64,
        /// Measurements (fresh copies of the database; medians are reported).
        #[arg(long, default_value_t = 3)]
        repeats: usize,
        /// Only write the generated database to PATH (e.g. to start `rebound serve` on it).
        #[arg(long, value_name = "PATH")]
        generate: Option<std::path::PathBuf>,
        /// Where to measure: a PostgreSQL server (`postgres://USER@HOST:PORT/DB`; the bench
        /// creates and drops its own databases there) or a `sqlite://` source file. Default:
        /// SQLite files in a temp dir.
        #[arg(long, value_name = "URL")]
        store_url: Option<String>,
        /// 20,000 commands, one measurement, to check the benchmark works (CI).
        #[arg(long)]
        smoke: bool,
    },
    /// Device command fan-out: N simulated devices on a real Mosquitto, one rollout to all;
    /// time to all terminal, acks/s and issue→accepted latency, against the broker's raw
    /// publish→subscribe rate for the same messages, and the same messages with no server
    /// behind them (the transport alone). Needs mosquitto and mosquitto_passwd.
    Fanout {
        /// Simulated devices.
        #[arg(long, default_value_t = 1000)]
        devices: usize,
        /// Rollouts measured, each after three baseline runs (medians are reported).
        #[arg(long, default_value_t = 3)]
        repeats: usize,
        /// Server binary; default: this executable (e.g. an older build, to compare).
        #[arg(long)]
        server: Option<std::path::PathBuf>,
        /// The server's store (`store.url`, e.g. `postgres://HOST/DB`): a database that holds
        /// no devices yet. Default: a new SQLite database in a temp directory.
        #[arg(long, value_name = "URL")]
        store_url: Option<String>,
        /// 20 devices, one run, to check the benchmark works (CI).
        #[arg(long)]
        smoke: bool,
    },
    /// Several replicas on one PostgreSQL and one broker (docs/cluster.md). Fan-out: the
    /// rollout of `bench fanout` with 1, 2, 3… replicas, each round started through the next
    /// replica; time to all terminal and acks/s, against the broker's raw rate. Failover: the
    /// leader of 3 replicas killed (kill -9) N times, time until another reports leader; then
    /// SIGTERM handovers.
    /// Needs mosquitto, mosquitto_passwd and a PostgreSQL server.
    Cluster(ClusterArgs),
    /// What consoles watching cost: the server's CPU time per rollout to N simulated devices
    /// with no console open against C consoles following the rollout and the fleet page
    /// through the JSON gateway, and the time until the fleet page's first rows. Needs
    /// mosquitto and mosquitto_passwd.
    Console {
        /// Simulated devices.
        #[arg(long, default_value_t = 10_000)]
        devices: usize,
        /// Consoles watching in the watched arm.
        #[arg(long, default_value_t = 5)]
        consoles: usize,
        /// Rollouts per arm, alternating (medians are reported).
        #[arg(long, default_value_t = 3)]
        repeats: usize,
        /// Server binary; default: this executable.
        #[arg(long)]
        server: Option<std::path::PathBuf>,
        /// 20 devices, 2 consoles, one rollout per arm, to check the benchmark works (CI).
        #[arg(long)]
        smoke: bool,
    },
    /// Resident memory of a real server idle, with N devices registered, and with one open
    /// command per device. Needs mosquitto and mosquitto_passwd.
    Memory {
        /// Devices registered (through their health messages); at most 100,000, the shipped
        /// broker's queue for the server's session.
        #[arg(long, default_value_t = 100_000)]
        devices: usize,
        /// 200 devices, to check the benchmark works (CI).
        #[arg(long)]
        smoke: bool,
    },
    /// Failed RPCs, restart time and latency across hot restarts under closed-loop load
    /// (a separate server process), against the same load across plain stop/start restarts.
    Restart {
        /// Hot restarts, and as many stop/start restarts for the baseline.
        #[arg(long, default_value_t = 100)]
        restarts: usize,
        /// Closed-loop clients, one connection each.
        #[arg(long, default_value_t = 4)]
        clients: usize,
        /// Restart in EXEC mode instead of HANDOVER.
        #[arg(long)]
        exec: bool,
        /// Server binary; default: this executable.
        #[arg(long)]
        server: Option<std::path::PathBuf>,
        /// 3 restarts with 2 clients, to check the benchmark works (CI).
        #[arg(long)]
        smoke: bool,
    },
}

/// `rebound bench cluster`'s flags.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// Simulated devices of the fan-out phase.
    #[arg(long, default_value_t = 1000)]
    devices: usize,
    /// Replica counts of the fan-out phase, comma-separated, measured in this order
    /// (a fresh database and broker for each).
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    replicas: Vec<usize>,
    /// Kills of the leader (kill -9) in the failover phase; the killed replica is started
    /// again each time, so 3 replicas run throughout.
    #[arg(long, default_value_t = 20)]
    kills: usize,
    /// Graceful stops (SIGTERM) of the leader after the kills: the handover time.
    #[arg(long, default_value_t = 5)]
    handovers: usize,
    /// `cluster.lease_ttl` of every replica (`lease_renew` is a quarter of it); a crashed
    /// leader's lease runs out after it, so it sets the failover time.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    lease_ttl: Duration,
    /// The PostgreSQL server (required): its maintenance URL,
    /// `postgres://USER@HOST:PORT/postgres`. The bench creates a fresh database there for
    /// each replica count and for the failover phase, and drops them at the end.
    #[arg(long, value_name = "URL")]
    store_url: Option<String>,
    /// Rollouts per replica count, each after three baseline runs (medians are
    /// reported).
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Binary every replica runs (`rebound serve`); default: this executable.
    #[arg(long, value_name = "PATH")]
    server: Option<std::path::PathBuf>,
    /// 50 devices, replicas 1,2, one round, 2 kills, 1 handover, to check the benchmark
    /// works (CI; still needs --store-url).
    #[arg(long)]
    smoke: bool,
}

impl ClusterArgs {
    fn params(self) -> bench::cluster::ClusterBench {
        if self.smoke {
            let smoke = bench::cluster::ClusterBench::smoke(self.store_url);
            return bench::cluster::ClusterBench { server: self.server, ..smoke };
        }
        bench::cluster::ClusterBench {
            devices: self.devices,
            replicas: self.replicas,
            kills: self.kills,
            handovers: self.handovers,
            lease_ttl: self.lease_ttl,
            store_url: self.store_url,
            repeats: self.repeats,
            server: self.server,
        }
    }
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
        BenchCommand::Recovery { commands, devices, open, repeats, generate, store_url, smoke } => {
            let params = if smoke {
                bench::recovery::RecoveryBench {
                    generate,
                    store_url,
                    ..bench::recovery::RecoveryBench::smoke()
                }
            } else {
                bench::recovery::RecoveryBench {
                    commands,
                    devices,
                    open,
                    repeats,
                    generate,
                    store_url,
                }
            };
            bench::recovery::run(params).await
        }
        BenchCommand::Fanout { devices, repeats, server, store_url, smoke } => {
            let params = if smoke {
                bench::fanout::FanoutBench {
                    server,
                    store_url,
                    ..bench::fanout::FanoutBench::smoke()
                }
            } else {
                bench::fanout::FanoutBench { devices, repeats, server, store_url }
            };
            bench::fanout::run(params).await
        }
        BenchCommand::Cluster(args) => bench::cluster::run(args.params()).await,
        BenchCommand::Console { devices, consoles, repeats, server, smoke } => {
            let params = if smoke {
                bench::console::ConsoleBench { server, ..bench::console::ConsoleBench::smoke() }
            } else {
                bench::console::ConsoleBench { devices, consoles, repeats, server }
            };
            bench::console::run(params).await
        }
        BenchCommand::Memory { devices, smoke } => {
            let params = if smoke {
                bench::memory::MemoryBench::smoke()
            } else {
                bench::memory::MemoryBench { devices }
            };
            bench::memory::run(params).await
        }
        BenchCommand::Restart { restarts, clients, exec, server, smoke } => {
            let params = if smoke {
                bench::restart::RestartBench {
                    exec,
                    server,
                    ..bench::restart::RestartBench::smoke()
                }
            } else {
                bench::restart::RestartBench {
                    restarts: restarts.max(1),
                    clients: clients.max(1),
                    exec,
                    server,
                }
            };
            bench::restart::run(params).await.map_err(crate::error::Error::Internal)
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
