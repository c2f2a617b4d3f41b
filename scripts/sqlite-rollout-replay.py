#!/usr/bin/env python3
"""Replays the SQLite statements of one 1000-device rollout on the real schema, without the
server: what the statements alone cost, per kind, so a schema or key change can be judged
before the server is rebuilt. Not part of the test command; docs/benchmarks.md quotes it.

    python3 scripts/sqlite-rollout-replay.py              # time-ordered (v7) command ids
    python3 scripts/sqlite-rollout-replay.py --random-ids # random (v4) ids, as before 2026-11-23
    python3 scripts/sqlite-rollout-replay.py --sql "DROP INDEX commands_finished"

The database (WAL, synchronous=FULL, temp_store=MEMORY, foreign keys on, every migration in
migrations/) lives in a temporary directory. It holds 1000 devices and 8 finished rollouts
before 4 rollouts are measured. A rollout is stored the way the server stores it: members
first; then 4 transactions of 250 issued commands (multi-row insert, creating events, member
assignments); then per 250 commands one transaction moving them to `published` and one to
`completed` (multi-row `UPDATE … FROM (VALUES …)`, one event per transition). Printed: ms per
rollout of each statement kind, with Python's sqlite3 (SQLite's own time plus a little
binding; the server's sqlx adds its own on top).
"""

import argparse
import glob
import os
import random
import sqlite3
import tempfile
import time
import uuid

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
COLUMNS = [c.strip() for c in """command_id, client_uuid, action, state, reason, requested_by,
    source, params_hash, principal, issued_ms, expires_ms, published_ms, accepted_ms, started_ms,
    finished_ms, deadline_ms, offline_seen_ms, boot_id_at_issue, boot_id_at_completion,
    error_code, error_message, late_outcome, late_outcome_ms, late_error_code,
    late_error_message, late_boot_id, completion_evidence, ignored_acks, rollout_id,
    trace_parent, last_ack_topic, updated_ms""".split(",")]
# Set at issue and never rewritten by an update (src/store/sqlite/rows.rs).
FIXED = {"client_uuid", "action", "reason", "requested_by", "source", "params_hash",
         "principal", "issued_ms", "rollout_id", "trace_parent"}
PIECE = 250
DEVICES = 1000


def rows_sql(columns, rows):
    row = "(" + ",".join("?" * columns) + ")"
    return ",".join([row] * rows)


