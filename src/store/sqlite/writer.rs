//! The device area's writer connection, and the command and device rows its committed
//! transactions left behind.
//!
//! SQLite has one writer at a time, so every write transaction of the device area
//! ([`super::fleet_tx`]: the MQTT ingest loop, API calls, the scheduler) runs on this one
//! connection, one after the other, rather than on the pool's. That costs no concurrency and
//! lets the connection remember rows between transactions: the ingest loop stores one batch
//! of device messages per transaction, and most rows a batch needs (the commands being
//! acknowledged, the devices sending the acks) were read or written by the transactions
//! before it. Reading them again was about 40 % of a batch's time.
//!
//! Remembered rows are exact as long as nobody else wrote. SQLite's `PRAGMA data_version`,
//! read on this connection, changes whenever any *other* connection commits: this process's
//! pool (retention, backups) or another process (the predecessor or successor of a hot
//! restart, an offline tool). The transaction reads it right after `BEGIN IMMEDIATE`, when
//! nobody else can write until it ends; a changed version drops every remembered row, and so
//! does a transaction that failed or was abandoned. An abandoned transaction (dropped without
//! commit, e.g. on an error path) is rolled back at once by a spawned task, so that the write
//! lock goes back to the other connections right away.
//!
//! Only open commands are remembered (a terminal command rarely hears from its device again),
//! at most [`MAX_COMMANDS`] of them and [`MAX_CLIENTS`] devices. `rebound bench memory`
//! measured the whole server's resident memory growing by about 1.0 KiB per registered device
//! and 1.3 KiB per open command (these rows, plus whatever else grows with them), which puts
//! both bounds at a few hundred MiB.
//!
//! The connection keeps SQLite's temporary storage in memory (`temp_store=MEMORY`): a
//! multi-row write journals the pages it changes so that it can be undone alone, and past
//! 64 KiB SQLite would spill that statement journal to a temporary file (about a tenth of this
//! connection's time in the fan-out benchmark). Nothing durable lives there, and the pool's
//! connections, whose reads may sort large results, keep the default.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::{ConnectOptions, Connection, Executor, SqliteConnection, SqlitePool};
use tokio::sync::{Mutex, OwnedMutexGuard};
use uuid::Uuid;

use crate::store::StoreError;
use crate::store::clients::ClientRecord;
use crate::store::commands::CommandRecord;

/// Most open commands remembered; past this they are forgotten and read again.
const MAX_COMMANDS: usize = 200_000;
/// Most devices remembered; past this they are forgotten and read again.
const MAX_CLIENTS: usize = 200_000;
/// Prepared statements the writer connection keeps (sqlx's default is 100): every fleet
/// statement plus up to nine multi-row shapes of each kind, and of each of the command
/// updates' column sets (at most `shapes::MAX_VARIANTS`), stay prepared (see `shapes.rs`).
const WRITER_STATEMENTS: usize = 256;

/// The connection and what it remembers. Held (locked) by one transaction at a time.
#[derive(Default)]
pub(super) struct WriterSession {
    conn: Option<SqliteConnection>,
    /// A transaction was begun and neither committed nor rolled back (its holder was
    /// dropped, or its commit failed): roll it back before the next one.
    open: bool,
    pub rows: RememberedRows,
}

impl std::fmt::Debug for WriterSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterSession")
            .field("connected", &self.conn.is_some())
            .field("open", &self.open)
            .field("commands", &self.rows.commands.len())
            .field("clients", &self.rows.clients.len())
            .finish()
    }
}

/// Rows as the session's last committed transaction left them.
#[derive(Default)]
pub(super) struct RememberedRows {
    /// `data_version` they are valid for.
    version: Option<i64>,
    pub commands: HashMap<Uuid, CommandRecord>,
    pub clients: HashMap<Uuid, ClientRecord>,
}

impl RememberedRows {
    fn forget(&mut self) {
        self.version = None;
        self.commands.clear();
        self.clients.clear();
    }

