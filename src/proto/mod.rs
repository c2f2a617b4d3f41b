//! The one place generated protobuf/gRPC code enters the crate, and the leaf both ends of
//! the API share.
//!
//! `build.rs` compiles `proto/rebound/v1/*.proto`; this file includes the result and the
//! encoded descriptor set that the reflection service serves. Lint allowances for generated
//! code live here and nowhere else. Hand-written code is not added to this file: the helpers
//! the server and the clients share over the contract live in its submodules,
//! [`descriptors`] (the one descriptor pool, which methods stream) and [`codes`] (status code
//! names). They import nothing from the crate but this module.

pub mod codes;
pub mod descriptors;

/// `rebound.v1`: messages, clients (`*_client`) and servers (`*_server`).
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub mod v1 {
    tonic::include_proto!("rebound.v1");
}

/// Encoded `FileDescriptorSet` of every rebound proto file plus its imports, with comments.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("rebound_descriptor");
