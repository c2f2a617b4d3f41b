//! The startup recovery report: how the previous run ended, what start-up found and did,
//! category by category, stored before the server reports SERVING. The store's integrity
//! scan may finish after SERVING: its category says `pending` until it updates the report.
//!
//! Each subsystem that recovers something at start-up (the store itself here; commands,
//! rollouts and restarts in their own modules) adds a [`Category`] with counts, ids and the
//! action taken, so the report accounts for everything.

use crate::error::Error;
use crate::model::process::ProcessInfo;
use crate::store::recovery::RecoveryReportRow;
use crate::store::{RunEnd, RunId, RunRecord, Store};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// At most this many ids are kept per category; the count is always exact.
pub const MAX_IDS: usize = 100;

/// How the run before this one ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviousRun {
    /// No earlier run in this database.
    FirstStart,
    /// It drained and recorded its clean end.
    CleanShutdown,
    /// It never recorded an end (killed, crashed, power loss) or stopped without draining.
    Crashed,
    /// The stored value is not one this build knows.
    Unknown,
}

impl PreviousRun {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FirstStart => "none",
            Self::CleanShutdown => "clean",
            Self::Crashed => "crashed",
            Self::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> Self {
        match text {
            "none" => Self::FirstStart,
            "clean" => Self::CleanShutdown,
            "crashed" | "unclean" => Self::Crashed,
            _ => Self::Unknown,
        }
    }
}

/// What recovery found and did about one kind of thing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    pub name: String,
    pub count: u64,
    pub ids: Vec<String>,
    pub ids_truncated: bool,
    pub action: String,
}

impl Category {
    /// A category from every id found (kept up to [`MAX_IDS`]).
    pub fn new(name: &str, ids: Vec<String>, action: impl Into<String>) -> Self {
        let count = ids.len() as u64;
        let ids_truncated = ids.len() > MAX_IDS;
        Self {
            name: name.to_owned(),
            count,
            ids: ids.into_iter().take(MAX_IDS).collect(),
            ids_truncated,
            action: action.into(),
        }
    }
}

/// How a hot-restart successor's handover and snapshot compared with the store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotCheck {
    /// What happened to the snapshot (`restored`, `missing`, …).
    pub outcome: String,
    /// The handover and snapshot were compared with the store.
    pub checked: bool,
    /// Each disagreement found; the store wins.
    pub discrepancies: Vec<String>,
    pub detail: String,
}

/// A stored report.
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveryReport {
    pub id: i64,
    pub run_id: RunId,
    pub started_at: DateTime<Utc>,
    pub duration: Duration,
    pub previous_run: PreviousRun,
    pub previous_run_id: Option<RunId>,
    pub categories: Vec<Category>,
    pub pid: u32,
    pub generation: u64,
    pub version: String,
    pub warnings: Vec<String>,
    /// The hot restart this process finishes (a successor), if any.
    pub restart_id: Option<String>,
    /// A successor's snapshot check.
    pub snapshot: Option<SnapshotCheck>,
}

/// The JSON body of a stored report.
#[derive(Debug, Serialize, Deserialize)]
struct Body {
    categories: Vec<Category>,
    pid: u32,
    generation: u64,
    version: String,
    warnings: Vec<String>,
    #[serde(default)]
    restart_id: Option<String>,
    #[serde(default)]
    snapshot: Option<SnapshotCheck>,
}

impl RecoveryReport {
    pub fn from_row(row: RecoveryReportRow) -> Self {
        let body: Body = serde_json::from_str(&row.report_json).unwrap_or(Body {
            categories: Vec::new(),
            pid: 0,
            generation: 0,
            version: String::new(),
            warnings: vec!["the stored report body could not be read".into()],
            restart_id: None,
            snapshot: None,
        });
        Self {
            id: row.id,
            run_id: row.run_id,
            started_at: row.started_at,
            duration: row.duration,
            previous_run: PreviousRun::parse(&row.previous_run),
            previous_run_id: row.previous_run_id,
            categories: body.categories,
            pid: body.pid,
            generation: body.generation,
            version: body.version,
            warnings: body.warnings,
            restart_id: body.restart_id,
            snapshot: body.snapshot,
        }
    }
}

