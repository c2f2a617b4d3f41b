//! Which gRPC methods stream, read once from the descriptor sets this server serves (rebound,
//! grpc.health.v1, reflection). The RPC layer counts open streams apart from unary calls with
//! it, so a drain can report both; the gRPC metrics take their (bounded) labels from it.

use prost::Message;
use crate::metrics::GrpcLabels;
use std::collections::HashMap;
use std::sync::LazyLock;

/// A method this server serves: its service and method names, and whether it streams.
struct Served {
    service: String,
    method: String,
    streaming: bool,
}

/// Every method of the served descriptor sets, by path (`/package.Service/Method`).
static SERVED: LazyLock<HashMap<String, Served>> = LazyLock::new(|| {
    let sets = [
        crate::proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ];
    let mut served = HashMap::new();
    for bytes in sets {
        let Ok(set) = prost_types::FileDescriptorSet::decode(bytes) else {
            tracing::error!("unreadable embedded descriptor set");
            continue;
        };
        for file in &set.file {
            for service in &file.service {
                let service_name = format!("{}.{}", file.package(), service.name());
                for method in &service.method {
                    served.insert(
                        format!("/{service_name}/{}", method.name()),
                        Served {
                            service: service_name.clone(),
                            method: method.name().to_owned(),
                            streaming: method.server_streaming() || method.client_streaming(),
                        },
                    );
                }
            }
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
    let Ok(set) = prost_types::FileDescriptorSet::decode(crate::proto::FILE_DESCRIPTOR_SET) else {
        return Vec::new();
    };
    let mut methods = Vec::new();
    for file in set.file.iter().filter(|f| f.package() == "rebound.v1") {
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

/// Whether the method at `path` (`/package.Service/Method`) streams in either direction.
pub fn is_streaming(path: &str) -> bool {
    SERVED.get(path).is_some_and(|served| served.streaming)
}

/// The metric labels of the method at `path`: its service and name when this server serves
/// it, `unknown` for anything else (so a client cannot create label values at will).
pub fn metric_labels(path: &str) -> GrpcLabels {
    match SERVED.get(path) {
        Some(served) => GrpcLabels { grpc_service: &served.service, grpc_method: &served.method },
        None => GrpcLabels { grpc_service: "unknown", grpc_method: "unknown" },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_the_streaming_methods_of_every_served_service() {
        assert!(is_streaming("/grpc.health.v1.Health/Watch"));
        assert!(is_streaming("/rebound.v1.RestartService/WatchRestart"));
        assert!(is_streaming("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"));
        assert!(!is_streaming("/grpc.health.v1.Health/Check"));
        assert!(!is_streaming("/rebound.v1.HealthService/GetHealth"));
        assert!(!is_streaming("/nope"));
    }

    #[test]
    fn metric_labels_name_served_methods_only() {
        let labels = metric_labels("/rebound.v1.HealthService/GetHealth");
        assert_eq!((labels.grpc_service, labels.grpc_method), ("rebound.v1.HealthService", "GetHealth"));
        let labels = metric_labels("/made.Up/Anything");
        assert_eq!((labels.grpc_service, labels.grpc_method), ("unknown", "unknown"));
    }
}
