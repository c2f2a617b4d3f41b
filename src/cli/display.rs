//! How the admin commands show things: timestamps, durations and enum names for people,
//! paged listings, streams and replies; flag parsers; the device commands' client. Connecting
//! and turning failures into exit codes is [`super::rpc`].

use crate::client::Transport;
use crate::exit;
use crate::proto::v1::client_command_service_client::ClientCommandServiceClient;

/// The ClientCommandService client the device admin commands share.
pub type DeviceRpc = ClientCommandServiceClient<Transport>;

/// A connected ClientCommandService client, or the exit code after printing why not.
pub async fn connect(args: &super::ClientArgs) -> Result<DeviceRpc, u8> {
    super::rpc::connect(args).await.map(ClientCommandServiceClient::new)
}

/// Print a failed call and return its exit code: the CLI's one mapping, in [`super::rpc`].
pub use super::rpc::failed;

/// A proto timestamp for people and scripts: RFC 3339, UTC, seconds (`2026-11-22T23:41:51Z`),
/// or `-`.
pub fn time(ts: Option<&prost_types::Timestamp>) -> String {
    ts.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| "-".to_owned())
}

/// Format a proto duration for people (`1.234 ms`, `2.5 s`).
pub fn millis(value: Option<&prost_types::Duration>) -> String {
    match value.and_then(|d| std::time::Duration::try_from(*d).ok()) {
        Some(d) if d < std::time::Duration::from_secs(1) => {
            format!("{:.3} ms", d.as_secs_f64() * 1e3)
        }
        Some(d) => format!("{:.3} s", d.as_secs_f64()),
        None => "-".to_owned(),
    }
}

/// A proto enum name without its prefix, lower-case (`COMMAND_STATE_TIMED_OUT` → `timed_out`).
pub fn name(full: &str, prefix: &str) -> String {
    full.trim_start_matches(prefix).to_lowercase()
}

/// Parse a human duration for a flag (`30s`, `4m`).
pub fn parse_duration(text: &str) -> Result<prost_types::Duration, String> {
    let d = humantime::parse_duration(text).map_err(|e| format!("{text:?}: {e}"))?;
    prost_types::Duration::try_from(d).map_err(|e| e.to_string())
}

/// Parse an action name for a flag.
pub fn parse_action(text: &str) -> Result<i32, String> {
    use crate::proto::v1::Action;
    match text {
        "reboot_host" => Ok(Action::RebootHost as i32),
        "shutdown_host" => Ok(Action::ShutdownHost as i32),
        "restart_app" => Ok(Action::RestartApp as i32),
        other => Err(format!("{other:?}: expected reboot_host, shutdown_host or restart_app")),
    }
}

/// The page size to ask for when listing up to `limit` items: the largest page the server
/// returns at most.
pub fn page_size(limit: usize) -> i32 {
    limit.min(crate::contract::limits::MAX_PAGE_SIZE as usize) as i32
}

/// Print every item of a paged listing up to `limit`. `fetch(page_token)` returns one page and
/// the next token.
pub async fn print_pages<T, F, Fut>(
    rpc_name: &str,
    limit: usize,
    mut fetch: F,
    render: impl Fn(&T) -> String,
) -> u8
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, String), tonic::Status>>,
{
    let mut token = String::new();
    let mut shown = 0;
    loop {
        let (items, next) = match fetch(token).await {
            Ok(page) => page,
            Err(status) => return failed(rpc_name, &status),
        };
        for item in items.iter().take(limit - shown) {
            println!("{}", render(item));
            shown += 1;
        }
        if next.is_empty() || shown >= limit {
            return exit::OK;
        }
        token = next;
    }
}

/// Print each message of a server stream until it ends (exit 0) or fails.
pub async fn print_stream<T>(
    rpc_name: &str,
    opened: Result<tonic::Response<tonic::Streaming<T>>, tonic::Status>,
    render: impl Fn(T) -> String,
) -> u8 {
    use futures::StreamExt;
    let mut stream = match opened {
        Ok(response) => response.into_inner(),
        Err(status) => return failed(rpc_name, &status),
    };
    while let Some(message) = stream.next().await {
        match message {
            Ok(message) => println!("{}", render(message)),
            Err(status) => return failed(rpc_name, &status),
        }
    }
    exit::OK
}

/// Print the rendering of a unary reply (exit 0), or the failure.
pub fn print_reply<T>(
    rpc_name: &str,
    reply: Result<tonic::Response<T>, tonic::Status>,
    render: impl FnOnce(T) -> String,
) -> u8 {
    match reply {
        Ok(response) => {
            println!("{}", render(response.into_inner()));
            exit::OK
        }
        Err(status) => failed(rpc_name, &status),
    }
}
