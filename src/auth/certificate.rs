//! The identity of a client certificate, for mutual TLS.
//!
//! The identity is the leaf certificate's first DNS or URI subject alternative name, or else
//! its subject common name. The TLS listener verifies the chain against
//! `server.tls.client_ca_file` before this is read; this module only reads names out of an
//! already-verified certificate. It does not verify anything, know about connections, or
//! decide roles (the tokens file's `[[clients]]` does, see [`super::TokenSet::client`]).

use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// A verified client certificate presented on the caller's connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    /// The certificate's identity; `None` when it names none (no DNS/URI SAN, no CN) or
    /// cannot be parsed.
    pub identity: Option<String>,
}

impl ClientCert {
    /// Read the identity of the DER-encoded leaf certificate `der`.
    pub fn from_der(der: &[u8]) -> Self {
        Self { identity: identity(der) }
    }
}

/// The first DNS or URI SAN of `der`, else its subject CN.
fn identity(der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        let named = san.value.general_names.iter().find_map(|name| match name {
            GeneralName::DNSName(name) | GeneralName::URI(name) => Some(*name),
            _ => None,
        });
        if let Some(name) = named.filter(|name| !name.is_empty()) {
            return Some(name.to_owned());
        }
    }
    let cn = cert.subject().iter_common_name().next()?.as_str().ok()?;
    (!cn.is_empty()).then(|| cn.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType};

    fn der(cn: Option<&str>, sans: Vec<SanType>) -> Vec<u8> {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        if let Some(cn) = cn {
            params.distinguished_name.push(DnType::CommonName, cn);
        }
        params.subject_alt_names = sans;
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    fn of(cn: Option<&str>, sans: Vec<SanType>) -> Option<String> {
        ClientCert::from_der(&der(cn, sans)).identity
    }

    #[test]
    fn the_first_dns_or_uri_san_wins_over_the_common_name() {
        let dns = SanType::DnsName("agent-1.fleet.example".try_into().unwrap());
        let uri = SanType::URI("spiffe://fleet/deployer".try_into().unwrap());
        let ip = SanType::IpAddress([10, 0, 0, 1].into());
        assert_eq!(
            of(Some("cn"), vec![dns.clone(), uri.clone()]).unwrap(),
            "agent-1.fleet.example"
        );
        assert_eq!(of(Some("cn"), vec![ip.clone(), uri, dns]).unwrap(), "spiffe://fleet/deployer");
        assert_eq!(of(Some("deployer"), vec![ip]).unwrap(), "deployer", "an IP SAN is no name");
    }

    #[test]
    fn the_common_name_when_there_is_no_san_and_none_without_either() {
        assert_eq!(of(Some("ops-laptop"), vec![]).unwrap(), "ops-laptop");
        assert_eq!(of(None, vec![]), None);
        assert_eq!(ClientCert::from_der(b"not a certificate").identity, None);
    }
}
