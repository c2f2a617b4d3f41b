//! The ledger of device-message copies on PostgreSQL (`device_message_copies`): how many
//! copies of each device message (named by its digest) each process has counted.
//!
//! Every replica keeps its own MQTT session subscribed to every device topic, so each device
//! message reaches each replica once (QoS 1 may add a redelivery). A process's k-th copy of a
//! message is the device's k-th send unless another process counted a k-th copy first; then it
//! is the same send arriving through another session and must change nothing. Counting runs
//! inside the device area's write transaction, which holds the lock of every device of the
//! batch (a digest covers the topic, so it is of one device), so two processes never decide
//! the same copy at once. Rows a day old are dropped: a copy arriving later than that
//! (a replica down for a day with its session kept) is taken for a new send.

use std::collections::HashMap;

use sqlx::PgConnection;
use uuid::Uuid;

use crate::store::StoreError;

/// How long a message's counts are kept.
const KEEP_MS: i64 = 24 * 3600 * 1000;

/// Adds this process's copies and returns, per digest, its count now and the highest count
/// of any other process.
const COUNT: &str = "WITH mine AS ( \
        INSERT INTO device_message_copies (digest, process, copies, seen_ms) \
        SELECT digest, $3, n, $4 FROM UNNEST($1::TEXT[], $2::BIGINT[]) AS b(digest, n) \
        ON CONFLICT (digest, process) DO UPDATE \
        SET copies = device_message_copies.copies + EXCLUDED.copies, seen_ms = EXCLUDED.seen_ms \
        RETURNING digest, copies) \
    SELECT mine.digest, mine.copies, COALESCE((SELECT MAX(o.copies) FROM device_message_copies o \
        WHERE o.digest = mine.digest AND o.process <> $3), 0) \
    FROM mine";

/// Counts `process`'s copies of `digests` (in arrival order, repeats allowed) and says of each
/// whether another process already counted that copy.
pub(super) async fn seen_elsewhere(
    conn: &mut PgConnection,
    process: Uuid,
    now_ms: i64,
    digests: &[String],
) -> Result<Vec<bool>, StoreError> {
    if digests.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query("DELETE FROM device_message_copies WHERE seen_ms < $1")
        .bind(now_ms - KEEP_MS)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::query("tx.copies"))?;
    let mut in_batch: HashMap<&str, i64> = HashMap::new();
    for digest in digests {
        *in_batch.entry(digest).or_default() += 1;
    }
    let (names, counts): (Vec<String>, Vec<i64>) =
        in_batch.iter().map(|(d, n)| ((*d).to_owned(), *n)).unzip();
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(COUNT)
        .bind(names)
        .bind(counts)
        .bind(process.to_string())
        .bind(now_ms)
        .fetch_all(conn)
        .await
        .map_err(StoreError::query("tx.copies"))?;
    // The copy number the batch's first copy of each digest has, and the others' count.
    let mut next: HashMap<String, (i64, i64)> = rows
        .into_iter()
        .map(|(digest, mine, others)| {
            let first = mine - in_batch[digest.as_str()] + 1;
            (digest, (first, others))
        })
        .collect();
    digests
        .iter()
        .map(|digest| {
            let (copy, others) = next
                .get_mut(digest)
                .ok_or_else(|| StoreError::decode("tx.copies", "digest not counted"))?;
            let elsewhere = *copy <= *others;
            *copy += 1;
            Ok(elsewhere)
        })
        .collect()
}
