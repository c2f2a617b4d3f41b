//! `rebound.v1.RecoveryService`: startup recovery reports, retention cleanup, online backups
//! and the audit log.

use super::convert::{duration, from_duration, from_timestamp, timestamp};
use super::page;
use crate::config::ConfigHandle;
use crate::error::Error;
use crate::lifecycle::restart::SnapshotOutcome;
use crate::proto::v1 as pb;
use crate::proto::v1::recovery_service_server::RecoveryService;
use crate::recovery::report::{PreviousRun, RecoveryReport};
use crate::recovery::{backup, retention};
use crate::store::Store;
use crate::store::audit::{AuditQuery, AuditRow};
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// Serves reports, cleanup, backups and audit events.
#[derive(Clone)]
pub struct RecoveryApi {
    store: Arc<dyn Store>,
    config: ConfigHandle,
}

impl RecoveryApi {
    pub fn new(store: Arc<dyn Store>, config: ConfigHandle) -> Self {
        Self { store, config }
    }
}

#[tonic::async_trait]
impl RecoveryService for RecoveryApi {
    #[tracing::instrument(name = "recovery.get_report", skip_all)]
    async fn get_recovery_report(
        &self,
        request: Request<pb::GetRecoveryReportRequest>,
    ) -> Result<Response<pb::GetRecoveryReportResponse>, Status> {
        let id = request.into_inner().report_id;
        let wanted = report_id(&id)?;
        let row = self.store.get_recovery_report(wanted).await.map_err(Error::from)?;
        let row = row.ok_or_else(|| Error::NotFound {
            kind: "recovery report",
            id: if id.is_empty() { "(latest)".into() } else { id },
        })?;
        Ok(Response::new(pb::GetRecoveryReportResponse {
            report: Some(report_to_proto(RecoveryReport::from_row(row))),
        }))
    }

    #[tracing::instrument(name = "recovery.list_reports", skip_all)]
    async fn list_recovery_reports(
        &self,
        request: Request<pb::ListRecoveryReportsRequest>,
    ) -> Result<Response<pb::ListRecoveryReportsResponse>, Status> {
        let request = request.into_inner();
        let limit = page::size(request.page_size)?;
        let previous = match pb::PreviousRun::try_from(request.previous_run) {
            Ok(pb::PreviousRun::Unspecified) => None,
            Ok(kind) => Some(previous_from_proto(kind).as_str()),
            Err(_) => return Err(Error::invalid_argument("previous_run", "unknown value").into()),
        };
        let before_id = page::decode::<i64>(&request.page_token, &previous)?;
        let rows = self
            .store
            .list_recovery_reports(before_id, limit, previous)
            .await
            .map_err(Error::from)?;
        let mut reports: Vec<_> =
            rows.iter().map(|row| report_to_proto(RecoveryReport::from_row(row.clone()))).collect();
        let next_page_token = page::finish(&mut reports, &rows, limit, |r| r.id, &previous);
        Ok(Response::new(pb::ListRecoveryReportsResponse { reports, next_page_token }))
    }

    #[tracing::instrument(name = "recovery.cleanup", skip_all)]
    async fn run_cleanup(
        &self,
        request: Request<pb::RunCleanupRequest>,
    ) -> Result<Response<pb::RunCleanupResponse>, Status> {
        let request = request.into_inner();
        let settings = self.config.config().retention;
        let age = match request.retention {
            Some(value) => {
                let age = from_duration("retention", &value)?;
                if age.is_zero() {
                    return Err(Error::invalid_argument("retention", "must be positive").into());
                }
                age
            }
            None if settings.enabled() => settings.max_age(),
            None => {
                return Err(Error::FailedPrecondition(
                    "retention is off (retention.days = 0); pass retention to clean up anyway"
                        .into(),
                )
                .into());
            }
        };
        let report =
            retention::run_cleanup(self.store.as_ref(), age, settings.batch_size, request.dry_run)
                .await?;
        Ok(Response::new(pb::RunCleanupResponse {
            dry_run: report.dry_run,
            cutoff: Some(timestamp(report.cutoff)),
            total_rows: report.total(),
            tables: report
                .tables
                .iter()
                .map(|(table, rows)| pb::CleanupTableCount {
                    table: table.name().to_owned(),
                    rows: *rows,
                })
                .collect(),
            batches: report.batches,
            duration: Some(duration(report.duration)),
        }))
    }

    #[tracing::instrument(name = "recovery.backup_rpc", skip_all)]
    async fn backup(
        &self,
        request: Request<pb::BackupRequest>,
    ) -> Result<Response<pb::BackupResponse>, Status> {
        let path = request.into_inner().path;
        if path.trim().is_empty() {
            return Err(Error::invalid_argument("path", "must not be empty").into());
        }
        let done = backup::backup(self.store.as_ref(), &path).await?;
        Ok(Response::new(pb::BackupResponse {
            path: done.path.display().to_string(),
            size_bytes: done.size_bytes,
            duration: Some(duration(done.duration)),
            sha256: done.sha256,
            completed_at: Some(timestamp(done.completed_at)),
        }))
    }

