//! Reading PEM certificate files for rustls: a certificate chain, or a bundle of CAs to
//! trust. Shared by the server's TLS (its certificate, the client CA bundle), the gRPC client
//! (server CA, client certificate) and the MQTT gateway (broker CA). Errors are reasons
//! without the path; callers say which file and which setting.

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::path::Path;

/// Every certificate in the PEM file at `path`; at least one.
pub fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|err| err.to_string())?;
    if certs.is_empty() {
        return Err("no PEM certificate in the file".into());
    }
    Ok(certs)
}

/// The CAs of the PEM bundle at `path`, as trust anchors.
pub fn roots(path: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in certs(path)? {
        roots.add(cert).map_err(|err| err.to_string())?;
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_unreadable_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        assert_eq!(certs(&empty).unwrap_err(), "no PEM certificate in the file");
        assert!(roots(&dir.path().join("missing.pem")).is_err());
    }
}
