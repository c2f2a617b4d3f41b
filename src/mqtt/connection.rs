//! One broker connection of the gateway: TCP or TLS, MQTT 3.1.1 packets encoded and decoded
//! with rumqttc's packet codec, and two tasks around the socket.
//!
//! - The **writer** takes every packet queued since its last write and writes them together:
//!   a piece of 512 commands, or the PUBACKs of a whole ingest batch, leaves in a few
//!   segments instead of one system call and one segment each (rumqttc's event loop flushes
//!   after every request: ~4,000 `writev` per 1000-device rollout, each read separately by
//!   the broker too).
//! - The **reader** hands over every packet of a read at once.
//!
//! The connection itself keeps no MQTT state: packet ids, unacknowledged publishes and
//! keep-alive are the gateway's (`outbox`, `gateway`), so a reconnect never loses them.
//! A [`Writer`] belongs to one connection: a PUBACK settled after that connection dropped goes
//! nowhere, and the broker sends the message again on the next one.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use rumqttc::mqttbytes::Error as PacketError;
use rumqttc::mqttbytes::v4::{ConnAck, Connect, ConnectReturnCode, Packet};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Largest inbound packet decoded; larger payloads than `mqtt.max_payload_bytes` are still
/// read (and counted as oversized) up to this, so one bad message cannot make the broker
/// redeliver it forever.
const MAX_INCOMING_PACKET: usize = 16 * 1024 * 1024;
/// Most bytes gathered into one write.
const MAX_WRITE: usize = 1024 * 1024;
/// How long TCP connect, TLS handshake and CONNACK may take together.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how to connect (see `options::connect_params`).
#[derive(Clone)]
pub struct ConnectParams {
    pub host: String,
    pub port: u16,
    /// TLS client configuration for `mqtts://`.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub client_id: String,
    pub keep_alive: Duration,
    /// Username and password.
    pub login: Option<(String, String)>,
}

/// Why a connection could not be made or ended.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("connect to {0}: {1}")]
    Connect(String, io::Error),
    #[error("connect to {0}: timed out after {1:?}")]
    Timeout(String, Duration),
    #[error("tls: {0}")]
    Tls(String),
    #[error("connection refused by the broker: {0:?}")]
    Refused(ConnectReturnCode),
    #[error("broker sent {0} before CONNACK")]
    NotConnAck(String),
    #[error("connection lost: {0}")]
    Io(#[from] io::Error),
    #[error("bad packet from the broker: {0}")]
    Packet(String),
}

impl From<PacketError> for LinkError {
    fn from(err: PacketError) -> Self {
        LinkError::Packet(err.to_string())
    }
}

/// What the reader hands over.
pub enum Incoming {
    /// Every whole packet of one read, in order.
    Packets(Vec<Packet>),
    /// The connection ended (read or write failed, or the broker closed it).
    Closed(LinkError),
}

/// Queues packets for one connection's writer.
#[derive(Clone)]
pub struct Writer(mpsc::UnboundedSender<Packet>);

impl Writer {
    /// Queue `packet`; false when this connection is gone.
    pub fn send(&self, packet: Packet) -> bool {
        self.0.send(packet).is_ok()
    }
}

/// An open connection: its writer, what it reads, and its two tasks (stopped when dropped).
pub struct Link {
    pub writer: Writer,
    pub incoming: mpsc::Receiver<Incoming>,
    /// Reads that returned data so far (the keep-alive's proof of life).
    reads: Arc<AtomicU64>,
    reader: tokio::task::JoinHandle<()>,
    writer_task: tokio::task::JoinHandle<()>,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.reader.abort();
        self.writer_task.abort();
    }
}

trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

impl Link {
    /// Connect, send CONNECT (persistent session: clean session off) and wait for CONNACK.
    pub async fn connect(params: &ConnectParams) -> Result<(Link, ConnAck), LinkError> {
        let address = format!("{}:{}", params.host, params.port);
        match tokio::time::timeout(CONNECT_TIMEOUT, Self::open(params, &address)).await {
            Ok(result) => result,
            Err(_) => Err(LinkError::Timeout(address, CONNECT_TIMEOUT)),
        }
    }

