//! The tokens file: who may call the API, with which role.
//!
//! `auth.tokens_file` is TOML holding `[[tokens]]` entries of `name`, `role` and `sha256`
//! (the hex SHA-256 digest of the bearer token; the token itself is never stored), and
//! `[[clients]]` entries of `name` (a client certificate's identity, see
//! [`super::certificate`]) and `role`: under mutual TLS only listed certificates get a role.
//! A presented token is hashed and compared against every digest in constant time. This
//! module parses and looks up; it does not know about gRPC, TLS, configuration reloads or
//! audit.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::Path;

/// Roles, from least to most privileged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read, watch, health.
    Viewer,
    /// Issue commands and rollouts, reload config.
    Operator,
    /// Restart the server, cleanup, backup.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

/// Why a tokens file was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokensError {
    #[error("tokens file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("tokens file {path}: {reason}")]
    Invalid { path: String, reason: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    tokens: Vec<RawToken>,
    #[serde(default)]
    clients: Vec<RawClient>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    name: String,
    role: Role,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    name: String,
    role: Role,
    sha256: String,
}

/// One accepted token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEntry {
    pub name: String,
    pub role: Role,
    digest: [u8; 32],
}

/// One client certificate identity allowed in, and its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientEntry {
    pub name: String,
    pub role: Role,
}

/// Every accepted token and certificate identity, as loaded from one tokens file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenSet {
    entries: Vec<TokenEntry>,
    clients: Vec<ClientEntry>,
}

impl TokenSet {
    /// Read and check the file at `path`.
    pub fn read(path: &Path) -> Result<Self, TokensError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| TokensError::Read { path: path.display().to_string(), source })?;
        Self::parse(&text)
            .map_err(|reason| TokensError::Invalid { path: path.display().to_string(), reason })
    }

    /// Parse tokens-file TOML; the error names the offending entry.
    pub fn parse(text: &str) -> Result<Self, String> {
        let raw: RawFile = toml::from_str(text).map_err(|err| err.message().to_owned())?;
        let mut entries: Vec<TokenEntry> = Vec::with_capacity(raw.tokens.len());
        for (index, token) in raw.tokens.into_iter().enumerate() {
            let at = format!("tokens[{index}]");
            check_name(&at, &token.name, entries.iter().map(|e| &e.name))?;
            let digest = parse_digest(&token.sha256).ok_or_else(|| {
                format!("{at}.sha256: must be 64 hex digits (sha256 of the token)")
            })?;
            if entries.iter().any(|e| e.digest == digest) {
                return Err(format!("{at}.sha256: the same token is listed twice"));
            }
            entries.push(TokenEntry { name: token.name, role: token.role, digest });
        }
        let mut clients: Vec<ClientEntry> = Vec::with_capacity(raw.clients.len());
        for (index, client) in raw.clients.into_iter().enumerate() {
            check_name(
                &format!("clients[{index}]"),
                &client.name,
                clients.iter().map(|c| &c.name),
            )?;
            clients.push(ClientEntry { name: client.name, role: client.role });
        }
        Ok(Self { entries, clients })
    }

    /// The `[[clients]]` entry of a certificate identity (compared exactly).
    pub fn client(&self, identity: &str) -> Option<&ClientEntry> {
        self.clients.iter().find(|client| client.name == identity)
    }

    /// How many `[[clients]]` entries there are.
    pub fn clients_len(&self) -> usize {
        self.clients.len()
    }

    /// The entry whose digest matches `token`. Every entry is compared, in constant time, so
    /// the time taken does not reveal which (or whether an) entry matched.
    pub fn find(&self, token: &str) -> Option<&TokenEntry> {
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for entry in &self.entries {
            if constant_time_eq(&entry.digest, &presented) {
                found = Some(entry);
            }
        }
        found
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A name must be non-empty and unique among `taken`; the error names the entry `at`.
fn check_name<'a>(
    at: &str,
    name: &str,
    mut taken: impl Iterator<Item = &'a String>,
) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err(format!("{at}.name: must not be empty"));
    }
    if taken.any(|other| other == name) {
        return Err(format!("{at}.name: {name:?} appears twice"));
    }
    Ok(())
}

/// Hex SHA-256 of `token`: the value to put in a tokens file.
pub fn hash_token(token: &str) -> String {
    crate::hex::sha256(token)
}

