//! `rebound fleet-sim`: N simulated devices in this process, each a real `rebound-agent`
//! session (simulated executor, in-memory state), until Ctrl-C. Prints a line of counters
//! every few seconds.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use uuid::Uuid;

use crate::agent::fleet::{Fleet, FleetSpec};
use crate::exit;

/// Environment variable with the devices' broker password.
pub const PASSWORD_ENV: &str = "REBOUND_MQTT_PASSWORD";

#[derive(Debug, Args)]
pub struct FleetSimArgs {
    /// Number of simulated devices.
    #[arg(long, default_value_t = 100)]
    pub devices: usize,
    /// Broker URL (mqtt://host:port).
    #[arg(long)]
    pub broker: String,
    /// One broker account for every device (default: each device logs in as its UUID, as the
    /// shipped ACL expects). The password comes from REBOUND_MQTT_PASSWORD.
    #[arg(long)]
    pub username: Option<String>,
    /// File of device UUIDs, one per line: read when it exists, else written with N new ones
    /// (so a broker password file can be made for them).
    #[arg(long)]
    pub uuid_file: Option<PathBuf>,
    /// Probability (0..=1) that a simulated action fails.
    #[arg(long, default_value_t = 0.0)]
    pub failure_rate: f64,
    /// How long a simulated reboot keeps a device offline.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub reboot_delay: Duration,
    /// How long a simulated action runs.
    #[arg(long, default_value = "100ms", value_parser = humantime::parse_duration)]
    pub run_time: Duration,
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub heartbeat_interval: Duration,
    /// Devices connected per second at start.
    #[arg(long, default_value_t = 1000)]
    pub connect_rate: u32,
    #[arg(long, default_value = "infoscreen")]
    pub topic_prefix: String,
}

/// The UUIDs of `file` (or `count` new ones, then written to it).
pub fn uuids(file: Option<&PathBuf>, count: usize) -> std::io::Result<Vec<Uuid>> {
    let Some(file) = file else { return Ok((0..count).map(|_| Uuid::new_v4()).collect()) };
    if file.exists() {
        let text = std::fs::read_to_string(file)?;
        let parsed: Result<Vec<Uuid>, _> =
            text.lines().map(|l| Uuid::try_parse(l.trim())).collect();
        let mut list =
            parsed.map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        list.truncate(count);
        return Ok(list);
    }
    let list: Vec<Uuid> = (0..count).map(|_| Uuid::new_v4()).collect();
    let text: String = list.iter().map(|u| format!("{u}\n")).collect();
    std::fs::write(file, text)?;
    Ok(list)
}

pub async fn run(args: FleetSimArgs) -> u8 {
    if !(0.0..=1.0).contains(&args.failure_rate) {
        eprintln!("rebound fleet-sim: --failure-rate must be between 0 and 1");
        return exit::USAGE;
    }
    if let Err(e) = crate::contract::broker::BrokerUrl::parse(&args.broker) {
        eprintln!("rebound fleet-sim: --broker: {e}");
        return exit::USAGE;
    }
    let Ok(password) = std::env::var(PASSWORD_ENV) else {
        eprintln!("rebound fleet-sim: set {PASSWORD_ENV} to the devices' broker password");
        return exit::USAGE;
    };
    let uuids = match uuids(args.uuid_file.as_ref(), args.devices) {
        Ok(uuids) => uuids,
        Err(e) => {
            eprintln!("rebound fleet-sim: --uuid-file: {e}");
            return exit::USAGE;
        }
    };
    let spec = FleetSpec {
        broker_url: args.broker,
        username: args.username,
        password,
        topic_prefix: args.topic_prefix,
        heartbeat_interval: args.heartbeat_interval,
        failure_rate: args.failure_rate,
        reboot_delay: args.reboot_delay,
        run_time: args.run_time,
        connect_rate: args.connect_rate,
    };
    let fleet = Fleet::start(&spec, &uuids).await;
    println!("fleet-sim: {} devices started; Ctrl-C stops them", fleet.devices);
    let mut ticker = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = ticker.tick() => println!("{}", fleet.stats.line(fleet.connected())),
        }
    }
    fleet.stop().await;
    exit::OK
}
