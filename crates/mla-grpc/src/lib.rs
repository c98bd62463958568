//! The gRPC face of mla-broker. It authenticates every call (except health and reflection), turns
//! protobuf messages into domain values, calls the application, and maps its one error type to a
//! status with `google.rpc` details. It decides no rule of its own.

mod auth;
/// Public for the fuzz targets (`tests/fuzz`), which feed it what the services parse.
pub mod convert;
mod documents;
mod error;
mod limits;
mod metrics;
mod partners;
mod requests;
mod server;
mod statistics;

pub use auth::Authentication;
pub use documents::upload_in;
pub use error::status_of;
pub use limits::{
    DEFAULT_BURST, DEFAULT_CALLS_PER_SECOND, DEFAULT_CONCURRENT_CALLS, DEFAULT_STREAMS, LimitSettings, Limits,
};
pub use metrics::GrpcMetrics;
pub use server::{Connections, InProcess, Layers, in_process, serve, tls_config};
