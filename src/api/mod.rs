//! gRPC adapters: one file per service, each a thin translation between proto messages and
//! the domain. Business rules do not live here.
//!
//! [`layer`] wraps every RPC (tracing span, in-flight accounting, stream draining, authentication
//! and authorization through [`crate::auth::Gate`], audit, the status of undecodable
//! requests through [`decode`]); [`identity`] is the one source of
//! the caller's principal; [`status`] is the one domain-error → status
//! mapping.

pub mod audit;
pub mod client_command;
pub mod config;
pub mod convert;
pub mod decode;
pub mod health;
pub mod identity;
pub mod layer;
pub mod methods;
pub mod page;
pub mod policy;
pub mod recovery;
pub mod restart;
pub mod status;
