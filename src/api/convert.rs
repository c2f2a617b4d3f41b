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

/// A request duration, or InvalidArgument naming `field`.
pub fn from_duration(field: &str, value: &prost_types::Duration) -> Result<Duration, Error> {
    Duration::try_from(*value)
        .map_err(|_| Error::invalid_argument(field, "must be a non-negative duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_timestamps_name_the_field() {
        let bad = prost_types::Timestamp { seconds: 0, nanos: -1 };
        assert_eq!(
            from_timestamp("since", &bad).unwrap_err().to_string(),
            "since: not a valid timestamp"
        );
    }
}
