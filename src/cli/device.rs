//! `rebound device provision`: give devices their broker accounts and their agent config
//! without a server. For each device it makes a random password, adds `uuid:$7$…` to the
//! Mosquitto password file (hashed; the other lines stay as they are, see [`passwd`]) and
//! renders the shipped `deploy/agent/agent.toml` with the device's UUID, broker URL and
//! paths. The password goes to the device's password file only: never to agent.toml, argv,
//! stdout or a log.

mod passwd;

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use uuid::Uuid;

use crate::agent::config::AgentConfig;
use crate::exit;

/// The shipped agent config, the template of every generated one.
const AGENT_TEMPLATE: &str = include_str!("../../deploy/agent/agent.toml");

#[derive(Debug, Args)]
pub struct DeviceArgs {
    #[command(subcommand)]
    command: DeviceCommand,
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// Add broker accounts for one or more devices to a Mosquitto password file and write
    /// each device's agent.toml and password file (reload Mosquitto afterwards: SIGHUP).
    Provision(ProvisionArgs),
}

#[derive(Debug, Args)]
struct ProvisionArgs {
    /// The broker's password file (mosquitto's password_file), created when missing. Other
    /// accounts are kept byte for byte; all devices are added in one atomic rewrite, or none.
    #[arg(long, value_name = "FILE")]
    passwd_file: PathBuf,
    /// The broker URL the agents connect to: mqtts://host[:port] (or mqtt:// on a trusted
    /// network).
    #[arg(long, value_name = "URL")]
    broker_url: String,
    /// The device's UUID (repeat for several); default: a new random one.
    #[arg(long, value_name = "UUID", value_parser = parse_uuid, conflicts_with = "count")]
    uuid: Vec<Uuid>,
    /// Provision this many new devices with random UUIDs (needs --out-dir).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    count: Option<u32>,
    /// Write OUT_DIR/<uuid>/agent.toml and OUT_DIR/<uuid>/agent.password (0600) per device
    /// and print one `<uuid> <dir>` line each. Without it (one device only) agent.toml goes
    /// to stdout and the password to --password-out.
    #[arg(long, value_name = "DIR", required_unless_present = "password_out")]
    out_dir: Option<PathBuf>,
    /// Where to write the password (0600) when agent.toml goes to stdout.
    #[arg(long, value_name = "FILE", conflicts_with = "out_dir")]
    password_out: Option<PathBuf>,
    /// password_file in the agent's config: where the password will be on the device.
    #[arg(long, value_name = "PATH", default_value = "/etc/rebound/agent.password")]
    device_password_file: String,
    /// ca_file in the agent's config: the broker's CA on the device (mqtts://).
    #[arg(long, value_name = "PATH")]
    ca_file: Option<String>,
    /// topic_prefix in the agent's config (the server's mqtt.topic_prefix).
    #[arg(long, value_name = "PREFIX")]
    topic_prefix: Option<String>,
}

/// A UUID in any form uuid accepts; it is written in the contract's lower-case hyphenated
/// form, which the shipped ACL's `%u` patterns and the server's topics expect.
fn parse_uuid(text: &str) -> Result<Uuid, String> {
    Uuid::parse_str(text).map_err(|_| "not a UUID".to_owned())
}

/// Why nothing (or, for the output files, not everything) was provisioned.
#[derive(Debug, thiserror::Error)]
enum ProvisionError {
    #[error("passwd-file {0}")]
    Passwd(#[from] passwd::PasswdError),
    #[error("agent config: {0}")]
    Agent(String),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("--count or several --uuid need --out-dir")]
    BulkNeedsOutDir,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ProvisionError + '_ {
    move |source| ProvisionError::Io { path: path.display().to_string(), source }
}

pub fn run(args: DeviceArgs) -> u8 {
    let DeviceCommand::Provision(args) = args.command;
    match provision(&args) {
        Ok(()) => exit::OK,
        Err(err @ ProvisionError::BulkNeedsOutDir) => {
            eprintln!("rebound: {err}");
            exit::USAGE
        }
        Err(err) => {
            eprintln!("rebound: {err}");
            exit::FAILURE
        }
    }
}

/// One device to provision.
struct Device {
    uuid: Uuid,
    password: String,
    agent_toml: String,
}

fn provision(args: &ProvisionArgs) -> Result<(), ProvisionError> {
    let uuids = match (args.count, args.uuid.as_slice()) {
        (Some(count), _) => (0..count).map(|_| Uuid::new_v4()).collect(),
        (None, []) => vec![Uuid::new_v4()],
        (None, given) => given.to_vec(),
    };
    if uuids.len() > 1 && args.out_dir.is_none() {
        return Err(ProvisionError::BulkNeedsOutDir);
    }
    let devices = uuids
        .into_iter()
        .map(|uuid| {
            let password = super::auth::random_token().map_err(io(Path::new("/dev/urandom")))?;
            let agent_toml = agent_toml(args, uuid)?;
            Ok(Device { uuid, password, agent_toml })
        })
        .collect::<Result<Vec<_>, ProvisionError>>()?;
    // The device files first, so that no account exists whose password nobody has; should
    // anything then fail (a UUID already taken, a directory that exists), they are removed
    // again and the broker's file is unchanged.
    let mut written = Written(Vec::new());
    let mut dirs = Vec::new();
    if let Some(out_dir) = &args.out_dir {
        for device in &devices {
            dirs.push(write_device_dir(out_dir, device, &mut written)?);
        }
    }
    if let Some(path) = &args.password_out {
        write_secret(path, &devices[0].password)?;
        written.0.push(path.clone());
    }
    let accounts: Vec<(String, String)> =
        devices.iter().map(|d| (d.uuid.to_string(), d.password.clone())).collect();
    passwd::add(&args.passwd_file, &accounts)?;
    written.0.clear();
    if dirs.is_empty() {
        print!("{}", devices[0].agent_toml);
    }
    for (device, dir) in devices.iter().zip(&dirs) {
        println!("{} {}", device.uuid, dir.display());
    }
    Ok(())
}

