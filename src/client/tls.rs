//! TLS for clients of `https://` addresses: the server is verified against the CA file the
//! user names (never the system roots: rebound servers use private CAs), and a client
//! certificate is presented when one is given (mutual TLS). Builds the rustls connector
//! only; dialing and retries are the transport's.

use super::{ClientOptions, ConnectError};
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use std::path::Path;
use std::sync::Arc;

/// The TLS connector for `addr` (an `https://` address): trusting the certificates in
/// `options.tls_ca`, presenting `options.tls_cert` / `tls_key` when both are set.
pub fn tls_connector(
    addr: &str,
    options: &ClientOptions,
) -> Result<tokio_rustls::TlsConnector, ConnectError> {
    let invalid = |reason: String| ConnectError::Tls { addr: addr.to_owned(), reason };
    let ca = options
        .tls_ca
        .as_deref()
        .ok_or_else(|| invalid("https:// needs --tls-ca (the server's CA certificate)".into()))?;
    let in_file = |path: &Path, err| invalid(format!("{}: {err}", path.display()));
    let roots = crate::pem::roots(ca).map_err(|err| in_file(ca, err))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| invalid(err.to_string()))?
        .with_root_certificates(roots);
    let mut config = match (&options.tls_cert, &options.tls_key) {
        (None, None) => builder.with_no_client_auth(),
        (Some(cert), Some(key)) => {
            let chain = crate::pem::certs(cert).map_err(|err| in_file(cert, err))?;
            let key =
                PrivateKeyDer::from_pem_file(key).map_err(|err| in_file(key, err.to_string()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|err| invalid(format!("client certificate and key do not fit: {err}")))?
        }
        _ => return Err(invalid("give both --tls-cert and --tls-key, or neither".into())),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}