/// The category of the store's own integrity check.
pub const STORE_INTEGRITY: &str = "store_integrity";
/// Its action while the check runs after SERVING.
pub const INTEGRITY_PENDING: &str = "pending: the integrity scan runs after the server reports \
    SERVING; this report is updated with its findings when it ends";

/// What the integrity check covers on a backend other than SQLite (whose check is its own
/// page-by-page scan), said in its category's action.
fn integrity_scope(backend: &str) -> &'static str {
    match backend {
        "postgres" => {
            " (rollout counters against their members, members against their commands; \
             page-level integrity is PostgreSQL's own: data checksums, amcheck)"
        }
        _ => "",
    }
}

impl RecoveryReport {
    /// Whether the store's integrity check is still to run (deferred until after SERVING).
    pub fn store_check_pending(&self) -> bool {
        self.categories.iter().any(|c| c.name == STORE_INTEGRITY && c.action == INTEGRITY_PENDING)
    }

    /// Put the integrity check's findings in the report, replacing a pending entry.
    fn set_store_check(&mut self, problems: Vec<String>, backend: &str) {
        let scope = integrity_scope(backend);
        let action = if problems.is_empty() {
            format!("integrity check passed{scope}")
        } else {
            self.warnings
                .push(format!("store integrity check found {} problem(s)", problems.len()));
            format!("the database reports damage{scope}: stop the server and restore from a backup")
        };
        let category = Category::new(STORE_INTEGRITY, problems, action);
        match self.categories.iter_mut().find(|c| c.name == STORE_INTEGRITY) {
            Some(pending) => *pending = category,
            None => self.categories.push(category),
        }
    }

    /// Run the integrity check left pending at start-up and store its findings in this
    /// (already stored) report.
    pub async fn finish_store_check(&mut self, store: &dyn Store) -> Result<(), Error> {
        let problems = store.integrity_problems().await?;
        self.set_store_check(problems, store.backend());
        store.update_recovery_report(self.id, &self.body_json()?).await?;
        Ok(())
    }

    /// The stored JSON body.
    fn body_json(&self) -> Result<String, Error> {
        let body = Body {
            categories: self.categories.clone(),
            pid: self.pid,
            generation: self.generation,
            version: self.version.clone(),
            warnings: self.warnings.clone(),
            restart_id: self.restart_id.clone(),
            snapshot: self.snapshot.clone(),
        };
        serde_json::to_string(&body).map_err(|e| Error::Internal(e.to_string()))
    }
}

/// Collects categories during start-up, then stores the report.
pub struct ReportBuilder {
    started: Instant,
    report: RecoveryReport,
}

impl ReportBuilder {
    /// Begin the report for `run` (just recorded by `begin_run`) of this `process`.
    pub fn new(run: &RunRecord, process: &ProcessInfo) -> Self {
        let (previous_run, previous_run_id) = match &run.previous {
            None => (PreviousRun::FirstStart, None),
            Some(previous) => {
                let kind = match previous.end {
                    RunEnd::Clean { .. } => PreviousRun::CleanShutdown,
                    RunEnd::Unclean { .. } | RunEnd::Crashed => PreviousRun::Crashed,
                };
                (kind, Some(previous.run_id))
            }
        };
        let mut report = RecoveryReport {
            id: 0,
            run_id: run.run_id,
            started_at: run.started_at,
            duration: Duration::ZERO,
            previous_run,
            previous_run_id,
            categories: Vec::new(),
            pid: process.pid,
            generation: process.generation,
            version: crate::health::VERSION.to_owned(),
            warnings: Vec::new(),
            restart_id: None,
            snapshot: None,
        };
        if let Some(previous) = &run.previous
            && matches!(previous.end, RunEnd::Unclean { .. })
        {
            report.warnings.push(format!(
                "run {} stopped without finishing its drain; in-flight work may have been cut",
                previous.run_id
            ));
        }
        Self { started: Instant::now(), report }
    }

