//! What a TCP connection tells about its caller: its address and the client certificate
//! verified in the TLS handshake ([`TcpPeer`], the `ConnectInfo` of the TCP and HTTP
//! listeners, which every request carries in its extensions). The gRPC adapter and the HTTP
//! gateway both read it here; who the caller is allowed to be is the gate's.

use super::ClientCert;
use std::net::SocketAddr;

/// What a TCP connection tells about its caller (the `ConnectInfo` of the TCP listener).
#[derive(Debug, Clone)]
pub struct TcpPeer {
    pub remote_addr: Option<SocketAddr>,
    /// The client certificate verified in the TLS handshake (mutual TLS), if one was sent.
    pub certificate: Option<ClientCert>,
}

/// The caller's TCP address, when the request came over TCP.
pub fn tcp_addr(extensions: &http::Extensions) -> Option<SocketAddr> {
    extensions.get::<TcpPeer>().and_then(|info| info.remote_addr)
}

/// The caller's TCP address as history and audit records name it (`ip:port`), or `unknown`.
pub fn tcp_name(extensions: &http::Extensions) -> String {
    tcp_addr(extensions).map_or_else(|| "unknown".to_owned(), |addr| addr.to_string())
}

/// The client certificate verified for the caller's connection, if any.
pub fn certificate(extensions: &http::Extensions) -> Option<&ClientCert> {
    extensions.get::<TcpPeer>().and_then(|info| info.certificate.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tcp_caller_is_named_by_its_address_and_anything_else_is_unknown() {
        let mut extensions = http::Extensions::new();
        assert_eq!(tcp_name(&extensions), "unknown");
        let addr: SocketAddr = "127.0.0.1:4242".parse().unwrap();
        extensions.insert(TcpPeer { remote_addr: Some(addr), certificate: None });
        assert_eq!(tcp_name(&extensions), "127.0.0.1:4242");
    }
}
