//! Pagination of every List RPC: the page size rule and opaque page tokens.
//!
//! A token is the position of the last item served (any serializable key: an id, a
//! `(time, uuid)` pair) plus a fingerprint of the request's filters, so a token used with
//! other filters is refused (INVALID_ARGUMENT naming `page_token`) instead of silently
//! paging through another result set. Tokens are hex, opaque to clients.
//!
//! A repeated filter field (`states`, `outcomes`, `results`) takes at most
//! [`MAX_FILTER_VALUES`] values; more are refused naming the field, before any query is built.
//!
//! A page also has a byte budget, [`MAX_PAGE_BYTES`]: a page stops short of `page_size` when
//! its next item would take the encoded items past it, and its token then continues after the
//! last item served, so no page of large items can exceed the clients' 4 MiB message limit.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Encoded bytes of the items of one page: well under the 4 MiB a gRPC client accepts by
/// default, leaving room for the rest of the response. A page holds at least one item.
pub const MAX_PAGE_BYTES: usize = 1 << 20;

/// Page size used when a request leaves `page_size` at 0.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Largest page served; larger requests are clamped.
pub use crate::contract::limits::MAX_PAGE_SIZE;

/// The page size a request asks for: 0 means the default, larger values are clamped.
pub fn size(page_size: i32) -> Result<u32> {
    match page_size {
        n if n < 0 => Err(Error::invalid_argument("page_size", "must not be negative")),
        0 => Ok(DEFAULT_PAGE_SIZE),
        n => Ok((n as u32).min(MAX_PAGE_SIZE)),
    }
}

/// Most values a repeated filter field may carry.
pub const MAX_FILTER_VALUES: usize = 100;

/// Refuses a repeated filter field with more than [`MAX_FILTER_VALUES`] values.
pub fn filter_values<'a, T>(field: &str, values: &'a [T]) -> Result<&'a [T]> {
    if values.len() > MAX_FILTER_VALUES {
        return Err(Error::invalid_argument(
            field,
            format!("at most {MAX_FILTER_VALUES} values, got {}", values.len()),
        ));
    }
    Ok(values)
}

#[derive(Serialize, Deserialize)]
struct Token<K> {
    /// Position after which the next page starts.
    k: K,
    /// Fingerprint of the filters the token was issued for.
    f: String,
}

fn fingerprint(filters: &impl std::fmt::Debug) -> String {
    let digest = Sha256::digest(format!("{filters:?}").as_bytes());
    crate::hex::encode(&digest[..8])
}

/// Encode the position `key` for the given filters.
pub fn encode<K: Serialize>(key: &K, filters: &impl std::fmt::Debug) -> String {
    let token = Token { k: key, f: fingerprint(filters) };
    let json = serde_json::to_vec(&token).unwrap_or_default();
    crate::hex::encode(&json)
}

/// Decode a token (empty: first page).
pub fn decode<K: for<'de> Deserialize<'de>>(
    token: &str,
    filters: &impl std::fmt::Debug,
) -> Result<Option<K>> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || Error::invalid_argument("page_token", "not a token from a previous page");
    if !token.len().is_multiple_of(2) || !token.is_ascii() {
        return Err(invalid());
    }
    let bytes = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&token[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| invalid())?;
    let token: Token<K> = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if token.f != fingerprint(filters) {
        return Err(Error::invalid_argument("page_token", "issued for other filters"));
    }
    Ok(Some(token.k))
}

/// The next page token when `items` filled the page, else empty.
pub fn next<T, K: Serialize>(
    items: &[T],
    limit: u32,
    key: impl Fn(&T) -> K,
    filters: &impl std::fmt::Debug,
) -> String {
    match items.last() {
        Some(last) if items.len() as u32 >= limit => encode(&key(last), filters),
        _ => String::new(),
    }
}

