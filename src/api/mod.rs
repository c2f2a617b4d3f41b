//! gRPC adapters: one file per service, each a thin translation between proto messages and
//! the domain. Business rules do not live here.
//!
//! [`layer`] wraps every RPC (tracing span, in-flight accounting, stream draining — and the
//! single place authentication will plug in); [`status`] is the one domain-error → status
//! mapping.

pub mod audit;
pub mod client_command;
pub mod config;
pub mod convert;
pub mod health;
pub mod layer;
pub(crate) mod methods;
pub mod page;
pub mod policy;
pub mod recovery;
pub mod restart;
pub mod status;
