//! The gRPC face of mla-broker. It authenticates every call (except health and reflection), turns
//! protobuf messages into domain values, calls the application, and maps its one error type to a
//! status with `google.rpc` details. It decides no rule of its own.

mod auth;
mod convert;
mod documents;
mod error;
mod partners;
mod requests;
mod server;

pub use auth::Authentication;
pub use error::status_of;
pub use server::{InProcess, in_process, serve, tls_config};
