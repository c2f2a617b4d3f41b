//! The device area's writer connection, and the command and device rows its committed
//! transactions left behind.
//!
//! It is a rusqlite connection, not one of sqlx's: a transaction's statements run
//! synchronously on the thread of the task that holds it (inside `block_in_place` for the
//! long ones, see [`blocking`]), where sqlx would send each statement to the connection's own
//! thread and wake the task again for its result. Replaying a rollout's writes both ways
//! (docs/benchmarks.md) took a third less time and CPU on this connection. Both libraries
//! link the same SQLite (`libsqlite3-sys`), and the pool's connections stay sqlx's.
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
//! commit, e.g. on an error path) is rolled back when it is dropped, so that the write lock
//! goes back to the other connections right away.
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

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::ids::IdMap;
use crate::model::clients::ClientRecord;
use crate::model::commands::CommandRecord;
use crate::model::durability::Durability;
use crate::store::{StoreError, WriteHealth};

/// Most open commands remembered; past this they are forgotten and read again.
const MAX_COMMANDS: usize = 200_000;
/// Most devices remembered; past this they are forgotten and read again.
const MAX_CLIENTS: usize = 200_000;
/// Prepared statements the writer connection keeps: every fleet statement plus up to nine
/// multi-row shapes of each kind, and of each of the command updates' column sets (at most
/// `shapes::MAX_VARIANTS`), stay prepared (see `shapes.rs`).
const WRITER_STATEMENTS: usize = 256;
/// Page cache of the writer connection, KiB (SQLite's default is 2,000). Every fleet
/// transaction touches the newest pages of each device table and index; with the default a
/// 1000-device rollout's database no longer fits and pages are read back from the file.
/// Pages are allocated as they are first read, so a small database uses what it has.
const WRITER_CACHE_KIB: i64 = 32 * 1024;

