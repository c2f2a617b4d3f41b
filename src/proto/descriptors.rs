//! The descriptors of every gRPC service this crate speaks (rebound.v1, grpc.health.v1 and
//! both reflection versions), decoded once into one pool, and which of their methods stream.
//!
//! The descriptor sets are compiled into the binary by `build.rs` and the tonic crates, so
//! one that does not decode is a build defect, not a runtime condition: the pool is decoded
//! on first use and panics with that message (a unit test decodes it in every build). Every
//! user reads the same pool: the RPC layer and the audit trail on the server, the
//! restart-riding transport and the MCP adapter's JSON on the client side.

use prost_reflect::DescriptorPool;
use std::collections::HashSet;
use std::sync::LazyLock;

/// The encoded descriptor sets of the services in the pool.
const SETS: [&[u8]; 4] = [
    super::FILE_DESCRIPTOR_SET,
    tonic_health::pb::FILE_DESCRIPTOR_SET,
    tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
    tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
];

static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    let mut pool = DescriptorPool::new();
    for set in SETS {
        if let Err(err) = pool.decode_file_descriptor_set(set) {
            panic!("the descriptor sets compiled into this binary must decode: {err}");
        }
    }
    pool
});

/// `/package.Service/Method` of every method that streams in either direction.
static STREAMING: LazyLock<HashSet<String>> = LazyLock::new(|| {
    let mut streaming = HashSet::new();
    for service in pool().services() {
        for method in service.methods() {
            if method.is_client_streaming() || method.is_server_streaming() {
                streaming.insert(format!("/{}/{}", service.full_name(), method.name()));
            }
        }
    }
    streaming
});

/// The pool of every service this crate speaks, with the comments of the .proto files.
pub fn pool() -> &'static DescriptorPool {
    &POOL
}

/// Whether the method at `path` (`/package.Service/Method`) streams in either direction.
pub fn is_streaming(path: &str) -> bool {
    STREAMING.contains(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_holds_every_service_spoken() {
        for service in [
            "rebound.v1.RestartService",
            "rebound.v1.ClientCommandService",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ] {
            assert!(pool().get_service_by_name(service).is_some(), "{service}");
        }
        assert!(pool().get_message_by_name("rebound.v1.GetHealthResponse").is_some());
    }

    #[test]
    fn the_pool_keeps_the_proto_comments() {
        let file = pool().get_service_by_name("rebound.v1.RestartService").unwrap().parent_file();
        let info = file.file_descriptor_proto().source_code_info.as_ref();
        assert!(
            info.is_some_and(|info| info.location.iter().any(|l| l.leading_comments.is_some()))
        );
    }

    #[test]
    fn knows_the_streaming_methods_of_every_served_service() {
        assert!(is_streaming("/grpc.health.v1.Health/Watch"));
        assert!(is_streaming("/rebound.v1.RestartService/WatchRestart"));
        assert!(is_streaming("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"));
        assert!(is_streaming("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"));
        assert!(!is_streaming("/grpc.health.v1.Health/Check"));
        assert!(!is_streaming("/rebound.v1.HealthService/GetHealth"));
        assert!(!is_streaming("/nope"));
    }
}