    /// This process is a hot-restart successor: its predecessor is handing over (still
    /// draining, so its run has no end yet) rather than crashed; it finishes `restart_id`.
    pub fn handover(&mut self, restart_id: Option<uuid::Uuid>) {
        self.report.restart_id = restart_id.map(|id| id.to_string());
        if self.report.previous_run == PreviousRun::Crashed {
            self.report.previous_run = PreviousRun::CleanShutdown;
        }
        let ids = self.report.previous_run_id.map(|id| id.to_string()).into_iter().collect();
        let action = format!("took over the listeners as generation {}", self.report.generation);
        self.add(Category::new("hot_restart", ids, action));
    }

    pub fn previous_run(&self) -> PreviousRun {
        self.report.previous_run
    }

    pub fn add(&mut self, category: Category) {
        self.report.categories.push(category);
    }

    pub fn snapshot(&mut self, check: SnapshotCheck) {
        self.report.snapshot = Some(check);
    }

    pub fn warn(&mut self, warning: impl Into<String>) {
        self.report.warnings.push(warning.into());
    }

    /// Check the store's own integrity now (always part of the report).
    pub async fn check_store(&mut self, store: &dyn Store) -> Result<(), Error> {
        let problems = store.integrity_problems().await?;
        self.report.set_store_check(problems, store.backend());
        Ok(())
    }

    /// Leave the store's integrity check for after SERVING ([`RecoveryReport::finish_store_check`]
    /// updates the stored report): the report says it is pending meanwhile.
    pub fn defer_store_check(&mut self) {
        self.add(Category::new(STORE_INTEGRITY, Vec::new(), INTEGRITY_PENDING));
    }

    /// Store the report and return it with its id.
    pub async fn finish(mut self, store: &dyn Store) -> Result<RecoveryReport, Error> {
        self.report.duration = self.started.elapsed();
        let report = &self.report;
        let row = RecoveryReportRow {
            id: 0,
            run_id: report.run_id,
            started_at: report.started_at,
            duration: report.duration,
            previous_run: report.previous_run.as_str().to_owned(),
            previous_run_id: report.previous_run_id,
            report_json: report.body_json()?,
        };
        self.report.id = store.insert_recovery_report(&row).await?;
        Ok(self.report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reports_say_how_the_previous_run_ended_and_are_stored() {
        let store = crate::store::open("sqlite::memory:").await.unwrap();
        let process = ProcessInfo::current(0, String::new());
        let first = store.begin_run(1, 0).await.unwrap();
        let mut builder = ReportBuilder::new(&first, &process);
        assert_eq!(builder.previous_run(), PreviousRun::FirstStart);
        builder.check_store(store.as_ref()).await.unwrap();
        let report = builder.finish(store.as_ref()).await.unwrap();
        assert_eq!(report.categories[0].name, "store_integrity");
        assert_eq!(report.categories[0].count, 0);

        // No end recorded: the next run sees a crash.
        let second = store.begin_run(2, 0).await.unwrap();
        let report = ReportBuilder::new(&second, &process).finish(store.as_ref()).await.unwrap();
        assert_eq!(report.previous_run, PreviousRun::Crashed);
        assert_eq!(report.previous_run_id, Some(first.run_id));

        let stored =
            RecoveryReport::from_row(store.get_recovery_report(None).await.unwrap().unwrap());
        assert_eq!(
            (stored.id, stored.run_id, stored.previous_run, stored.previous_run_id, stored.pid),
            (report.id, report.run_id, report.previous_run, report.previous_run_id, report.pid)
        );
        assert_eq!(stored.started_at.timestamp_millis(), report.started_at.timestamp_millis());
        let crashed = store.list_recovery_reports(None, 10, Some("crashed")).await.unwrap();
        assert_eq!(crashed.len(), 1);
    }

    #[test]
    fn categories_keep_exact_counts_but_bounded_ids() {
        let ids: Vec<String> = (0..250).map(|i| i.to_string()).collect();
        let category = Category::new("commands_expired", ids, "marked expired");
        assert_eq!(
            (category.count, category.ids.len(), category.ids_truncated),
            (250, MAX_IDS, true)
        );
    }
}
