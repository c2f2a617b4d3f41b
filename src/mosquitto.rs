//! A throw-away Mosquitto for benchmarks and tests: the shipped `deploy/mosquitto` config and
//! ACL (listener, file paths and persistence directory rewritten into a private directory,
//! every other setting kept), a password file hashed by `mosquitto_passwd`, a free port on
//! 127.0.0.1 (another one when that was taken before the broker bound it: a start waits for
//! the broker to say it bound its listeners, not for the port to answer). The broker is killed
//! and its directory removed on drop.
//!
//! A leaf (it imports nothing of the crate), so that the benchmarks, the demo and the tests of
//! any layer (the MQTT gateway's) can start one without importing each other.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The shipped broker configuration and ACL.
pub const SHIPPED_CONF: &str = include_str!("../deploy/mosquitto/mosquitto.conf");
pub const SHIPPED_ACL: &str = include_str!("../deploy/mosquitto/rebound.acl");
/// How many ports a start tries before it gives up (each taken by someone else first).
const BIND_ATTEMPTS: u32 = 5;
/// How long the broker may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a broker could not be started.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("{0} not found (apt-get install mosquitto)")]
    Missing(&'static str),
    #[error("broker setup: {0}")]
    Io(#[from] std::io::Error),
    #[error("mosquitto_passwd failed: {0}")]
    Passwd(String),
    #[error("mosquitto did not listen within {START_TIMEOUT:?}: {0}")]
    NotListening(String),
    #[error("mosquitto exited before it listened: {0}")]
    Exited(String),
}

/// Find a Mosquitto program (Debian puts the broker in /usr/sbin).
pub fn program(name: &'static str) -> Result<PathBuf, BrokerError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"].map(PathBuf::from);
    std::env::split_paths(&path)
        .chain(dirs)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .ok_or(BrokerError::Missing(name))
}

/// A running broker.
pub struct Broker {
    child: Child,
    dir: PathBuf,
    pub port: u16,
}

impl Broker {
    /// Start with these `(username, password)` accounts.
    pub fn start(users: &[(String, String)]) -> Result<Broker, BrokerError> {
        Self::start_with(users, "")
    }

    /// Start with `extra` appended to the config (e.g. TLS settings for the listener).
    pub fn start_with(users: &[(String, String)], extra: &str) -> Result<Broker, BrokerError> {
        let dir = std::env::temp_dir().join(format!("rebound-broker-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        // Started as root, mosquitto drops to its own user: let it write its log and store.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777))?;
        let passwd = dir.join("passwd");
        let plain: String = users.iter().map(|(user, pw)| format!("{user}:{pw}\n")).collect();
        std::fs::write(&passwd, plain)?;
        let out = Command::new(program("mosquitto_passwd")?).arg("-U").arg(&passwd).output()?;
        if !out.status.success() {
            return Err(BrokerError::Passwd(String::from_utf8_lossy(&out.stderr).into_owned()));
        }
        std::fs::write(dir.join("rebound.acl"), SHIPPED_ACL)?;
        // Mosquitto cannot bind port 0 and report it: take a port that was free a moment ago
        // and, when someone else took it first (the broker exits, unable to bind), another.
        let mut attempt = 1;
        loop {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            std::fs::write(dir.join("mosquitto.conf"), rewrite(SHIPPED_CONF, &dir, port) + extra)?;
            match launch(&dir) {
                Err(BrokerError::Exited(_)) if attempt < BIND_ATTEMPTS => attempt += 1,
                Err(err) => {
                    let _ = std::fs::remove_dir_all(&dir);
                    return Err(err);
                }
                Ok(child) => return Ok(Broker { child, dir, port }),
            }
        }
    }

    /// Stop the broker at once (SIGKILL: its connections drop without a goodbye, as in a
    /// crash; what it had persisted stays in its directory).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Start it again after [`Broker::stop`]: same port, accounts and persistence.
    pub fn restart(&mut self) -> Result<(), BrokerError> {
        self.child = launch(&self.dir)?;
        Ok(())
    }

    /// The broker's private directory (config, passwords, log, persistence).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// The broker's log so far (its log file, then anything it printed).
    pub fn log(&self) -> String {
        log(&self.dir)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The log of the broker in `dir` (its log file, then anything it printed).
fn log(dir: &Path) -> String {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    read("mosquitto.log") + &read("mosquitto.err")
}

/// The line Mosquitto logs (at `information`) once it has bound every listener of its config:
/// `mosquitto version 2.0.11 running`.
const RUNNING: &str = " running";

/// How many times the broker in `dir` has logged [`RUNNING`] so far.
fn runs(dir: &Path) -> usize {
    log(dir).lines().filter(|line| line.ends_with(RUNNING)).count()
}

/// Run mosquitto on the config in `dir` and wait until it says it bound its listeners, so a
/// port someone else holds is not mistaken for the broker's: that broker exits instead
/// ([`BrokerError::Exited`]). The killed child is reaped on every error.
fn launch(dir: &Path) -> Result<Child, BrokerError> {
    let before = runs(dir);
    let mut child = spawn(dir)?;
    let deadline = Instant::now() + START_TIMEOUT;
    let failed = loop {
        if runs(dir) > before {
            return Ok(child);
        }
        match child.try_wait() {
            Ok(Some(_)) => break BrokerError::Exited(log(dir)),
            Err(err) => break err.into(),
            Ok(None) if Instant::now() > deadline => break BrokerError::NotListening(log(dir)),
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    Err(failed)
}

/// Run mosquitto on the config in `dir`, its output appended to `dir/mosquitto.err`.
fn spawn(dir: &Path) -> Result<Child, BrokerError> {
    let errors =
        std::fs::OpenOptions::new().create(true).append(true).open(dir.join("mosquitto.err"))?;
    Ok(Command::new(program("mosquitto")?)
        .arg("-c")
        .arg(dir.join("mosquitto.conf"))
        .stdin(Stdio::null())
        .stdout(errors.try_clone()?)
        .stderr(errors)
        .spawn()?)
}

/// The shipped config with the listener on `port` at 127.0.0.1 and every file under `dir`.
pub fn rewrite(shipped: &str, dir: &Path, port: u16) -> String {
    let mut out = String::new();
    for line in shipped.lines() {
        let replaced = match line.split_whitespace().next().unwrap_or("") {
            "listener" => format!("listener {port} 127.0.0.1"),
            "password_file" => format!("password_file {}", dir.join("passwd").display()),
            "acl_file" => format!("acl_file {}", dir.join("rebound.acl").display()),
            "persistence_location" => format!("persistence_location {}/", dir.display()),
            _ => line.to_owned(),
        };
        out.push_str(&replaced);
        out.push('\n');
    }
    out.push_str(&format!("log_dest file {}\n", dir.join("mosquitto.log").display()));
    // `information` for the line that says every listener is bound (see [`launch`]).
    out.push_str("log_type error\nlog_type warning\nlog_type notice\nlog_type information\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_keeps_the_security_settings_and_moves_files() {
        let conf = rewrite(SHIPPED_CONF, Path::new("/tmp/b"), 1234);
        assert!(conf.contains("listener 1234 127.0.0.1\n"));
        assert!(conf.contains("allow_anonymous false\n"));
        assert!(conf.contains("password_file /tmp/b/passwd\n"));
        assert!(conf.contains("acl_file /tmp/b/rebound.acl\n"));
        // Only the commented-out examples (the TLS listener) may still name host paths.
        let mut settings = conf.lines().filter(|line| !line.starts_with('#'));
        assert!(!settings.any(|line| line.contains("/etc/mosquitto")));
    }

    /// A broker that cannot bind its port is not mistaken for one that listens because
    /// something else accepts connections there.
    #[test]
    fn a_port_held_by_someone_else_is_an_exit_not_a_broker() {
        let mut broker = Broker::start(&[("u".into(), "pw".into())]).unwrap();
        broker.stop();
        let _holder = std::net::TcpListener::bind(("127.0.0.1", broker.port)).unwrap();
        let err = broker.restart().unwrap_err();
        assert!(matches!(err, BrokerError::Exited(_)), "{err}");
        assert!(err.to_string().contains("Address already in use"), "{err}");
    }
}
