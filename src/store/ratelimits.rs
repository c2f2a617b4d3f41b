//! The calls the per-principal rate limits admitted recently (`rate_limit_admissions`), so
//! a restarted process goes on counting where its predecessor stopped. Backend-neutral trait
//! and record; the SQL lives in each backend. What a class means and how long the window
//! is belongs to `auth`.

use super::StoreError;

/// One admitted call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// The limit's key (a token name, `cert:<identity>`, or `anonymous`).
    pub principal: String,
    /// The limit's class, as `auth` names it (`restart`, `command`).
    pub class: String,
    pub admitted_ms: i64,
}

/// Saving and loading the admissions.
#[async_trait::async_trait]
pub trait RateLimitStore {
    /// Replace every stored admission with `admissions`, in one transaction.
    async fn save_admissions(&self, admissions: &[Admission]) -> Result<(), StoreError>;

    /// The stored admissions at or after `since_ms`, oldest first.
    async fn load_admissions(&self, since_ms: i64) -> Result<Vec<Admission>, StoreError>;
}