    /// Take in what a committed transaction knows (`None`: known not to exist).
    pub fn absorb(
        &mut self,
        commands: HashMap<Uuid, Option<CommandRecord>>,
        clients: HashMap<Uuid, Option<ClientRecord>>,
    ) {
        if self.commands.len() + commands.len() > MAX_COMMANDS {
            self.commands.clear();
        }
        for (id, command) in commands {
            match command {
                Some(command) if !command.state.is_terminal() => {
                    self.commands.insert(id, command);
                }
                _ => {
                    self.commands.remove(&id);
                }
            }
        }
        if self.clients.len() + clients.len() > MAX_CLIENTS {
            self.clients.clear();
        }
        for (id, client) in clients {
            match client {
                Some(client) => self.clients.insert(id, client),
                None => self.clients.remove(&id),
            };
        }
    }
}

impl WriterSession {
    /// Begin a write transaction (connecting first if needed); forget the remembered rows
    /// if anybody else committed since they were valid.
    async fn begin(&mut self, pool: &SqlitePool) -> Result<(), StoreError> {
        const OP: &str = "fleet_tx";
        if self.open {
            // Abandoned where no rollback could be spawned: closing the connection rolls
            // back whatever state it is in, and what it remembered goes with it.
            self.close().await;
        }
        if self.conn.is_none() {
            let options = (*pool.connect_options()).clone();
            let conn = options
                .statement_cache_capacity(WRITER_STATEMENTS)
                .pragma("temp_store", "memory")
                .connect()
                .await
                .map_err(StoreError::query(OP))?;
            self.conn = Some(conn);
        }
        if let Err(e) = self.conn()?.execute("BEGIN IMMEDIATE").await {
            self.rows.forget();
            return Err(StoreError::query(OP)(e));
        }
        self.open = true;
        let version: i64 = sqlx::query_scalar("PRAGMA data_version")
            .fetch_one(self.conn()?)
            .await
            .map_err(StoreError::query(OP))?;
        if self.rows.version != Some(version) {
            self.rows.forget();
            self.rows.version = Some(version);
        }
        Ok(())
    }

    /// The connection, inside the transaction [`Self::begin`] started.
    pub fn conn(&mut self) -> Result<&mut SqliteConnection, StoreError> {
        self.conn.as_mut().ok_or_else(|| StoreError::decode("fleet_tx", "not connected"))
    }

    /// Roll back an abandoned transaction and forget what it remembered; a connection that
    /// cannot roll back is closed (which rolls back) and opened again by the next `begin`.
    async fn abandon(&mut self) {
        self.rows.forget();
        let rolled_back = match self.conn.as_mut() {
            Some(conn) => conn.execute("ROLLBACK").await.is_ok(),
            None => true,
        };
        if rolled_back {
            self.open = false;
        } else {
            self.close().await;
        }
    }

    /// Commit. On failure the transaction counts as abandoned (rolled back before the next).
    pub async fn commit(&mut self) -> Result<(), StoreError> {
        self.conn()?.execute("COMMIT").await.map_err(StoreError::query("tx.commit"))?;
        self.open = false;
        Ok(())
    }

    /// Close the connection (the store is closing).
    pub async fn close(&mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = conn.close().await;
        }
        self.open = false;
        self.rows.forget();
    }
}

/// The writer connection as held by one transaction; rolls back if dropped while open.
pub(super) struct WriterTx(Option<OwnedMutexGuard<WriterSession>>);

impl WriterTx {
    /// Wait for the writer connection and begin a transaction on it (see
    /// [`WriterSession::begin`]); held from the start, so a failure after `BEGIN` rolls back
    /// like any abandoned transaction.
    pub async fn begin(
        session: Arc<Mutex<WriterSession>>,
        pool: &SqlitePool,
    ) -> Result<Self, StoreError> {
        let mut tx = Self(Some(session.lock_owned().await));
        tx.begin(pool).await?;
        Ok(tx)
    }
}

impl std::ops::Deref for WriterTx {
    type Target = WriterSession;

    fn deref(&self) -> &WriterSession {
        self.0.as_deref().expect("held until dropped")
    }
}

impl std::ops::DerefMut for WriterTx {
    fn deref_mut(&mut self) -> &mut WriterSession {
        self.0.as_deref_mut().expect("held until dropped")
    }
}

impl Drop for WriterTx {
    fn drop(&mut self) {
        let Some(mut session) = self.0.take() else { return };
        if !session.open {
            return;
        }
        // The session stays locked until the rollback is done, so the next transaction
        // starts clean; without a runtime, `begin` rolls back instead.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { session.abandon().await });
        }
    }
}