/// The shipped agent.toml with this device's keys, checked as the agent would load it.
fn agent_toml(args: &ProvisionArgs, uuid: Uuid) -> Result<String, ProvisionError> {
    let quote = |text: &str| toml::Value::from(text).to_string();
    let mut out = String::new();
    for line in AGENT_TEMPLATE.lines() {
        let key = line.split_once(" = ").map_or("", |(key, _)| key);
        let replaced = match (key, &args.ca_file, &args.topic_prefix) {
            ("broker_url", ..) => format!("broker_url = {}", quote(&args.broker_url)),
            ("client_uuid", ..) => format!("client_uuid = {}", quote(&uuid.to_string())),
            ("password_file", ..) => {
                format!("password_file = {}", quote(&args.device_password_file))
            }
            ("# ca_file", Some(ca), _) => format!("ca_file = {}", quote(ca)),
            ("topic_prefix", _, Some(prefix)) => format!("topic_prefix = {}", quote(prefix)),
            _ => line.to_owned(),
        };
        out.push_str(&replaced);
        out.push('\n');
    }
    let config: AgentConfig =
        toml::from_str(&out).map_err(|err| ProvisionError::Agent(err.message().to_owned()))?;
    config.validate().map_err(|err| ProvisionError::Agent(err.to_string()))?;
    Ok(out)
}

/// Files and directories this run made, removed on drop unless the run succeeded (cleared).
struct Written(Vec<PathBuf>);

impl Drop for Written {
    fn drop(&mut self) {
        for path in self.0.drain(..).rev() {
            let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
        }
    }
}

/// OUT_DIR/<uuid>/ (0700, new) with agent.toml and agent.password (0600).
fn write_device_dir(
    out_dir: &Path,
    device: &Device,
    written: &mut Written,
) -> Result<PathBuf, ProvisionError> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(out_dir).map_err(io(out_dir))?;
    let dir = out_dir.join(device.uuid.to_string());
    std::fs::DirBuilder::new().mode(0o700).create(&dir).map_err(io(&dir))?;
    written.0.push(dir.clone());
    let toml = dir.join("agent.toml");
    std::fs::write(&toml, &device.agent_toml).map_err(io(&toml))?;
    write_secret(&dir.join("agent.password"), &device.password)?;
    Ok(dir)
}

/// A new 0600 file holding `password` and a newline; an existing file is not overwritten.
fn write_secret(path: &Path, password: &str) -> Result<(), ProvisionError> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    file.write_all(format!("{password}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: ProvisionArgs,
    }

    fn args(extra: &[&str]) -> ProvisionArgs {
        let base = ["x", "--passwd-file", "p", "--broker-url", "mqtts://broker:8883"];
        Cli::try_parse_from(base.iter().chain(extra)).unwrap().args
    }

    #[test]
    fn agent_toml_is_the_shipped_one_with_this_device() {
        let uuid = Uuid::new_v4();
        let mut args = args(&["--out-dir", "d", "--ca-file", "/etc/rebound/ca.pem"]);
        args.topic_prefix = Some("screens".into());
        let text = agent_toml(&args, uuid).unwrap();
        let config: AgentConfig = toml::from_str(&text).unwrap();
        assert_eq!(config.client_uuid, uuid);
        assert_eq!(config.broker_url, "mqtts://broker:8883");
        assert_eq!(config.password_file, Some("/etc/rebound/agent.password".into()));
        assert_eq!(config.ca_file, Some("/etc/rebound/ca.pem".into()));
        assert_eq!(config.topic_prefix, "screens");
        assert!(text.contains("# The allow-list"), "comments kept");
    }

    #[test]
    fn bad_input_is_refused_with_the_field_named() {
        let mut bad_url = args(&["--out-dir", "d"]);
        bad_url.broker_url = "http://x".into();
        let err = agent_toml(&bad_url, Uuid::nil()).unwrap_err().to_string();
        assert!(err.starts_with("agent config: invalid agent config: broker_url: "), "{err}");
        let base = ["x", "--passwd-file", "p", "--broker-url", "mqtt://b", "--out-dir", "d"];
        let uuid = Cli::try_parse_from(base.iter().chain(&["--uuid", "nope"]));
        assert!(uuid.unwrap_err().to_string().contains("not a UUID"));
        let err = provision(&args(&["--password-out", "pw", "--count", "2"])).unwrap_err();
        assert!(matches!(err, ProvisionError::BulkNeedsOutDir), "{err}");
        let none = Cli::try_parse_from(["x", "--passwd-file", "p", "--broker-url", "mqtt://b"]);
        assert!(none.is_err(), "--out-dir or --password-out is required");
    }
}
