//! Which gRPC methods stream, read once from the descriptor sets this server serves (rebound,
//! grpc.health.v1, reflection). The RPC layer counts open streams apart from unary calls with
//! it, so a drain can report both.

use prost::Message;
use std::collections::HashSet;
use std::sync::LazyLock;

static STREAMING: LazyLock<HashSet<String>> = LazyLock::new(|| {
    let sets = [
        crate::proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ];
    let mut streaming = HashSet::new();
    for bytes in sets {
        let Ok(set) = prost_types::FileDescriptorSet::decode(bytes) else {
            tracing::error!("unreadable embedded descriptor set");
            continue;
        };
        for file in &set.file {
            for service in &file.service {
                for method in &service.method {
                    if method.server_streaming() || method.client_streaming() {
                        streaming.insert(format!(
                            "/{}.{}/{}",
                            file.package(),
                            service.name(),
                            method.name()
                        ));
                    }
                }
            }
        }
    }
    streaming
});

/// Whether the method at `path` (`/package.Service/Method`) streams in either direction.
pub fn is_streaming(path: &str) -> bool {
    STREAMING.contains(path)
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
}
