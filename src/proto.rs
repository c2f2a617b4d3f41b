//! The one place generated protobuf/gRPC code enters the crate.
//!
//! `build.rs` compiles `proto/rebound/v1/*.proto`; this module includes the result and the
//! encoded descriptor set that the reflection service serves. Lint allowances for generated
//! code live here and nowhere else. Hand-written code must not be added to this module.

/// `rebound.v1`: messages, clients (`*_client`) and servers (`*_server`).
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub mod v1 {
    tonic::include_proto!("rebound.v1");
}

/// Encoded `FileDescriptorSet` of every rebound proto file plus its imports, with comments.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("rebound_descriptor");
