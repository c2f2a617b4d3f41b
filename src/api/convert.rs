//! Conversions between proto well-known types and domain types, and the request helpers
//! every service shares; pagination is in [`super::page`], the caller in [`super::identity`].
//! Errors name the proto field.

use crate::error::Error;
use chrono::{DateTime, Utc};
use std::time::Duration;

pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: at.timestamp(), nanos: at.timestamp_subsec_nanos() as i32 }
}

pub fn duration(value: Duration) -> prost_types::Duration {
    prost_types::Duration::try_from(value)
        .unwrap_or(prost_types::Duration { seconds: i64::MAX, nanos: 0 })
}

/// A request timestamp, or InvalidArgument naming `field`.
pub fn from_timestamp(field: &str, value: &prost_types::Timestamp) -> Result<DateTime<Utc>, Error> {
    u32::try_from(value.nanos)
        .ok()
        .and_then(|nanos| DateTime::from_timestamp(value.seconds, nanos))
        .ok_or_else(|| Error::invalid_argument(field, "not a valid timestamp"))
}

/// Largest `seconds` of a `google.protobuf.Duration` (about 10,000 years).
const MAX_DURATION_SECONDS: i64 = 315_576_000_000;

/// A request duration, or InvalidArgument naming `field`. The value must be a valid
/// `google.protobuf.Duration` (nanos within ±999,999,999 and of the same sign as seconds,
/// seconds within ±315,576,000,000; prost would silently carry excess nanos into seconds)
/// and not negative.
pub fn from_duration(field: &str, value: &prost_types::Duration) -> Result<Duration, Error> {
    let prost_types::Duration { seconds, nanos } = *value;
    if nanos.unsigned_abs() >= 1_000_000_000 {
        return Err(Error::invalid_argument(field, "nanos must be within ±999,999,999"));
    }
    if (seconds > 0 && nanos < 0) || (seconds < 0 && nanos > 0) {
        return Err(Error::invalid_argument(field, "seconds and nanos must have the same sign"));
    }
    if seconds.unsigned_abs() > MAX_DURATION_SECONDS as u64 {
        return Err(Error::invalid_argument(field, "seconds out of range"));
    }
    Duration::try_from(*value)
        .map_err(|_| Error::invalid_argument(field, "must be a non-negative duration"))
}

/// An optional request duration (`None` when unset), checked as [`from_duration`].
pub fn optional_duration(
    field: &str,
    value: Option<prost_types::Duration>,
) -> Result<Option<Duration>, Error> {
    value.map(|d| from_duration(field, &d)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_must_be_well_formed_and_non_negative() {
        let d = |seconds, nanos| prost_types::Duration { seconds, nanos };
        let err = |value| from_duration("expires_in", &value).unwrap_err().to_string();
        assert_eq!(err(d(1, 1_000_000_000)), "expires_in: nanos must be within ±999,999,999");
        assert_eq!(err(d(0, -1_000_000_000)), "expires_in: nanos must be within ±999,999,999");
        assert_eq!(err(d(1, -1)), "expires_in: seconds and nanos must have the same sign");
        assert_eq!(err(d(-1, 5)), "expires_in: seconds and nanos must have the same sign");
        assert_eq!(err(d(MAX_DURATION_SECONDS + 1, 0)), "expires_in: seconds out of range");
        assert_eq!(err(d(-1, 0)), "expires_in: must be a non-negative duration");
        assert_eq!(from_duration("f", &d(2, 999_999_999)).unwrap(), Duration::new(2, 999_999_999));
        assert_eq!(from_duration("f", &d(0, 0)).unwrap(), Duration::ZERO);
    }

    #[test]
    fn invalid_timestamps_name_the_field() {
        let bad = prost_types::Timestamp { seconds: 0, nanos: -1 };
        assert_eq!(
            from_timestamp("since", &bad).unwrap_err().to_string(),
            "since: not a valid timestamp"
        );
    }
}