fn parse_digest(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut digest = [0u8; 32];
    for (i, byte) in digest.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(digest)
}

/// Equal in time independent of where the inputs differ.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(entries: &[(&str, &str, &str)]) -> String {
        entries
            .iter()
            .map(|(name, role, token)| {
                format!(
                    "[[tokens]]\nname = {name:?}\nrole = {role:?}\nsha256 = {:?}\n",
                    hash_token(token)
                )
            })
            .collect()
    }

    #[test]
    fn finds_tokens_by_digest_only() {
        let set =
            TokenSet::parse(&file(&[("ci", "viewer", "t1"), ("ops", "admin", "t2")])).unwrap();
        assert_eq!(set.len(), 2);
        let found = set.find("t2").unwrap();
        assert_eq!((found.name.as_str(), found.role), ("ops", Role::Admin));
        assert!(set.find("t3").is_none());
        assert!(set.find("").is_none());
    }

    #[test]
    fn hashes_like_sha256sum() {
        // printf %s secret | sha256sum
        assert_eq!(
            hash_token("secret"),
            "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"
        );
    }

    #[test]
    fn bad_files_name_the_entry() {
        let err = TokenSet::parse("[[tokens]]\nname = \"a\"\nrole = \"root\"\nsha256 = \"00\"\n")
            .unwrap_err();
        assert!(err.contains("root"), "{err}");
        let short = "[[tokens]]\nname = \"a\"\nrole = \"admin\"\nsha256 = \"abc\"\n";
        assert_eq!(
            TokenSet::parse(short).unwrap_err(),
            "tokens[0].sha256: must be 64 hex digits (sha256 of the token)"
        );
        let twice = file(&[("a", "viewer", "x"), ("a", "admin", "y")]);
        assert!(TokenSet::parse(&twice).unwrap_err().starts_with("tokens[1].name"));
        let same = file(&[("a", "viewer", "x"), ("b", "admin", "x")]);
        assert!(TokenSet::parse(&same).unwrap_err().starts_with("tokens[1].sha256"));
        assert!(TokenSet::parse("[[tokens]]\nname = \"a\"\n").is_err());
        assert!(TokenSet::parse("").unwrap().is_empty());
    }

    #[test]
    fn clients_map_certificate_identities_to_roles() {
        let text = format!(
            "{}[[clients]]\nname = \"agent.example.com\"\nrole = \"viewer\"\n\
             [[clients]]\nname = \"spiffe://fleet/deployer\"\nrole = \"operator\"\n",
            file(&[("ci", "viewer", "t1")])
        );
        let set = TokenSet::parse(&text).unwrap();
        assert_eq!((set.len(), set.clients_len()), (1, 2));
        let client = set.client("spiffe://fleet/deployer").unwrap();
        assert_eq!(client.role, Role::Operator);
        assert!(set.client("AGENT.example.com").is_none(), "identities compare exactly");
        assert!(set.client("ci").is_none(), "token names are not certificate identities");
        assert!(set.find("agent.example.com").is_none());
    }

    #[test]
    fn bad_clients_name_the_entry() {
        let twice = "[[clients]]\nname = \"a\"\nrole = \"viewer\"\n\
                     [[clients]]\nname = \"a\"\nrole = \"admin\"\n";
        assert_eq!(TokenSet::parse(twice).unwrap_err(), "clients[1].name: \"a\" appears twice");
        let empty = "[[clients]]\nname = \" \"\nrole = \"viewer\"\n";
        assert_eq!(TokenSet::parse(empty).unwrap_err(), "clients[0].name: must not be empty");
        let role = "[[clients]]\nname = \"a\"\nrole = \"root\"\n";
        assert!(TokenSet::parse(role).unwrap_err().contains("root"));
        let extra = "[[clients]]\nname = \"a\"\nrole = \"viewer\"\nsha256 = \"00\"\n";
        assert!(TokenSet::parse(extra).unwrap_err().contains("sha256"));
        let only_clients = TokenSet::parse("[[clients]]\nname = \"a\"\nrole = \"admin\"\n");
        assert!(only_clients.unwrap().is_empty(), "a file may list clients only");
    }

    #[test]
    fn constant_time_eq_compares_every_byte() {
        let a = [7u8; 32];
        let mut b = a;
        assert!(constant_time_eq(&a, &b));
        b[31] = 8;
        assert!(!constant_time_eq(&a, &b));
    }
}