    #[tracing::instrument(name = "recovery.list_audit", skip_all)]
    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Result<Response<pb::ListAuditEventsResponse>, Status> {
        let request = request.into_inner();
        let limit = page::size(request.page_size)?;
        let since = request.since.map(|t| from_timestamp("since", &t)).transpose()?;
        let until = request.until.map(|t| from_timestamp("until", &t)).transpose()?;
        if let (Some(since), Some(until)) = (since, until)
            && until <= since
        {
            return Err(Error::invalid_argument("until", "must be after since").into());
        }
        let outcome = match pb::AuditOutcome::try_from(request.outcome) {
            Ok(pb::AuditOutcome::Unspecified) => None,
            Ok(pb::AuditOutcome::Succeeded) => Some("succeeded"),
            Ok(pb::AuditOutcome::Failed) => Some("failed"),
            Ok(pb::AuditOutcome::Denied) => Some("denied"),
            Err(_) => return Err(Error::invalid_argument("outcome", "unknown value").into()),
        };
        let mut query = AuditQuery {
            before_id: None,
            limit,
            principal: Some(request.principal).filter(|p| !p.is_empty()),
            rpc: Some(request.rpc).filter(|r| !r.is_empty()),
            since,
            until,
            outcome: outcome.map(str::to_owned),
        };
        // The filters, without the position, bind the token.
        let filters = AuditQuery { before_id: None, ..query.clone() };
        query.before_id = page::decode::<i64>(&request.page_token, &filters)?;
        let rows = self.store.list_audit_events(&query).await.map_err(Error::from)?;
        let mut events: Vec<_> = rows.iter().cloned().map(audit_to_proto).collect();
        let next_page_token = page::finish(&mut events, &rows, limit, |r| r.id, &filters);
        Ok(Response::new(pb::ListAuditEventsResponse { events, next_page_token }))
    }
}

/// `report_id`: empty for the latest report, else the decimal id the server served.
fn report_id(text: &str) -> Result<Option<i64>, Error> {
    if text.is_empty() {
        return Ok(None);
    }
    text.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| text.parse::<i64>().ok())
        .flatten()
        .map(Some)
        .ok_or_else(|| Error::invalid_argument("report_id", "not a report id (a decimal number)"))
}

fn previous_from_proto(kind: pb::PreviousRun) -> PreviousRun {
    match kind {
        pb::PreviousRun::FirstStart => PreviousRun::FirstStart,
        pb::PreviousRun::CleanShutdown => PreviousRun::CleanShutdown,
        pb::PreviousRun::Crashed => PreviousRun::Crashed,
        pb::PreviousRun::Unknown | pb::PreviousRun::Unspecified => PreviousRun::Unknown,
    }
}

fn report_to_proto(report: RecoveryReport) -> pb::RecoveryReport {
    pb::RecoveryReport {
        report_id: report.id.to_string(),
        started_at: Some(timestamp(report.started_at)),
        duration: Some(duration(report.duration)),
        previous_run: match report.previous_run {
            PreviousRun::FirstStart => pb::PreviousRun::FirstStart,
            PreviousRun::CleanShutdown => pb::PreviousRun::CleanShutdown,
            PreviousRun::Crashed => pb::PreviousRun::Crashed,
            PreviousRun::Unknown => pb::PreviousRun::Unknown,
        } as i32,
        categories: report
            .categories
            .into_iter()
            .map(|c| pb::RecoveryCategory {
                name: c.name,
                count: c.count,
                ids: c.ids,
                ids_truncated: c.ids_truncated,
                action: c.action,
            })
            .collect(),
        snapshot: report.snapshot.map(|check| pb::SnapshotConsistency {
            snapshot: super::restart::convert::snapshot(SnapshotOutcome::parse(&check.outcome))
                as i32,
            consistent: check.checked && check.discrepancies.is_empty(),
            checked: check.checked,
            discrepancies: check.discrepancies,
            detail: check.detail,
        }),
        pid: report.pid,
        generation: report.generation,
        restart_id: report.restart_id.unwrap_or_default(),
        version: report.version,
        warnings: report.warnings,
    }
}

fn audit_to_proto(row: AuditRow) -> pb::AuditEvent {
    pb::AuditEvent {
        event_id: row.id.to_string(),
        occurred_at: Some(timestamp(row.at)),
        principal: row.principal,
        role: row.role.unwrap_or_default(),
        peer: row.peer,
        rpc: row.rpc,
        arguments: row.arguments,
        outcome: match row.outcome.as_str() {
            "succeeded" => pb::AuditOutcome::Succeeded,
            "denied" => pb::AuditOutcome::Denied,
            _ => pb::AuditOutcome::Failed,
        } as i32,
        code: row.code,
        message: row.message.unwrap_or_default(),
        trace_id: row.trace_id.unwrap_or_default(),
        duration: Some(duration(row.duration)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_ids_are_decimal() {
        assert_eq!(report_id("").unwrap(), None);
        assert_eq!(report_id("42").unwrap(), Some(42));
        for bad in
            ["5d7e0f8a-8c1e-4d2b-9a55-0b9f1a2c3d4e", "+4", " 4", "-1", "99999999999999999999"]
        {
            let err = report_id(bad).unwrap_err().to_string();
            assert_eq!(err, "report_id: not a report id (a decimal number)", "{bad}");
        }
    }
}
