//! Parsing of the store URL (config `store.url`) into a backend and its target.
//!
//! Accepted forms:
//!
//! - `sqlite://PATH` — `PATH` relative to the working directory (`sqlite://rebound-data/rebound.db`)
//! - `sqlite:///ABS/PATH` — absolute path
//! - `sqlite:PATH` — the same without the slashes
//! - `sqlite::memory:` (or `sqlite://:memory:`) — a private in-memory database, for tests
//! - `postgres://[USER[:PASSWORD]@]HOST[:PORT]/DATABASE[?PARAMS]` (or `postgresql://`) — a
//!   PostgreSQL database, in libpq's URL syntax (`sslmode=`, `host=/run/postgresql` for a unix
//!   socket, …)
//!
//! SQLite paths are taken literally (no percent-decoding, no `~` expansion) and query
//! parameters are refused: connection settings are chosen by the store, not by the URL. A
//! PostgreSQL URL is checked by the driver's own parser. This module only parses; it touches no
//! file and opens no connection.

use std::path::PathBuf;

use super::StoreError;

/// A parsed store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreUrl {
    Sqlite(SqliteTarget),
    /// The URL as given (its password, if any, is only ever printed through [`redact`]).
    Postgres(String),
}

/// Where a SQLite database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SqliteTarget {
    File(PathBuf),
    Memory,
}

/// Parses `url`, or says precisely what is wrong with it.
pub(crate) fn parse(url: &str) -> Result<StoreUrl, StoreError> {
    let invalid =
        |reason: &str| StoreError::InvalidUrl { url: redact(url), reason: reason.to_owned() };
    let Some((scheme, rest)) = url.split_once(':') else {
        return Err(invalid("missing scheme, expected sqlite://PATH"));
    };
    let scheme_ok = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return Err(invalid("missing scheme, expected sqlite://PATH"));
    }
    match scheme.to_ascii_lowercase().as_str() {
        "sqlite" => parse_sqlite(rest).map_err(invalid).map(StoreUrl::Sqlite),
        "postgres" | "postgresql" => parse_postgres(url).map_err(invalid),
        other => Err(StoreError::Unsupported { scheme: other.to_owned() }),
    }
}

fn parse_sqlite(rest: &str) -> Result<SqliteTarget, &'static str> {
    let path = rest.strip_prefix("//").unwrap_or(rest);
    if path == ":memory:" {
        return Ok(SqliteTarget::Memory);
    }
    if path.contains(['?', '#']) {
        return Err("query parameters and fragments are not supported");
    }
    if path.is_empty() {
        return Err("missing database file path, expected sqlite://PATH");
    }
    if path.contains('\0') {
        return Err("path contains a NUL byte");
    }
    if path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..") || path == "." {
        return Err("path names a directory, expected a database file");
    }
    Ok(SqliteTarget::File(PathBuf::from(path)))
}

fn parse_postgres(url: &str) -> Result<StoreUrl, &'static str> {
    use std::str::FromStr;
    if url.contains('\0') {
        return Err("url contains a NUL byte");
    }
    match sqlx::postgres::PgConnectOptions::from_str(url) {
        Ok(options) if options.get_database().is_none_or(str::is_empty) => {
            Err("missing database name, expected postgres://HOST/DATABASE")
        }
        Ok(_) => Ok(StoreUrl::Postgres(url.to_owned())),
        Err(_) => Err("not a valid PostgreSQL URL, expected postgres://USER@HOST:PORT/DATABASE"),
    }
}

/// `url` with any `user:password@` part replaced, so errors and logs never carry a secret.
pub fn redact(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let authority_end = url[start..].find(['/', '?', '#']).map_or(url.len(), |i| start + i);
    match url[start..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &url[..start], &url[start + at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> StoreUrl {
        StoreUrl::Sqlite(SqliteTarget::File(PathBuf::from(path)))
    }

    #[test]
    fn accepts_the_documented_forms() {
        let cases = [
            ("sqlite://rebound-data/rebound.db", file("rebound-data/rebound.db")),
            ("sqlite:///var/lib/rebound/rebound.db", file("/var/lib/rebound/rebound.db")),
            ("sqlite:rebound.db", file("rebound.db")),
            ("SQLite://x.db", file("x.db")),
            ("sqlite::memory:", StoreUrl::Sqlite(SqliteTarget::Memory)),
            ("sqlite://:memory:", StoreUrl::Sqlite(SqliteTarget::Memory)),
        ];
        for (url, want) in cases {
            assert_eq!(parse(url).unwrap(), want, "{url}");
        }
    }

    #[test]
    fn rejects_malformed_urls_with_a_reason() {
        for url in [
            "",
            "rebound.db",
            "/var/lib/rebound.db",
            "sqlite://",
            "sqlite:",
            "sqlite://dir/",
            "sqlite://x.db?mode=ro",
            "1sqlite://x.db",
        ] {
            let err = parse(url).unwrap_err();
            assert!(matches!(err, StoreError::InvalidUrl { .. }), "{url}: {err}");
            let msg = err.to_string();
            assert!(msg.starts_with("invalid store url"), "{msg}");
            assert!(!msg.ends_with('.'), "{msg}");
        }
    }

    #[test]
    fn accepts_postgres_urls_and_refuses_other_schemes() {
        for url in [
            "postgres://u:pw@db/rebound",
            "postgresql://db:5433/rebound?sslmode=require",
            "postgres://rebound@%2Frun%2Fpostgresql/rebound",
        ] {
            assert_eq!(parse(url).unwrap(), StoreUrl::Postgres(url.to_owned()), "{url}");
        }
        for url in ["postgres://u:pw@db", "postgres://u:pw@db:notaport/x"] {
            let err = parse(url).unwrap_err();
            assert!(matches!(err, StoreError::InvalidUrl { .. }), "{url}: {err}");
            assert!(!err.to_string().contains("pw"), "{err}");
        }
        let err = parse("mysql://u:pw@x/db").unwrap_err();
        assert!(matches!(err, StoreError::Unsupported { .. }), "{err}");
        assert!(err.to_string().contains("sqlite:// and postgres://"), "{err}");
    }

    #[test]
    fn redacts_credentials() {
        assert_eq!(redact("postgres://u:pw@h:5432/db"), "postgres://***@h:5432/db");
        assert_eq!(redact("postgres://h/db?x=a@b"), "postgres://h/db?x=a@b");
        assert_eq!(redact("sqlite://a/b.db"), "sqlite://a/b.db");
    }
}
