//! The control socket between an old process and its handover successor: one JSON message
//! per line, two messages in all.
//!
//! - successor → old: [`Message::Ready`] once it serves on the inherited sockets;
//! - old → successor: [`Message::HandedOver`] after the drain, carrying the restart record
//!   (and with it the duty to finish it).
//!
//! The old process then exits without closing the socket explicitly: end-of-file tells the
//! successor that its predecessor is gone. End-of-file before `ready` tells the old process
//! that the successor died.

use super::{RestartRecord, SnapshotOutcome};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// Longest line accepted, so a confused peer cannot make us buffer without bound.
const MAX_LINE: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    Ready { pid: u32, snapshot: SnapshotOutcome, snapshot_detail: String },
    HandedOver { record: Box<RestartRecord> },
}

/// One end of the control socket.
#[derive(Debug)]
pub struct Control {
    stream: BufReader<UnixStream>,
}

impl Control {
    pub fn new(stream: UnixStream) -> Self {
        Self { stream: BufReader::new(stream) }
    }

    pub async fn send(&mut self, message: &Message) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(message).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.stream.get_mut().write_all(&line).await?;
        self.stream.get_mut().flush().await
    }

    /// The next message; `Ok(None)` at end-of-file (the peer exited).
    pub async fn recv(&mut self) -> std::io::Result<Option<Message>> {
        let mut line = Vec::new();
        let read = (&mut self.stream).take(MAX_LINE as u64).read_until(b'\n', &mut line).await?;
        if read == 0 {
            return Ok(None);
        }
        serde_json::from_slice(&line).map(Some).map_err(|err| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("control message: {err}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_cross_and_eof_is_seen() {
        let (a, b) = UnixStream::pair().unwrap();
        let (mut a, mut b) = (Control::new(a), Control::new(b));
        let ready = Message::Ready {
            pid: 7,
            snapshot: SnapshotOutcome::Restored,
            snapshot_detail: "ok".into(),
        };
        a.send(&ready).await.unwrap();
        assert_eq!(b.recv().await.unwrap(), Some(ready));
        drop(a);
        assert_eq!(b.recv().await.unwrap(), None);
    }
}
