//! HTTP helpers for the listener on `server.http_listen`: a plain GET (one connection per
//! request, as curl does), a kept-alive connection for the JSON gateway's requests and
//! streams ([`Connection`]), a load of scrapers that counts every failed request (no
//! retries), and the official Prometheus text parser run over a scrape.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::task::JoinSet;

/// GET `path` from `127.0.0.1:port` on a connection of its own: the status and the body.
pub async fn get(port: u16, path: &str) -> Result<(u16, String), String> {
    let mut stream =
        tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.map_err(|e| e.to_string())?;
    let text = String::from_utf8(response).map_err(|e| e.to_string())?;
    parse_response(&text)
}

/// GET `path` from `127.0.0.1:port` over TLS, trusting the CA in `ca` (PEM), with HTTP/1.1:
/// the negotiated ALPN protocol, the status and the body.
pub async fn get_tls(port: u16, path: &str, ca: &Path) -> Result<(String, u16, String), String> {
    let roots = rebound::pem::roots(ca)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp =
        tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut stream = connector.connect(name, tcp).await.map_err(|e| e.to_string())?;
    let alpn = stream.get_ref().1.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned());
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    // A peer that closes without close_notify still delivered the whole response.
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8(response).map_err(|e| e.to_string())?;
    let (status, body) = parse_response(&text)?;
    Ok((alpn.unwrap_or_default(), status, body))
}

/// The status and body of an HTTP/1.1 response read to its end.
fn parse_response(text: &str) -> Result<(u16, String), String> {
    let (head, body) = text.split_once("\r\n\r\n").ok_or(format!("no header end: {text:?}"))?;
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok());
    let status = status.ok_or(format!("no status line: {head:?}"))?;
    Ok((status, body.to_owned()))
}

/// One answer read off a [`Connection`].
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Header names in lowercase.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON; panics when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {} {}", self.status, self.body))
    }
}

/// A kept-alive HTTP/1.1 connection to `127.0.0.1:port`: requests go one after another on
/// it, and each answer is read whole (by its length, its chunks, or to the close), so a
/// server-sent event stream is read until the server ends it.
pub struct Connection {
    stream: BufReader<tokio::net::TcpStream>,
}

impl Connection {
    pub async fn open(port: u16) -> Result<Connection, String> {
        let stream =
            tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
        Ok(Connection { stream: BufReader::new(stream) })
    }