/// Cut `items` (the response items made from `rows`, in the same order) to the byte budget;
/// when some were cut, the token continuing after the last item kept. `None` when all fit:
/// the page's token is then the one the caller would give anyway ([`next`]).
pub fn within_budget<P: prost::Message, R, K: Serialize>(
    items: &mut Vec<P>,
    rows: &[R],
    key: impl Fn(&R) -> K,
    filters: &impl std::fmt::Debug,
) -> Option<String> {
    let mut used = 0;
    let kept = items
        .iter()
        .position(|item| {
            // Each item is a length-delimited field: tag, length, then the message.
            let len = item.encoded_len();
            used += 1 + prost::encoding::encoded_len_varint(len as u64) + len;
            used > MAX_PAGE_BYTES
        })
        .map(|over| over.max(1))?;
    if kept >= items.len() {
        return None;
    }
    items.truncate(kept);
    Some(encode(&key(&rows[kept - 1]), filters))
}

/// The token of a page of `items` made from `rows` (same order), after cutting `items` to
/// the byte budget: [`within_budget`], else [`next`].
pub fn finish<P: prost::Message, R, K: Serialize>(
    items: &mut Vec<P>,
    rows: &[R],
    limit: u32,
    key: impl Fn(&R) -> K + Copy,
    filters: &impl std::fmt::Debug,
) -> String {
    within_budget(items, rows, key, filters).unwrap_or_else(|| next(rows, limit, key, filters))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_defaults_clamps_and_rejects_negative() {
        assert_eq!((size(0).unwrap(), size(10_000).unwrap(), size(7).unwrap()), (50, 500, 7));
        assert_eq!(size(-1).unwrap_err().to_string(), "page_size: must not be negative");
    }

    #[test]
    fn filter_fields_are_bounded() {
        assert_eq!(filter_values("states", &[1; MAX_FILTER_VALUES]).unwrap().len(), 100);
        let err = filter_values("states", &[1; MAX_FILTER_VALUES + 1]).unwrap_err();
        assert_eq!(err.to_string(), "states: at most 100 values, got 101");
    }

    #[test]
    fn a_short_page_is_the_last() {
        let items = [1i64, 2, 3];
        assert_eq!(next(&items, 4, |i| *i, &()), "");
        let token = next(&items, 3, |i| *i, &());
        assert_eq!(decode::<i64>(&token, &()).unwrap(), Some(3));
    }

    #[test]
    fn pages_stop_at_the_byte_budget_and_continue_after_the_last_item_served() {
        let rows: Vec<i64> = (0..40).collect();
        let item = |_: &i64| prost_types::Value {
            kind: Some(prost_types::value::Kind::StringValue("x".repeat(100_000))),
        };
        let mut items: Vec<_> = rows.iter().map(item).collect();
        let token = within_budget(&mut items, &rows, |r| *r, &"f").expect("cut");
        assert_eq!(items.len(), 10, "ten items of ~100 kB fit in 1 MiB");
        assert_eq!(decode::<i64>(&token, &"f").unwrap(), Some(9));
        // Small items all fit: no token of its own.
        let mut small: Vec<_> = rows.iter().map(|_| prost_types::Value::default()).collect();
        assert_eq!(within_budget(&mut small, &rows, |r| *r, &"f"), None);
        assert_eq!(small.len(), 40);
        // One item larger than the budget is still served alone.
        let mut huge = vec![
            prost_types::Value {
                kind: Some(prost_types::value::Kind::StringValue("x".repeat(2 << 20))),
            };
            3
        ];
        let token = within_budget(&mut huge, &rows[..3], |r| *r, &"f").expect("cut");
        assert_eq!((huge.len(), decode::<i64>(&token, &"f").unwrap()), (1, Some(0)));
    }

    #[test]
    fn tokens_round_trip_and_refuse_other_filters_or_garbage() {
        let token = encode(&(5i64, "x".to_owned()), &("group", 1));
        let key: Option<(i64, String)> = decode(&token, &("group", 1)).unwrap();
        assert_eq!(key, Some((5, "x".into())));
        let err = decode::<(i64, String)>(&token, &("group", 2)).unwrap_err().to_string();
        assert_eq!(err, "page_token: issued for other filters");
        assert!(decode::<(i64, String)>("zz", &()).is_err());
        assert_eq!(decode::<(i64, String)>("", &()).unwrap(), None);
    }
}
