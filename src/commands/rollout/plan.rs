//! The arithmetic of a rollout, free of I/O: the canary's size, how many members the waves
//! may issue and when, how a step is cut into transactions, and the abort rule.

use super::Canary;
use crate::model::rollouts::{RolloutCounters, RolloutRecord};

/// Most commands one tick issues for one rollout.
const MAX_ISSUE_PER_TICK: i64 = 5_000;
/// The largest paced step, issued in one transaction (see [`step_size`]).
const ISSUE_PIECE: usize = 250;
/// A larger step is issued in pieces, one transaction each: the first of [`FIRST_PIECE`]
/// members, each next one twice as large, up to [`MAX_PIECE`] (see [`pieces`]).
const FIRST_PIECE: usize = 64;
const MAX_PIECE: usize = 512;

pub(super) fn canary_size(canary: Canary, total: usize) -> i64 {
    let total = total as i64;
    let percent = |p: i64| ((p * total + 99) / 100).max(1);
    match canary {
        Canary::Default => percent(5).min(total),
        Canary::Count(c) => i64::from(c).min(total),
        Canary::Percent(p) => percent(i64::from(p)).min(total),
    }
}

/// How many members the waves may issue at `now`: a burst of one second's worth, then
/// `max_per_minute` paced from the end of the canary, at most [`MAX_ISSUE_PER_TICK`].
pub(super) fn wave_allowance(rollout: &RolloutRecord, now: i64) -> i64 {
    let since = rollout.canary_finished_ms.unwrap_or(now);
    let burst = (rollout.max_per_minute / 60).max(1);
    let paced = burst + rollout.max_per_minute * now.saturating_sub(since) / 60_000;
    let allowed = rollout.canary_size + paced - rollout.issued_members;
    allowed.min(MAX_ISSUE_PER_TICK)
}

/// How a step of `count` members is cut into transactions. Up to [`ISSUE_PIECE`] (every paced
/// step after a rollout's first second): one. A larger one (a rollout's first step, the first
/// step after its canary) starts while the broker and the devices are idle, so its first
/// piece is small and leaves at once; the next ones double while the devices answer the
/// earlier ones. Measured on a 1000-device rollout against pieces of 250: ratio ×1.08, 10
/// alternated pairs (docs/benchmarks.md).
pub(super) fn pieces(count: usize) -> Vec<usize> {
    if count <= ISSUE_PIECE {
        return vec![count];
    }
    let (mut sizes, mut left, mut next) = (Vec::new(), count, FIRST_PIECE);
    while left > 0 {
        let size = next.min(left);
        sizes.push(size);
        left -= size;
        next = (next * 2).min(MAX_PIECE);
    }
    sizes
}

/// Members a wave step issues at least: one second's worth of `max_per_minute`, at most
/// [`ISSUE_PIECE`], or every member left.
pub(super) fn step_size(rollout: &RolloutRecord, unissued: i64) -> i64 {
    (rollout.max_per_minute / 60).clamp(1, ISSUE_PIECE as i64).min(unissued)
}

/// How many members the waves issue at `now` (0: wait): the allowance, once it has grown to
/// a [`step_size`]. The scheduler advances a rollout after every ingest batch that finished
/// one of its commands; without the step, a paced rollout would issue a few members (and
/// write its row) on every such wake: 5,000 devices at 100,000/min took 700 issue
/// transactions instead of ~20.
pub(super) fn wave_step(rollout: &RolloutRecord, unissued: i64, now: i64) -> i64 {
    let allowed = wave_allowance(rollout, now).min(unissued);
    if allowed > 0 && allowed >= step_size(rollout, unissued) { allowed } else { 0 }
}

/// When [`wave_step`] first allows a step (unix ms); `None` when no member is left. The
/// inverse of [`wave_allowance`]'s pacing term, rounded up to the millisecond.
pub(super) fn next_step_ms(rollout: &RolloutRecord, unissued: i64) -> Option<i64> {
    if unissued <= 0 {
        return None;
    }
    let since = rollout.canary_finished_ms?;
    let burst = (rollout.max_per_minute / 60).max(1);
    let short = step_size(rollout, unissued) + rollout.issued_members - rollout.canary_size - burst;
    let per_minute = rollout.max_per_minute.max(1);
    Some(since + (short.max(0) * 60_000 + per_minute - 1) / per_minute)
}