    /// Send `method path` with `headers` and `body`, and read the answer.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<Response, String> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        head.push_str(body);
        let stream = self.stream.get_mut();
        stream.write_all(head.as_bytes()).await.map_err(|e| e.to_string())?;
        self.read_response().await
    }

    async fn read_response(&mut self) -> Result<Response, String> {
        let status_line = self.line().await?;
        let status = status_line.split(' ').nth(1).and_then(|s| s.parse().ok());
        let status = status.ok_or(format!("no status line: {status_line:?}"))?;
        let mut headers = Vec::new();
        loop {
            let line = self.line().await?;
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').ok_or(format!("bad header {line:?}"))?;
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        let find = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let mut body = Vec::new();
        if let Some(length) = find("content-length") {
            let length: usize = length.parse().map_err(|_| format!("content-length {length}"))?;
            body.resize(length, 0);
            self.stream.read_exact(&mut body).await.map_err(|e| e.to_string())?;
        } else if find("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            loop {
                let size = self.line().await?;
                let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
                    .map_err(|_| format!("bad chunk size {size:?}"))?;
                let mut chunk = vec![0; size + 2];
                self.stream.read_exact(&mut chunk).await.map_err(|e| e.to_string())?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else {
            self.stream.read_to_end(&mut body).await.map_err(|e| e.to_string())?;
        }
        let body = String::from_utf8(body).map_err(|e| e.to_string())?;
        Ok(Response { status, headers, body })
    }

    /// One header line without its CRLF; an error at the end of the stream.
    async fn line(&mut self) -> Result<String, String> {
        let mut line = String::new();
        let read = self.stream.read_line(&mut line).await.map_err(|e| e.to_string())?;
        if read == 0 {
            return Err("the connection closed".into());
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

/// POST the JSON `body` to the gateway's `/api/<method>` on a connection of its own, with
/// `authorization` when given.
pub async fn post_api(
    port: u16,
    method: &str,
    authorization: Option<&str>,
    body: &str,
) -> Response {
    let mut headers = vec![("content-type", "application/json"), ("connection", "close")];
    if let Some(value) = authorization {
        headers.push(("authorization", value));
    }
    let mut connection = Connection::open(port).await.unwrap();
    connection.request("POST", &format!("/api/{method}"), &headers, body).await.unwrap()
}

/// Closed-loop scrapers of `/metrics`: half open a connection per request, half keep one
/// alive (as Prometheus does). Every request that does not end in 200 counts as failed.
pub struct ScrapeLoad {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    errors: Arc<Mutex<Vec<String>>>,
    tasks: JoinSet<()>,
}

impl ScrapeLoad {
    pub fn start(port: u16, scrapers: usize) -> ScrapeLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = JoinSet::new();
        for n in 0..scrapers {
            let (stop, ok, errors) = (stop.clone(), ok.clone(), errors.clone());
            let keep_alive = n % 2 == 1;
            tasks.spawn(async move {
                let client: Client<HttpConnector, Empty<Bytes>> =
                    Client::builder(TokioExecutor::new()).build_http();
                let uri: http::Uri = format!("http://127.0.0.1:{port}/metrics").parse().unwrap();
                while !stop.load(Ordering::Relaxed) {
                    let result = if keep_alive {
                        keep_alive_get(&client, uri.clone()).await
                    } else {
                        get(port, "/metrics").await.map(|(status, _)| status)
                    };
                    match result {
                        Ok(200) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(status) => errors.lock().unwrap().push(format!("status {status}")),
                        Err(error) => errors.lock().unwrap().push(error),
                    }
                }
            });
        }
        ScrapeLoad { stop, ok, errors, tasks }
    }

    /// Scrapes that succeeded so far.
    pub fn ok(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
    }

    /// Stop the scrapers: the successful count and every failure.
    pub async fn stop(mut self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        while self.tasks.join_next().await.is_some() {}
        let errors = std::mem::take(&mut *self.errors.lock().unwrap());
        (self.ok.load(Ordering::Relaxed), errors)
    }
}

async fn keep_alive_get(
    client: &Client<HttpConnector, Empty<Bytes>>,
    uri: http::Uri,
) -> Result<u16, String> {
    let response = client.get(uri).await.map_err(|e| format!("{e:?}"))?;
    let status = response.status().as_u16();
    response.into_body().collect().await.map_err(|e| e.to_string())?;
    Ok(status)
}

/// The Python interpreter with `prometheus_client`: `$PYTHON` (set by scripts/test.sh),
/// else the venv scripts/test.sh builds at target/pyenv.
fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("PYTHON") {
        return PathBuf::from(python);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/pyenv/bin/python");
    assert!(
        venv.is_file(),
        "no Python with prometheus_client: set PYTHON or run ./scripts/test.sh (it builds {})",
        venv.display()
    );
    venv
}

/// Parse `text` with `prometheus_client.parser.text_string_to_metric_families` and return
/// every sample as `(name, sorted labels as "k=v,…", value)`; panics if it does not parse.
pub fn parse_with_prometheus(text: &str) -> Vec<(String, String, f64)> {
    const SCRIPT: &str = "import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ','.join(f'{k}={v}' for k, v in sorted(s.labels.items()))
        out.append([s.name, labels, s.value])
print(json.dumps(out))
";
    let mut child = std::process::Command::new(python())
        .args(["-c", SCRIPT])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Prometheus parser refused the scrape: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The value of sample `name` whose labels include every `key=value` of `labels`.
pub fn sample(samples: &[(String, String, f64)], name: &str, labels: &[&str]) -> Option<f64> {
    samples
        .iter()
        .find(|(n, l, _)| n == name && labels.iter().all(|want| l.split(',').any(|kv| kv == *want)))
        .map(|(_, _, value)| *value)
}
