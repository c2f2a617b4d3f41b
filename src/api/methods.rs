//! The rebound.v1 methods as the contract documents them (path, streaming, role), read from
//! the shared descriptor pool ([`crate::proto::descriptors`]). The policy table is checked
//! against them, and the security tests call each one. The gRPC metrics take their (bounded)
//! labels from the same pool.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::metrics::GrpcLabels;

/// (service, method) of every method this server serves, by path (`/package.Service/Method`).
static SERVED: LazyLock<HashMap<String, (String, String)>> = LazyLock::new(|| {
    let mut served = HashMap::new();
    for service in crate::proto::descriptors::pool().services() {
        for method in service.methods() {
            let path = format!("/{}/{}", service.full_name(), method.name());
            served.insert(path, (service.full_name().to_owned(), method.name().to_owned()));
        }
    }
    served
});

/// A method of the rebound.v1 contract as its descriptor documents it.
#[derive(Debug, Clone)]
pub struct ContractMethod {
    /// `/rebound.v1.Service/Method`.
    pub path: String,
    pub server_streaming: bool,
    pub client_streaming: bool,
    /// The role its comment documents ("Role: operator." → `operator`); empty when none.
    pub role: String,
}

/// Every rebound.v1 method compiled into this binary, in proto order, with its documented
/// role. The policy table is checked against it, and the security tests call each one.
pub fn contract() -> Vec<ContractMethod> {
    let mut methods = Vec::new();
    let files = crate::proto::descriptors::pool().file_descriptor_protos();
    for file in files.filter(|f| f.package() == "rebound.v1") {
        let locations =
            file.source_code_info.as_ref().map(|i| i.location.as_slice()).unwrap_or_default();
        for (s, service) in file.service.iter().enumerate() {
            for (m, method) in service.method.iter().enumerate() {
                // Path of a method in a file: service (6), index, method (2), index.
                let path = [6, s as i32, 2, m as i32];
                let comment = locations
                    .iter()
                    .find(|l| l.path == path)
                    .map(|l| l.leading_comments().replace('\n', " "))
                    .unwrap_or_default();
                let role = comment
                    .split("Role: ")
                    .nth(1)
                    .and_then(|rest| rest.split(|c: char| !c.is_alphabetic()).next())
                    .unwrap_or_default()
                    .to_owned();
                methods.push(ContractMethod {
                    path: format!("/{}.{}/{}", file.package(), service.name(), method.name()),
                    server_streaming: method.server_streaming(),
                    client_streaming: method.client_streaming(),
                    role,
                });
            }
        }
    }
    methods
}

/// The metric labels of the method at `path`: its service and name when this server serves
/// it, `unknown` for anything else (so a client cannot create label values at will).
pub fn metric_labels(path: &str) -> GrpcLabels {
    match SERVED.get(path) {
        Some((service, method)) => GrpcLabels { grpc_service: service, grpc_method: method },
        None => GrpcLabels { grpc_service: "unknown", grpc_method: "unknown" },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_labels_name_served_methods_only() {
        let labels = metric_labels("/rebound.v1.HealthService/GetHealth");
        assert_eq!(
            (labels.grpc_service, labels.grpc_method),
            ("rebound.v1.HealthService", "GetHealth")
        );
        let labels = metric_labels("/made.Up/Anything");
        assert_eq!((labels.grpc_service, labels.grpc_method), ("unknown", "unknown"));
    }
}