/// Run `work`, which blocks on SQLite, from async code: on a multi-threaded runtime the
/// worker hands its other tasks over first (`block_in_place`), so a long flush or an fsync
/// does not hold them up; elsewhere (a current-thread runtime, as in tests) it just runs, and
/// a `BEGIN IMMEDIATE` waiting for another connection's write lock then holds up the whole
/// runtime (up to the busy timeout): tests that write through the pool and the device area at
/// once need a multi-threaded runtime.
pub(super) fn blocking<T>(work: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

/// Where and how the writer connects: the database file and the store's durability.
#[derive(Debug, Clone)]
pub(super) struct WriterTarget {
    pub path: PathBuf,
    pub durability: Durability,
    pub busy_timeout: Duration,
    /// Where the outcome of every transaction is recorded.
    pub writes: Arc<WriteHealth>,
}

/// The connection and what it remembers. Held (locked) by one transaction at a time.
pub(super) struct WriterSession {
    target: WriterTarget,
    conn: Option<Connection>,
    /// A transaction was begun and not yet committed: [`WriterTx`] rolls it back when it is
    /// dropped so.
    open: bool,
    /// When the transaction in progress began (for `rebound_store_transaction_seconds`).
    begun: Option<std::time::Instant>,
    pub rows: RememberedRows,
}

impl std::fmt::Debug for WriterSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterSession")
            .field("target", &self.target)
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
    pub commands: IdMap<CommandRecord>,
    pub clients: IdMap<ClientRecord>,
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
        commands: IdMap<Option<CommandRecord>>,
        clients: IdMap<Option<ClientRecord>>,
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
    pub fn new(target: WriterTarget) -> Self {
        Self { target, conn: None, open: false, begun: None, rows: RememberedRows::default() }
    }

    /// Open the connection with the pool's settings (the file exists and is migrated).
    fn connect(target: &WriterTarget) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&target.path, flags)?;
        conn.busy_timeout(target.busy_timeout)?;
        let synchronous = match target.durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", synchronous)?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
        conn.set_prepared_statement_cache_capacity(WRITER_STATEMENTS);
        Ok(conn)
    }

    /// Begin a write transaction (connecting first if needed); forget the remembered rows
    /// if anybody else committed since they were valid. A failure is recorded as a failed
    /// write.
    fn begin(&mut self) -> Result<(), StoreError> {
        self.begun = Some(std::time::Instant::now());
        let begun = self.try_begin();
        if let Err(err) = &begun {
            self.target.writes.failed(err);
            self.close_if_read_only();
        }
        begun
    }

    fn try_begin(&mut self) -> Result<(), StoreError> {
        const OP: &str = "fleet_tx";
        if self.conn.is_none() {
            self.conn = Some(Self::connect(&self.target).map_err(StoreError::statement(OP))?);
        }
        let conn = self.conn()?;
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            self.rows.forget();
            return Err(StoreError::statement(OP)(e));
        }
        self.open = true;
        let version: i64 = self
            .conn()?
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
            .map_err(StoreError::statement(OP))?;
        if self.rows.version != Some(version) {
            self.rows.forget();
            self.rows.version = Some(version);
        }
        Ok(())
    }

    /// The connection, inside the transaction [`Self::begin`] started.
    pub fn conn(&self) -> Result<&Connection, StoreError> {
        self.conn.as_ref().ok_or_else(|| StoreError::decode("fleet_tx", "not connected"))
    }

    /// Roll back an abandoned transaction and forget what it remembered; a connection that
    /// cannot roll back is closed (which rolls back) and opened again by the next `begin`.
    /// Some errors (a full disk, an I/O error) make SQLite roll back on its own: then there
    /// is nothing left to roll back and the connection is kept.
    fn abandon(&mut self) {
        self.rows.forget();
        let rolled_back = match self.conn.as_ref() {
            Some(conn) => conn.is_autocommit() || conn.execute_batch("ROLLBACK").is_ok(),
            None => true,
        };
        if rolled_back {
            self.open = false;
        } else {
            self.close();
        }
    }

    /// Commit. On failure the transaction counts as abandoned (rolled back before the next).
    pub fn commit(&mut self) -> Result<(), StoreError> {
        self.conn()?.execute_batch("COMMIT").map_err(StoreError::statement("tx.commit"))?;
        self.open = false;
        Ok(())
    }

    /// Record how a transaction's writes and commit (`result`) went. After a failure, a
    /// connection SQLite opened read-only (the file was write-protected when it connected)
    /// is closed, so that the next transaction connects again and sees a file made writable
    /// since.
    pub fn finish(&mut self, result: Result<(), StoreError>) -> Result<(), StoreError> {
        if let Some(begun) = self.begun.take() {
            crate::metrics::metrics().store_transaction("fleet_tx", begun.elapsed());
        }
        let result = self.target.writes.record(result);
        if result.is_err() {
            self.close_if_read_only();
        }
        result
    }

    fn close_if_read_only(&mut self) {
        let read_only = self
            .conn
            .as_ref()
            .is_some_and(|conn| conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(true));
        if read_only {
            self.close();
        }
    }

    /// Close the connection (the store is closing); an open transaction is rolled back.
    pub fn close(&mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = conn.close();
        }
        self.open = false;
        self.rows.forget();
    }
}

/// The writer connection as held by one transaction; rolls back if dropped while open.
pub(super) struct WriterTx(OwnedMutexGuard<WriterSession>);

impl WriterTx {
    /// Wait for the writer connection and begin a transaction on it (see
    /// [`WriterSession::begin`]); held from the start, so a failure after `BEGIN` rolls back
    /// like any abandoned transaction.
    pub async fn begin(session: Arc<Mutex<WriterSession>>) -> Result<Self, StoreError> {
        let mut tx = Self(session.lock_owned().await);
        blocking(|| tx.0.begin())?;
        Ok(tx)
    }
}

impl std::ops::Deref for WriterTx {
    type Target = WriterSession;

    fn deref(&self) -> &WriterSession {
        &self.0
    }
}

impl std::ops::DerefMut for WriterTx {
    fn deref_mut(&mut self) -> &mut WriterSession {
        &mut self.0
    }
}

impl Drop for WriterTx {
    fn drop(&mut self) {
        // Dropped without commit (an error path, a cancelled task): roll back now, so the
        // write lock goes back to the other connections and the next transaction starts clean.
        if self.0.open {
            self.0.abandon();
        }
    }
}
