//! The demo's local infrastructure, all under one temp directory removed at the end: a
//! Mosquitto with a generated password file (server + one account per device) and the
//! shipped ACL, and a `rebound serve` child process on SQLite.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use uuid::Uuid;

/// The server's broker account in the demo.
pub const SERVER_USER: &str = "rebound-server";
const SHIPPED_ACL: &str = include_str!("../../../deploy/mosquitto/rebound.acl");
const START_DEADLINE: Duration = Duration::from_secs(30);

/// A temp directory removed on drop.
pub struct Workdir(pub PathBuf);

impl Workdir {
    pub fn create() -> std::io::Result<Self> {
        let dir = std::env::temp_dir().join(format!("rebound-demo-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Find `name` on PATH or in the sbin directories Debian installs Mosquitto to.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    dirs.extend(["/usr/sbin", "/usr/local/sbin"].map(PathBuf::from));
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// A free TCP port on 127.0.0.1 (bound to port 0, then released).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A child process killed on drop (after a polite SIGTERM for the server).
pub struct Process {
    pub name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Process {
    fn spawn(name: &'static str, mut command: Command, log: PathBuf) -> Result<Self, String> {
        let file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = file.try_clone().map_err(|e| e.to_string())?;
        let child = command
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        Ok(Self { name, child, log })
    }

    /// Its log so far (shown when something goes wrong).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM (via kill(1)), then SIGKILL if it has not exited within 10 s.
    pub fn terminate(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Wait until `port` accepts TCP connections.
pub async fn wait_listening(process: &mut Process, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + START_DEADLINE;
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        let exited = matches!(process.child.try_wait(), Ok(Some(_)));
        if exited || Instant::now() > deadline {
            return Err(format!("{} did not listen on {port}:\n{}", process.name, process.log()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Start Mosquitto on `port` with accounts for the server and `devices` (one password each
/// for the server and for every device).
pub fn mosquitto(
    dir: &Path,
    port: u16,
    devices: &[Uuid],
    server_password: &str,
    device_password: &str,
) -> Result<Process, String> {
    let (Some(broker), Some(passwd_tool)) = (find_tool("mosquitto"), find_tool("mosquitto_passwd"))
    else {
        return Err("mosquitto not found: install it (Debian: apt-get install mosquitto)".into());
    };
    let passwd = dir.join("passwd");
    let mut plain = format!("{SERVER_USER}:{server_password}\n");
    for uuid in devices {
        plain.push_str(&format!("{uuid}:{device_password}\n"));
    }
    std::fs::write(&passwd, plain).map_err(|e| e.to_string())?;
    let status = Command::new(passwd_tool).arg("-U").arg(&passwd).status();
    if !status.is_ok_and(|s| s.success()) {
        return Err("mosquitto_passwd -U failed".into());
    }
    std::fs::write(dir.join("rebound.acl"), SHIPPED_ACL).map_err(|e| e.to_string())?;
    let conf = format!(
        "per_listener_settings false\nlistener {port} 127.0.0.1\nallow_anonymous false\n\
         password_file {}\nacl_file {}\npersistence false\nmax_queued_messages 100000\n\
         max_inflight_messages 1000\nlog_dest stdout\nlog_type error\nlog_type warning\n",
        passwd.display(),
        dir.join("rebound.acl").display()
    );
    let conf_path = dir.join("mosquitto.conf");
    std::fs::write(&conf_path, conf).map_err(|e| e.to_string())?;
    let mut command = Command::new(broker);
    command.arg("-c").arg(&conf_path);
    Process::spawn("mosquitto", command, dir.join("mosquitto.log"))
}

/// Start `rebound serve` (this executable) on SQLite in `dir`, gRPC on `port`.
pub fn server(
    dir: &Path,
    port: u16,
    broker_port: u16,
    server_password: &str,
) -> Result<Process, String> {
    let password_file = dir.join("server-password");
    std::fs::write(&password_file, server_password).map_err(|e| e.to_string())?;
    let config = format!(
        "version = 1\n[server]\nlisten = \"127.0.0.1:{port}\"\n[store]\nurl = \"sqlite://{}/rebound.db\"\n\
         [mqtt]\nurl = \"mqtt://127.0.0.1:{broker_port}\"\nusername = \"{SERVER_USER}\"\n\
         password_file = \"{}\"\n[scheduler]\ntick = \"200ms\"\n[telemetry]\nlog_level = \"warn\"\n",
        dir.display(),
        password_file.display()
    );
    let config_path = dir.join("rebound.toml");
    std::fs::write(&config_path, config).map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut command = Command::new(exe);
    command.arg("serve").arg("--config").arg(&config_path).current_dir(dir);
    Process::spawn("rebound serve", command, dir.join("server.log"))
}
