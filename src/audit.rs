//! The audit row of one call, written in the same transaction as the change the call makes.
//!
//! The RPC layer (`api::audit`) prepares the row of every mutating call before it runs and
//! hands the domain an [`AuditSlot`]. Operations that change stored state in one transaction
//! take the row from the slot ([`AuditSlot::row`] / [`AuditSlot::row_for`]) and write it in that
//! transaction; once it has committed they call [`AuditSlot::committed`], and the layer does
//! not write the row again. A call that fails before committing anything (or that has no
//! single transaction, such as a backup) is written by the layer once its status is known.
//! No transport types here: the error-to-code mapping is handed in by the layer.

use crate::error::Error;
use crate::store::audit::AuditRow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Longest status message stored with an audit row, in bytes; longer ones are cut and end
/// in `…`. A refused request may carry megabytes; its row must not.
pub const MAX_MESSAGE: usize = 1024;

/// The gRPC code name (`RESOURCE_EXHAUSTED`) of a domain error, as the API answers it.
pub type CodeOf = fn(&Error) -> String;

/// Where one call's audit row goes. `AuditSlot::default()` audits nothing (calls from
/// inside the server, tests).
#[derive(Clone, Default)]
pub struct AuditSlot(Option<Arc<Slot>>);

struct Slot {
    /// Everything but the outcome, code, message and duration.
    template: AuditRow,
    started: Instant,
    code_of: CodeOf,
    committed: AtomicBool,
}

/// `succeeded`, `denied` or `failed`, from a gRPC code name.
pub fn outcome(code: &str) -> &'static str {
    match code {
        "OK" => "succeeded",
        "UNAUTHENTICATED" | "PERMISSION_DENIED" => "denied",
        _ => "failed",
    }
}

impl std::fmt::Debug for AuditSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(slot) => write!(f, "AuditSlot({})", slot.template.rpc),
            None => f.write_str("AuditSlot(none)"),
        }
    }
}

impl AuditSlot {
    /// A slot for the call described by `template`, started at `started`.
    pub fn new(template: AuditRow, started: Instant, code_of: CodeOf) -> Self {
        Self(Some(Arc::new(Slot { template, started, code_of, committed: AtomicBool::new(false) })))
    }

    /// The row of a call that succeeds with the change about to commit; `None` when there
    /// is nothing to audit.
    pub fn row(&self) -> Option<AuditRow> {
        self.finished("OK".to_owned(), None)
    }

    /// The row of a call that commits a change and then answers `error` (a command stored
    /// as rejected by the safety lockout).
    pub fn row_for(&self, error: &Error) -> Option<AuditRow> {
        let slot = self.0.as_ref()?;
        self.finished((slot.code_of)(error), Some(error.to_string()))
    }

    /// The row of the call answered with the gRPC code name `code` (and `message`).
    pub fn finished(&self, code: String, message: Option<String>) -> Option<AuditRow> {
        let slot = self.0.as_ref()?;
        Some(AuditRow {
            outcome: outcome(&code).to_owned(),
            code,
            message: message.map(|message| crate::error::capped(&message, MAX_MESSAGE)),
            duration: slot.started.elapsed(),
            ..slot.template.clone()
        })
    }

    /// The transaction holding the row has committed: the layer must not write it again.
    pub fn committed(&self) {
        if let Some(slot) = &self.0 {
            slot.committed.store(true, Ordering::Release);
        }
    }

    /// Whether the row is already stored with the change.
    pub fn is_committed(&self) -> bool {
        self.0.as_ref().is_some_and(|slot| slot.committed.load(Ordering::Acquire))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use std::time::Duration;

    fn template() -> AuditRow {
        AuditRow {
            id: 0,
            at: Utc::now(),
            principal: "ops".into(),
            role: Some("operator".into()),
            peer: "127.0.0.1:1".into(),
            rpc: "/rebound.v1.ClientCommandService/IssueCommand".into(),
            arguments: "{}".into(),
            outcome: String::new(),
            code: String::new(),
            message: None,
            trace_id: None,
            duration: Duration::ZERO,
        }
    }

    #[test]
    fn rows_carry_the_outcome_and_the_slot_remembers_the_commit() {
        let slot = AuditSlot::new(template(), Instant::now(), |_| "RESOURCE_EXHAUSTED".into());
        let ok = slot.row().unwrap();
        assert_eq!((ok.outcome.as_str(), ok.code.as_str()), ("succeeded", "OK"));
        let refused = slot.row_for(&Error::ResourceExhausted("lockout".into())).unwrap();
        assert_eq!(refused.outcome, "failed");
        assert_eq!(refused.message.as_deref(), Some("lockout"));
        assert!(!slot.is_committed());
        slot.clone().committed();
        assert!(slot.is_committed(), "clones share the slot");
        let none = AuditSlot::default();
        assert!(none.row().is_none() && !none.is_committed());
        none.committed();
    }

    #[test]
    fn stored_messages_are_capped() {
        let slot = AuditSlot::new(template(), Instant::now(), |_| "INVALID_ARGUMENT".into());
        let huge = "x".repeat(3_500_000);
        let row = slot.finished("INVALID_ARGUMENT".into(), Some(huge)).unwrap();
        let message = row.message.unwrap();
        assert!(message.len() <= MAX_MESSAGE + '…'.len_utf8(), "{}", message.len());
        assert!(message.ends_with('…'));
        let short = slot.finished("INVALID_ARGUMENT".into(), Some("binary: x".into())).unwrap();
        assert_eq!(short.message.as_deref(), Some("binary: x"));
    }

    #[test]
    fn outcomes_follow_the_code() {
        assert_eq!(outcome("OK"), "succeeded");
        assert_eq!(outcome("PERMISSION_DENIED"), "denied");
        assert_eq!(outcome("UNAVAILABLE"), "failed");
    }
}
