//! The domain core of mla-broker: what a mutual legal-assistance request is and which rules govern it.
//!
//! Nothing here performs I/O, knows a transport or a database, or reads a clock: every function takes
//! the time it needs, and returns decisions (a new request, an audit event) as data for the caller to
//! persist. The rules follow `lifecycle.md`: the transition table in [`lifecycle`], the guards beside it,
//! the deadline clock in [`clock`], who may see what in [`visibility`], the audit hash in [`audit`],
//! the documents with their release gate and custody in [`document`], the acts recorded from paper in
//! [`paper`], the messages around a request in [`correspondence`], and the limits of what is accepted
//! in [`limits`].

pub mod audit;
pub mod clock;
pub mod correspondence;
pub mod document;
pub mod error;
pub mod lifecycle;
pub mod limits;
pub mod paper;
pub mod partner;
pub mod personal;
pub mod principal;
pub mod request;
pub mod search;
pub mod text;
pub mod visibility;

pub use error::{DomainError, ErrorClass, FieldViolation};
pub use lifecycle::{
    Command, Context, NewRequest, Patch, Transition, allowed_actions, create, transition, update,
};
pub use partner::{Channel, Partner, PartnerKind};
pub use principal::{Party, Principal, Role};
pub use request::*;
pub use text::{LongText, PartnerCode, Reference, RequestId, ShortText};
pub use visibility::Scope;

/// Instants are UTC throughout; the domain never reads the system clock itself.
pub type Timestamp = chrono::DateTime<chrono::Utc>;
