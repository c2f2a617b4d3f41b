//! Harness for hot-restart scenarios: a closed-loop unary load that counts every error (no
//! retries), and helpers to request a restart and wait for its outcome.

use rebound::client::Transport;
use rebound::proto::v1 as pb;
use rebound::proto::v1::health_service_client::HealthServiceClient;
use rebound::proto::v1::restart_service_client::RestartServiceClient;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::task::JoinSet;

use super::wait_for;

/// Closed-loop GetHealth callers, one connection each.
pub struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    errors: Arc<Mutex<Vec<String>>>,
    tasks: JoinSet<()>,
}

/// What the load saw.
#[derive(Debug)]
pub struct LoadReport {
    pub ok: u64,
    pub errors: Vec<String>,
}

impl Load {
    /// Start `clients` callers against `addr`.
    pub async fn start(addr: &str, clients: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = JoinSet::new();
        for _ in 0..clients {
            let channel = Transport::connect(addr).await.expect("load client connects");
            let (stop, ok, errors) = (stop.clone(), ok.clone(), errors.clone());
            tasks.spawn(async move {
                let mut client = HealthServiceClient::new(channel);
                while !stop.load(Ordering::Relaxed) {
                    match client.get_health(pb::GetHealthRequest {}).await {
                        Ok(_) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(status) => errors.lock().unwrap().push(format!(
                            "{:?}: {}",
                            status.code(),
                            status.message()
                        )),
                    }
                }
            });
        }
        Load { stop, ok, errors, tasks }
    }

    /// Calls that succeeded so far.
    pub fn ok(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
    }

    /// Stop the callers and report.
    pub async fn stop(mut self) -> LoadReport {
        self.stop.store(true, Ordering::Relaxed);
        while self.tasks.join_next().await.is_some() {}
        let errors = std::mem::take(&mut *self.errors.lock().unwrap());
        LoadReport { ok: self.ok.load(Ordering::Relaxed), errors }
    }
}

/// A RestartService client on a fresh connection to `addr`.
pub async fn restart_client(addr: &str) -> RestartServiceClient<Transport> {
    RestartServiceClient::new(Transport::connect(addr).await.expect("connect"))
}

/// Request a restart in `mode`; returns its id.
pub async fn request(addr: &str, mode: pb::RestartMode, binary: &str) -> String {
    let response = restart_client(addr)
        .await
        .restart(pb::RestartRequest {
            mode: mode as i32,
            binary: binary.to_owned(),
            ..pb::RestartRequest::default()
        })
        .await
        .expect("restart accepted");
    response.into_inner().restart_id
}

/// Wait until restart `id` is terminal (asking whichever process answers) and return it.
pub async fn wait_terminal(addr: &str, id: &str) -> pb::RestartEvent {
    let addr = addr.to_owned();
    wait_for(&format!("restart {id} to finish"), || {
        let addr = addr.clone();
        let id = id.to_owned();
        async move {
            let mut client = restart_client_quiet(&addr).await?;
            let status = client
                .get_restart_status(pb::GetRestartStatusRequest { restart_id: id })
                .await
                .ok()?
                .into_inner();
            let event = status.restart?;
            let terminal = matches!(
                event.phase(),
                pb::RestartPhase::Complete
                    | pb::RestartPhase::Failed
                    | pb::RestartPhase::RolledBack
            );
            terminal.then_some(event)
        }
    })
    .await
}

async fn restart_client_quiet(addr: &str) -> Option<RestartServiceClient<Transport>> {
    Transport::connect(addr).await.ok().map(RestartServiceClient::new)
}

/// The pid and generation of the process serving `addr` now.
pub async fn serving(addr: &str) -> (u32, u64) {
    try_serving(addr).await.expect("GetHealth answers")
}

/// Like [`serving`], `None` when nothing answers.
pub async fn try_serving(addr: &str) -> Option<(u32, u64)> {
    let channel = Transport::connect(addr).await.ok()?;
    let health = HealthServiceClient::new(channel)
        .get_health(pb::GetHealthRequest {})
        .await
        .ok()?
        .into_inner();
    Some((health.pid, health.generation))
}

/// Stop whichever process serves now (SIGTERM) and wait until nothing answers.
pub async fn stop_serving(addr: &str) {
    let (pid, _) = serving(addr).await;
    kill(pid, "TERM");
    let addr = addr.to_owned();
    wait_for("the last process to stop", || {
        let addr = addr.clone();
        async move { rebound::client::connect(&addr).await.is_err().then_some(()) }
    })
    .await;
}

/// Send `signal` (a name like `TERM`) to `pid`.
pub fn kill(pid: u32, signal: &str) {
    let _ =
        std::process::Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status();
}

/// Whether `pid` runs (a zombie, which nobody may reap in some containers, does not).
pub fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

/// Kills a process by pid when dropped (a successor the test did not spawn itself).
pub struct KillOnDrop(pub u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        kill(self.0, "KILL");
    }
}

/// The hot-restart successors descending from `pid`, oldest first: each names its
/// predecessor in the `REBOUND_HANDOVER` of its environment (found in /proc). A successor
/// leads a process group of its own and is not the test's child, so nothing else stops it.
pub fn successors_of(pid: u32) -> Vec<u32> {
    let predecessor = |environ: &[u8]| {
        let handover = environ
            .split(|byte| *byte == 0)
            .find_map(|variable| variable.strip_prefix(b"REBOUND_HANDOVER=".as_slice()))?;
        let handover: serde_json::Value = serde_json::from_slice(handover).ok()?;
        handover["predecessor_pid"].as_u64().and_then(|p| u32::try_from(p).ok())
    };
    let (mut known, mut found) = (vec![pid], Vec::new());
    loop {
        let mut more = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(candidate) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(environ) = std::fs::read(entry.path().join("environ")) else { continue };
            if !known.contains(&candidate)
                && predecessor(&environ).is_some_and(|p| known.contains(&p))
            {
                more.push(candidate);
            }
        }
        if more.is_empty() {
            return found;
        }
        more.sort_unstable();
        known.extend(&more);
        found.extend(more);
    }
}

/// An executable shell script in `dir` that runs `body` (it may `exec` the real binary with
/// `"$@"`, keeping the inherited descriptors).
pub fn script(dir: &std::path::Path, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

/// A wrapper that runs `before` in the server's working directory, then the real binary.
pub fn wrapper(dir: &std::path::Path, name: &str, before: &str) -> String {
    let real = super::rebound_bin();
    script(dir, name, &format!("{before}\nexec {} \"$@\"", real.display()))
}

/// The processes holding the listening TCP socket of `port` open (any descriptor of theirs is
/// that socket), found by its inode in /proc/net/tcp{,6} and every readable /proc/PID/fd.
pub fn listener_holders(port: u16) -> Vec<u32> {
    let port = format!(":{port:04X}");
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address is field 1, the state (0A = LISTEN) field 3, the inode field 9.
            if fields.len() > 9 && fields[1].ends_with(&port) && fields[3] == "0A" {
                inodes.push(format!("socket:[{}]", fields[9]));
            }
        }
    }
    let mut holders = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else { continue };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|target| inodes.iter().any(|inode| target.as_os_str() == inode.as_str()))
        });
        if holds {
            holders.push(pid);
        }
    }
    holders
}
