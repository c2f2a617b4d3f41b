//! Conversions between proto well-known types and domain types, and the request helpers
//! every service shares (pagination). Errors name the proto field.

use crate::error::Error;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Page size used when a request leaves `page_size` at 0.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Largest page served; larger requests are clamped.
pub const MAX_PAGE_SIZE: u32 = 500;

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

/// A page request: how many items, and the keyset position after which to continue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub size: u32,
    /// Items strictly older (smaller id) than this; `None` for the first page.
    pub before_id: Option<i64>,
}

impl Page {
    /// Validate `page_size` and `page_token` from a list request.
    pub fn from_request(page_size: i32, page_token: &str) -> Result<Self, Error> {
        let size = match page_size {
            n if n < 0 => return Err(Error::invalid_argument("page_size", "must not be negative")),
            0 => DEFAULT_PAGE_SIZE,
            n => (n as u32).min(MAX_PAGE_SIZE),
        };
        let before_id = if page_token.is_empty() {
            None
        } else {
            let id = page_token
                .strip_prefix('p')
                .and_then(|hex| i64::from_str_radix(hex, 16).ok())
                .ok_or_else(|| {
                    Error::invalid_argument("page_token", "not a token from a previous page")
                })?;
            Some(id)
        };
        Ok(Self { size, before_id })
    }

    /// The token for the page after one that ended with `last_id` and held `count` items;
    /// empty when this was the last page.
    pub fn next_token(&self, count: usize, last_id: Option<i64>) -> String {
        match last_id {
            Some(id) if count >= self.size as usize => format!("p{id:x}"),
            _ => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_defaults_clamps_and_rejects_negative() {
        assert_eq!(Page::from_request(0, "").unwrap().size, DEFAULT_PAGE_SIZE);
        assert_eq!(Page::from_request(10_000, "").unwrap().size, MAX_PAGE_SIZE);
        let err = Page::from_request(-1, "").unwrap_err().to_string();
        assert_eq!(err, "page_size: must not be negative");
    }

    #[test]
    fn tokens_round_trip_and_garbage_is_rejected() {
        let page = Page::from_request(2, "").unwrap();
        let token = page.next_token(2, Some(42));
        assert_eq!(Page::from_request(2, &token).unwrap().before_id, Some(42));
        assert_eq!(page.next_token(1, Some(42)), "", "a short page is the last");
        let err = Page::from_request(2, "zzz").unwrap_err().to_string();
        assert!(err.starts_with("page_token:"), "{err}");
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
