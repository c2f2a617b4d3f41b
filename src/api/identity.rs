//! The one source of "who made this call": the TCP listener describes each connection as a
//! [`TcpPeer`] (address, verified client certificate) that tonic puts in every request's
//! extensions; the RPC layer hands that to the gate and stores the [`Principal`] it
//! admitted; services, history and the audit log read it here.
//! Nothing here decides whether a call is allowed.

use crate::audit::AuditSlot;
pub use crate::auth::peer::{TcpPeer, certificate};
use crate::auth::peer::{tcp_addr, tcp_name};
use crate::auth::{Principal, Role};
use tonic::transport::server::UdsConnectInfo;

/// The caller's address: `ip:port`, `unix`, or `unknown`.
pub fn peer(extensions: &http::Extensions) -> String {
    if tcp_addr(extensions).is_none() && extensions.get::<UdsConnectInfo>().is_some() {
        return "unix".to_owned();
    }
    tcp_name(extensions)
}

/// The principal of a call: the one the RPC layer admitted, or the bare peer for a request
/// that did not pass through it (unit tests).
pub fn of(extensions: &http::Extensions) -> Principal {
    extensions.get::<Principal>().cloned().unwrap_or_else(|| Principal::anonymous(peer(extensions)))
}

/// The principal's name, for history records (`issued_by`, reload and restart principals).
pub fn principal<T>(request: &tonic::Request<T>) -> String {
    of(request.extensions()).name
}

/// The audit slot of a mutating call (see `crate::audit`): handed to the operation so the
/// row commits with its change. Empty for calls the layer does not audit.
pub fn audit<T>(request: &tonic::Request<T>) -> AuditSlot {
    request.extensions().get::<AuditSlot>().cloned().unwrap_or_default()
}

/// For a request field that needs more than the method's role (e.g. a reload that may
/// restart the server): PERMISSION_DENIED when the caller's authenticated role is below
/// `role`. Without authentication there is no role to check.
pub fn require<T>(
    request: &tonic::Request<T>,
    role: Role,
    what: &str,
) -> Result<(), crate::error::Error> {
    let principal = of(request.extensions());
    match principal.role {
        Some(actual) if actual < role => Err(crate::error::Error::PermissionDenied(format!(
            "{what} needs role {} or higher; {} has role {}",
            role.as_str(),
            principal.name,
            actual.as_str()
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_admitted_principal_or_falls_back_to_the_peer() {
        let mut request = tonic::Request::new(());
        assert_eq!(principal(&request), "peer:unknown");
        request.extensions_mut().insert(Principal {
            name: "ops".into(),
            role: Some(Role::Admin),
            peer: "127.0.0.1:9".into(),
        });
        assert_eq!(principal(&request), "ops");
        assert!(require(&request, Role::Admin, "x").is_ok());
        request.extensions_mut().insert(Principal {
            name: "ci".into(),
            role: Some(Role::Operator),
            peer: "unix".into(),
        });
        let err = require(&request, Role::Admin, "restart_if_required").unwrap_err();
        assert_eq!(
            err.to_string(),
            "restart_if_required needs role admin or higher; ci has role operator"
        );
    }
}