class Replay:
    def __init__(self, db, random_ids):
        self.db = db
        self.random_ids = random_ids
        self.counter = 0
        self.event_id = 0
        self.now = int(time.time() * 1000)
        self.spent = {}

    def command_id(self):
        if self.random_ids:
            return str(uuid.uuid4())
        self.counter += 1
        millis = int(time.time() * 1000)
        bits = (millis << 80) | (0x7 << 76) | (self.counter << 16) | random.getrandbits(16)
        return str(uuid.UUID(int=bits))

    def timed(self, kind, statement):
        started = time.perf_counter()
        statement()
        self.spent[kind] = self.spent.get(kind, 0.0) + time.perf_counter() - started

    def record(self, command, rollout, client, state, **changed):
        row = dict.fromkeys(COLUMNS)
        row.update(command_id=command, client_uuid=client, action="restart_app", state=state,
                   source="rollout", params_hash="x" * 64, principal="system",
                   issued_ms=self.now, expires_ms=self.now + 600_000, ignored_acks=0,
                   rollout_id=rollout, updated_ms=self.now)
        row.update(changed)
        return [row[c] for c in COLUMNS]

    def in_pieces(self, rows, statement):
        for i in range(0, len(rows), PIECE):
            piece = rows[i:i + PIECE]
            self.db.execute(statement(len(piece)), [v for row in piece for v in row])

    def insert_commands(self, rows):
        self.in_pieces(rows, lambda n: f"INSERT INTO commands ({', '.join(COLUMNS)}) "
                                       f"VALUES {rows_sql(len(COLUMNS), n)}")

    def update_commands(self, rows):
        sets = ", ".join(f"{c} = v.column{i + 1}" for i, c in enumerate(COLUMNS)
                         if i > 0 and c not in FIXED)
        self.in_pieces(rows, lambda n: f"UPDATE commands SET {sets} FROM (VALUES "
                                       f"{rows_sql(len(COLUMNS), n)}) AS v "
                                       "WHERE commands.command_id = v.column1")

    def insert_events(self, transitions):
        rows = []
        for command, before, after in transitions:
            self.event_id += 1
            rows.append((self.event_id, command, self.now, before, after, "mqtt", None))
        self.in_pieces(rows, lambda n: "INSERT INTO command_events (id, command_id, at_ms, "
                                       f"from_state, to_state, source, detail) VALUES {rows_sql(7, n)}")

    def assign_members(self, rollout, pairs):
        rows = [(rollout, client, command) for client, command in pairs]
        self.in_pieces(rows, lambda n: "UPDATE rollout_members SET command_id = v.column3 FROM "
                                       f"(VALUES {rows_sql(3, n)}) AS v WHERE rollout_members.rollout_id "
                                       "= v.column1 AND rollout_members.client_uuid = v.column2")

    def rollout(self, clients):
        db = self.db
        rollout = str(uuid.uuid4())
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO rollouts (rollout_id, action, target_json, max_per_minute, "
                   "abort_failure_percent, min_finished, state, created_ms, updated_ms) "
                   "VALUES (?, 'restart_app', '{\"all\":true}', 100000, 5.0, 10, 'running', ?, ?)",
                   (rollout, self.now, self.now))
        self.in_pieces([(rollout, c, 1) for c in clients],
                       lambda n: f"INSERT INTO rollout_members (rollout_id, client_uuid, wave) VALUES {rows_sql(3, n)}")
        db.execute("COMMIT")
        issued = []
        for start in range(0, len(clients), PIECE):
            piece = clients[start:start + PIECE]
            ids = [self.command_id() for _ in piece]
            db.execute("BEGIN IMMEDIATE")
            self.timed("issue: insert commands", lambda: self.insert_commands(
                [self.record(c, rollout, k, "queued") for c, k in zip(ids, piece)]))
            self.timed("issue: events", lambda: self.insert_events([(c, None, "queued") for c in ids]))
            self.timed("issue: assign members", lambda: self.assign_members(rollout, list(zip(piece, ids))))
            self.timed("commit", lambda: db.execute("COMMIT"))
            issued += list(zip(ids, piece))
        for start in range(0, len(issued), PIECE):
            piece = issued[start:start + PIECE]
            db.execute("BEGIN IMMEDIATE")
            self.timed("ingest: update commands", lambda: self.update_commands(
                [self.record(c, rollout, k, "published", published_ms=self.now) for c, k in piece]))
            self.timed("ingest: events", lambda: self.insert_events(
                [(c, "queued", "published") for c, _ in piece]))
            self.timed("commit", lambda: db.execute("COMMIT"))
            db.execute("BEGIN IMMEDIATE")
            done = dict(published_ms=self.now, accepted_ms=self.now, started_ms=self.now,
                        finished_ms=self.now, completion_evidence="ack", last_ack_topic="canonical")
            self.timed("ingest: update commands", lambda: self.update_commands(
                [self.record(c, rollout, k, "completed", **done) for c, k in piece]))
            steps = [("published", "accepted"), ("accepted", "execution_started"),
                     ("execution_started", "completed")]
            self.timed("ingest: events", lambda: self.insert_events(
                [(c, a, b) for c, _ in piece for a, b in steps]))
            self.timed("commit", lambda: db.execute("COMMIT"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--random-ids", action="store_true", help="random (v4) command ids")
    parser.add_argument("--sql", action="append", default=[],
                        help="a statement run after the migrations (e.g. to drop an index)")
    parser.add_argument("--rollouts", type=int, default=4, help="rollouts measured")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(os.path.join(tmp, "replay.db"), isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "temp_store=MEMORY", "foreign_keys=ON"):
            db.execute(f"PRAGMA {pragma}")
        for migration in sorted(glob.glob(os.path.join(ROOT, "migrations", "*.sql"))):
            with open(migration) as f:
                db.executescript(f.read())
        for statement in args.sql:
            db.executescript(statement)
        replay = Replay(db, args.random_ids)
        clients = [str(uuid.uuid4()) for _ in range(DEVICES)]
        db.execute("BEGIN")
        db.executemany("INSERT INTO clients (client_uuid, first_seen_ms, last_seen_ms, updated_ms) "
                       "VALUES (?, ?, ?, ?)", [(c, replay.now, replay.now, replay.now) for c in clients])
        db.execute("COMMIT")
        for _ in range(8):
            replay.rollout(clients)
        replay.spent = {}
        for _ in range(args.rollouts):
            replay.rollout(clients)
        per_rollout = {k: v * 1000 / args.rollouts for k, v in replay.spent.items()}
        print(f"SQLite {sqlite3.sqlite_version}, {DEVICES} devices, ms per rollout (mean of {args.rollouts}):")
        for kind, ms in sorted(per_rollout.items()):
            print(f"  {kind:26} {ms:7.1f}")
        print(f"  {'total':26} {sum(per_rollout.values()):7.1f}")


if __name__ == "__main__":
    main()
