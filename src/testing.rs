//! Helpers for the library's own unit tests (compiled only for them): the one way they wait on
//! a condition with a deadline. The whole-process tests in `tests/` have theirs in
//! `tests/support` (`until`, `wait_for`). A leaf: any layer's tests may use it.

use std::time::Duration;

/// How long a unit test waits for a condition before it fails.
pub const LIMIT: Duration = Duration::from_secs(10);

/// Pause between two checks of a condition that did not hold yet.
const RETRY: Duration = Duration::from_millis(5);

/// Wait until `check` holds, checking again every few milliseconds (virtual ones under a
/// paused clock), or panic naming `what` once [`LIMIT`] has passed.
pub async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let holds = async {
        while !check() {
            tokio::time::sleep(RETRY).await;
        }
    };
    if tokio::time::timeout(LIMIT, holds).await.is_err() {
        panic!("timed out after {LIMIT:?} waiting for {what}");
    }
}