/// The abort rule: `Some(reason)` when it fires.
pub(super) fn threshold_crossed(
    rollout: &RolloutRecord,
    counters: &RolloutCounters,
) -> Option<String> {
    let finished = counters.finished();
    let rate = counters.failure_percent();
    (i64::from(finished) >= rollout.min_finished && rate > rollout.abort_failure_percent).then(
        || {
            format!(
                "failure rate {rate:.1}% > {:.1}% after {finished} finished",
                rollout.abort_failure_percent
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::contract::Action;
    use crate::model::rollouts::{RolloutState, RolloutTarget};

    #[test]
    fn canary_sizes_round_up_and_clamp() {
        assert_eq!(canary_size(Canary::Default, 1000), 50);
        assert_eq!(canary_size(Canary::Default, 3), 1);
        assert_eq!(canary_size(Canary::Count(0), 10), 0);
        assert_eq!(canary_size(Canary::Count(50), 10), 10);
        assert_eq!(canary_size(Canary::Percent(10), 15), 2);
    }

    #[test]
    fn threshold_needs_min_finished_and_a_strictly_higher_rate() {
        let rollout = RolloutRecord { min_finished: 10, abort_failure_percent: 5.0, ..sample() };
        let mut counters = RolloutCounters { completed: 8, failed: 1, ..Default::default() };
        assert_eq!(threshold_crossed(&rollout, &counters), None, "only 9 finished");
        counters.completed = 9;
        let why = threshold_crossed(&rollout, &counters).unwrap();
        assert_eq!(why, "failure rate 10.0% > 5.0% after 10 finished");
        counters.completed = 19;
        assert_eq!(threshold_crossed(&rollout, &counters), None, "5.0% is not above 5.0%");
    }

    #[test]
    fn large_steps_start_with_a_small_piece_and_double() {
        assert_eq!(pieces(0), [0]);
        assert_eq!(pieces(250), [250], "a paced step is one transaction");
        assert_eq!(pieces(251), [64, 128, 59]);
        assert_eq!(pieces(1000), [64, 128, 256, 512, 40]);
        assert_eq!(pieces(2000), [64, 128, 256, 512, 512, 512, 16]);
        for count in [251, 999, 5000] {
            assert_eq!(pieces(count).iter().sum::<usize>(), count);
        }
    }

    #[test]
    fn waves_issue_in_steps_of_one_seconds_worth_at_most_a_piece() {
        let fast = RolloutRecord {
            max_per_minute: 100_000,
            canary_size: 0,
            canary_finished_ms: Some(0),
            issued_members: 1666,
            ..sample()
        };
        // 100,000/min: 1,666 per second; the first second's burst is issued.
        assert_eq!(wave_step(&fast, 3334, 0), 0, "nothing allowed yet");
        assert_eq!(wave_step(&fast, 3334, 100), 0, "166 allowed: less than a piece");
        assert_eq!(wave_step(&fast, 3334, 150), 250, "a piece's worth");
        assert_eq!(wave_step(&fast, 3334, 600), 1000, "everything allowed by now");
        assert_eq!(wave_step(&fast, 100, 60), 100, "the last members need no full piece");
        assert_eq!(next_step_ms(&fast, 3334), Some(150), "when a piece's worth is allowed");
        assert_eq!(next_step_ms(&fast, 100), Some(60));
        assert_eq!(next_step_ms(&fast, 0), None);
        let slow = RolloutRecord { max_per_minute: 60, ..fast.clone() };
        let slow = RolloutRecord { issued_members: 1, ..slow };
        assert_eq!(wave_step(&slow, 10, 999), 0);
        assert_eq!(wave_step(&slow, 10, 1000), 1, "one per second");
        assert_eq!(wave_step(&slow, 0, 5000), 0, "nothing left");
        assert_eq!(next_step_ms(&slow, 10), Some(1000));
        for (rollout, unissued) in [(&fast, 3334), (&fast, 100), (&slow, 10)] {
            let due = next_step_ms(rollout, unissued).unwrap();
            assert!(wave_step(rollout, unissued, due) > 0, "a step is allowed when due");
            assert_eq!(wave_step(rollout, unissued, due - 1), 0, "and not a ms before");
        }
    }

    fn sample() -> RolloutRecord {
        RolloutRecord {
            rollout_id: Uuid::nil(),
            action: Action::RestartApp,
            target: RolloutTarget::All,
            canary_count: None,
            canary_percent: None,
            canary_size: 1,
            max_per_minute: 60,
            abort_failure_percent: 5.0,
            min_finished: 10,
            state: RolloutState::Waves,
            reason: None,
            requested_by: None,
            principal: String::new(),
            params_hash: String::new(),
            expires_in_ms: 1000,
            total_members: 20,
            issued_members: 0,
            current_wave: 0,
            last_issue_ms: None,
            created_ms: 0,
            started_ms: None,
            canary_finished_ms: None,
            updated_ms: 0,
            finished_ms: None,
            abort_reason: None,
            abort_cause: None,
            error: None,
        }
    }
}