    async fn open(params: &ConnectParams, address: &str) -> Result<(Link, ConnAck), LinkError> {
        let tcp = TcpStream::connect(address)
            .await
            .map_err(|e| LinkError::Connect(address.to_owned(), e))?;
        tcp.set_nodelay(true)?;
        let mut stream: Box<dyn Stream> = match &params.tls {
            None => Box::new(tcp),
            Some(config) => {
                let name = rustls::pki_types::ServerName::try_from(params.host.clone())
                    .map_err(|e| LinkError::Tls(format!("server name {}: {e}", params.host)))?;
                let connector = tokio_rustls::TlsConnector::from(config.clone());
                let tls = connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| LinkError::Tls(e.to_string()))?;
                Box::new(tls)
            }
        };
        let mut connect = Connect::new(params.client_id.clone());
        connect.clean_session = false;
        connect.keep_alive = u16::try_from(params.keep_alive.as_secs()).unwrap_or(u16::MAX);
        if let Some((username, password)) = &params.login {
            connect.set_login(username.clone(), password.clone());
        }
        let mut out = BytesMut::new();
        connect.write(&mut out)?;
        stream.write_all(&out).await?;
        stream.flush().await?;
        let mut input = BytesMut::with_capacity(64 * 1024);
        let connack = loop {
            if let Some(packet) = next_packet(&mut input, MAX_INCOMING_PACKET)? {
                match packet {
                    Packet::ConnAck(ack) if ack.code == ConnectReturnCode::Success => break ack,
                    Packet::ConnAck(ack) => return Err(LinkError::Refused(ack.code)),
                    other => return Err(LinkError::NotConnAck(format!("{other:?}"))),
                }
            }
            if stream.read_buf(&mut input).await? == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
            }
        };
        let (read_half, write_half) = tokio::io::split(stream);
        let (events, incoming) = mpsc::channel(64);
        let (queue, packets) = mpsc::unbounded_channel();
        let reads = Arc::new(AtomicU64::new(0));
        let reader = tokio::spawn(read_loop(read_half, input, events.clone(), reads.clone()));
        let writer_task = tokio::spawn(write_loop(write_half, packets, events));
        let link = Link { writer: Writer(queue), incoming, reads, reader, writer_task };
        Ok((link, connack))
    }

    /// Reads that returned data so far.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }
}

/// The next whole packet in `input` (at most `max` bytes), if one has arrived. Every MQTT
/// reader in rebound decodes through this: the gateway's connection, the benchmark's
/// simulated devices and the gateway's scripted-broker tests.
pub(crate) fn next_packet(input: &mut BytesMut, max: usize) -> Result<Option<Packet>, PacketError> {
    match Packet::read(input, max) {
        Ok(packet) => Ok(Some(packet)),
        Err(PacketError::InsufficientBytes(_)) => Ok(None),
        Err(err) => Err(err),
    }
}

async fn read_loop(
    mut half: tokio::io::ReadHalf<Box<dyn Stream>>,
    mut input: BytesMut,
    events: mpsc::Sender<Incoming>,
    reads: Arc<AtomicU64>,
) {
    let closed = loop {
        let mut packets = Vec::new();
        loop {
            match next_packet(&mut input, MAX_INCOMING_PACKET) {
                Ok(Some(packet)) => packets.push(packet),
                Ok(None) => break,
                Err(err) => {
                    let _ = events.send(Incoming::Packets(packets)).await;
                    let _ = events.send(Incoming::Closed(err.into())).await;
                    return;
                }
            }
        }
        if !packets.is_empty() && events.send(Incoming::Packets(packets)).await.is_err() {
            return;
        }
        match half.read_buf(&mut input).await {
            Ok(0) => break LinkError::Io(io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => {
                reads.fetch_add(1, Ordering::Relaxed);
            }
            Err(err) => break LinkError::Io(err),
        }
    };
    let _ = events.send(Incoming::Closed(closed)).await;
}

async fn write_loop(
    mut half: tokio::io::WriteHalf<Box<dyn Stream>>,
    mut packets: mpsc::UnboundedReceiver<Packet>,
    events: mpsc::Sender<Incoming>,
) {
    let mut out = BytesMut::with_capacity(64 * 1024);
    while let Some(first) = packets.recv().await {
        let mut next = Some(first);
        let mut last = false;
        while let Some(packet) = next.take() {
            last = matches!(packet, Packet::Disconnect);
            if let Err(err) = packet.write(&mut out, MAX_WRITE) {
                let _ = events.send(Incoming::Closed(err.into())).await;
                return;
            }
            if !last && out.len() < MAX_WRITE {
                next = packets.try_recv().ok();
            }
        }
        let written = async {
            half.write_all(&out).await?;
            half.flush().await?;
            if last {
                half.shutdown().await?;
            }
            Ok::<_, io::Error>(())
        };
        if let Err(err) = written.await {
            let _ = events.send(Incoming::Closed(err.into())).await;
            return;
        }
        out.clear();
        if last {
            return;
        }
    }
}
