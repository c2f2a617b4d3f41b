//! The console's side of the JSON gateway for `bench console`: a unary call (`POST
//! /api/<Service>/<Method>`, one connection per request, as a browser with no keep-alive
//! pool would) and a server-sent-events stream read to its end. Plain HTTP/1.1 over a TCP
//! socket so the benchmark's client cost stays small and predictable.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::fail;
use crate::error::Result;

/// `POST path` with a JSON body to `127.0.0.1:port`: the status and the body.
pub(super) async fn post_json(port: u16, path: &str, body: &str) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.map_err(fail)?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.map_err(fail)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.map_err(fail)?;
    let text = String::from_utf8(response).map_err(fail)?;
    let (head, body) =
        text.split_once("\r\n\r\n").ok_or_else(|| fail(format!("{path}: no header end")))?;
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok());
    let status = status.ok_or_else(|| fail(format!("{path}: no status line")))?;
    let chunked = head
        .lines()
        .any(|l| l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.contains("chunked"));
    Ok((status, if chunked { dechunk(body) } else { body.to_owned() }))
}

/// The payload of a chunked body.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else { break };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// A server-sent-events stream (`GET path`) read until the server ends it or this is
/// dropped; counts the events (`data:` lines) it received.
pub(super) struct EventStream {
    events: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<Result<()>>,
}

impl EventStream {
    pub(super) async fn open(port: u16, path: &str) -> Result<Self> {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.map_err(fail)?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n");
        stream.write_all(request.as_bytes()).await.map_err(fail)?;
        let events = Arc::new(AtomicU64::new(0));
        let counter = events.clone();
        let path = path.to_owned();
        let task = tokio::spawn(async move {
            let mut buffer = vec![0u8; 64 * 1024];
            let mut head = true;
            // Keep the tail of the previous read so a "\ndata:" split across reads counts once.
            let mut tail = Vec::new();
            loop {
                let read = stream.read(&mut buffer).await.map_err(fail)?;
                if read == 0 {
                    return Ok(());
                }
                let mut seen = std::mem::take(&mut tail);
                seen.extend_from_slice(&buffer[..read]);
                if head {
                    if !seen.starts_with(b"HTTP/1.1 200") {
                        let text = String::from_utf8_lossy(&seen);
                        return Err(fail(format!("{path}: {}", text.lines().next().unwrap_or(""))));
                    }
                    head = false;
                }
                let found = seen.windows(6).filter(|w| w == b"\ndata:").count();
                counter.fetch_add(found as u64, Ordering::Relaxed);
                tail = seen[seen.len().saturating_sub(5)..].to_vec();
            }
        });
        Ok(Self { events, task })
    }

    /// Events received so far.
    pub(super) fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `value` percent-encoded for a query string.
pub(super) fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), "abcde");
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode_query(r#"{"a":"b c"}"#), "%7B%22a%22%3A%22b%20c%22%7D");
    }
}
