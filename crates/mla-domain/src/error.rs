//! Why the domain refused something: one variant per rule, each with a machine-readable reason.

use crate::principal::Role;
use crate::request::{Action, State};

/// A field that failed to parse, named as in the contract (`persons[2].name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self { field: field.into(), description: description.into() }
    }
}

/// The class of a refusal, which the transport maps to its status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    InvalidArgument,
    FailedPrecondition,
    PermissionDenied,
    NotFound,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The request does not exist for this principal (it may exist, but the principal may not see it:
    /// there is no existence oracle).
    #[error("request not found")]
    NotFound,
    #[error("{action} is not possible in state {state}")]
    IllegalTransition { state: State, action: Action },
    #[error("{action} is for the {required} side of this request")]
    WrongSide { action: &'static str, required: &'static str },
    #[error("{action} needs one of the roles {}", roles_list(.allowed))]
    MissingRole { action: &'static str, allowed: &'static [Role] },
    #[error("the request cannot be submitted without: {}", .missing.join(", "))]
    IncompleteRequest { missing: Vec<&'static str> },
    #[error("partner {0} is not in the registry")]
    UnknownPartner(String),
    #[error("partner {0} is not active")]
    PartnerInactive(String),
    #[error("{action} needs a non-empty {field}")]
    MissingReason { action: &'static str, field: &'static str },
    #[error("PROPOSE_CONDITIONS needs at least one condition")]
    MissingConditions,
    #[error("REFUSE needs at least one refusal ground")]
    MissingRefusalGround,
    #[error(
        "refusing on {ground} before any condition was proposed needs consultation first, or a consultation_waived_reason"
    )]
    ConsultationRequired { ground: &'static str },
    #[error("COMPLETE_EXECUTION needs an outcome (FULL or PARTIAL)")]
    MissingOutcome,
    #[error("invalid input: {}", violations_list(.0))]
    InvalidFields(Vec<FieldViolation>),
    #[error("{field} cannot be changed: {why}")]
    NotEditable { field: String, why: &'static str },
    #[error("the new due date must be later than the current one")]
    DueDateNotExtended,
    #[error("{0}")]
    NotAllowed(&'static str),
    /// The document does not exist for this principal (as for requests, no existence oracle).
    #[error("document not found")]
    DocumentNotFound,
    /// The human-rights gate: evidence leaves only once every condition is accepted and the request
    /// is in execution or executed.
    #[error(
        "evidence is released only when every condition on the request is accepted ({pending} pending) and the request is IN_EXECUTION or EXECUTED (it is {state})"
    )]
    AssurancesPending { state: State, pending: usize },
    #[error("document {0} is not withheld: only withheld evidence is released")]
    NotWithheld(String),
    /// Acting on a partner's behalf: only NCIJC registrars and legal officers, only for a partner
    /// that works on paper.
    #[error("{0}")]
    OnBehalfRefused(&'static str),
    /// The message does not exist for this principal (as for requests, no existence oracle).
    #[error("message not found")]
    MessageNotFound,
}

fn violations_list(violations: &[FieldViolation]) -> String {
    let described: Vec<_> = violations.iter().map(|v| format!("{}: {}", v.field, v.description)).collect();
    described.join("; ")
}

fn roles_list(roles: &[Role]) -> String {
    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
}

impl DomainError {
    /// The machine-readable reason carried in the error detail (UPPER_SNAKE).
    pub fn reason(&self) -> &'static str {
        match self {
            DomainError::NotFound => "REQUEST_NOT_FOUND",
            DomainError::IllegalTransition { .. } => "ILLEGAL_TRANSITION",
            DomainError::WrongSide { .. } => "WRONG_SIDE",
            DomainError::MissingRole { .. } => "MISSING_ROLE",
            DomainError::IncompleteRequest { .. } => "INCOMPLETE_REQUEST",
            DomainError::UnknownPartner(_) => "UNKNOWN_PARTNER",
            DomainError::PartnerInactive(_) => "PARTNER_INACTIVE",
            DomainError::MissingReason { .. } => "REASON_REQUIRED",
            DomainError::MissingConditions => "CONDITIONS_REQUIRED",
            DomainError::MissingRefusalGround => "REFUSAL_GROUND_REQUIRED",
            DomainError::ConsultationRequired { .. } => "CONSULTATION_REQUIRED",
            DomainError::MissingOutcome => "OUTCOME_REQUIRED",
            DomainError::InvalidFields(_) => "INVALID_FIELDS",
            DomainError::NotEditable { .. } => "NOT_EDITABLE",
            DomainError::DueDateNotExtended => "DUE_DATE_NOT_EXTENDED",
            DomainError::NotAllowed(_) => "NOT_ALLOWED",
            DomainError::DocumentNotFound => "DOCUMENT_NOT_FOUND",
            DomainError::AssurancesPending { .. } => "ASSURANCES_PENDING",
            DomainError::NotWithheld(_) => "NOT_WITHHELD",
            DomainError::OnBehalfRefused(_) => "ON_BEHALF_NOT_ALLOWED",
            DomainError::MessageNotFound => "MESSAGE_NOT_FOUND",
        }
    }

    pub fn class(&self) -> ErrorClass {
        match self {
            DomainError::NotFound | DomainError::DocumentNotFound | DomainError::MessageNotFound => {
                ErrorClass::NotFound
            }
            DomainError::WrongSide { .. }
            | DomainError::MissingRole { .. }
            | DomainError::NotAllowed(_)
            | DomainError::OnBehalfRefused(_) => ErrorClass::PermissionDenied,
            DomainError::IllegalTransition { .. }
            | DomainError::IncompleteRequest { .. }
            | DomainError::UnknownPartner(_)
            | DomainError::PartnerInactive(_)
            | DomainError::ConsultationRequired { .. }
            | DomainError::NotEditable { .. }
            | DomainError::AssurancesPending { .. }
            | DomainError::NotWithheld(_) => ErrorClass::FailedPrecondition,
            DomainError::MissingReason { .. }
            | DomainError::MissingConditions
            | DomainError::MissingRefusalGround
            | DomainError::MissingOutcome
            | DomainError::InvalidFields(_)
            | DomainError::DueDateNotExtended => ErrorClass::InvalidArgument,
        }
    }

    /// Key-value facts for the error detail's metadata: the state, the action, the fields concerned.
    pub fn metadata(&self) -> Vec<(&'static str, String)> {
        match self {
            DomainError::IllegalTransition { state, action } => {
                vec![("state", state.to_string()), ("action", action.to_string())]
            }
            DomainError::WrongSide { action, required } => {
                vec![("action", (*action).to_owned()), ("required_side", (*required).to_owned())]
            }
            DomainError::MissingRole { action, allowed } => {
                vec![("action", (*action).to_owned()), ("allowed_roles", roles_list(allowed))]
            }
            DomainError::IncompleteRequest { missing } => vec![("missing_fields", missing.join(","))],
            DomainError::UnknownPartner(code) | DomainError::PartnerInactive(code) => {
                vec![("partner_code", code.clone())]
            }
            DomainError::MissingReason { action, field } => {
                vec![("action", (*action).to_owned()), ("field", (*field).to_owned())]
            }
            DomainError::ConsultationRequired { ground } => vec![("refusal_ground", (*ground).to_owned())],
            DomainError::NotEditable { field, .. } => vec![("field", field.clone())],
            DomainError::AssurancesPending { state, pending } => {
                vec![("state", state.to_string()), ("pending_conditions", pending.to_string())]
            }
            DomainError::NotWithheld(id) => vec![("document_id", id.clone())],
            _ => Vec::new(),
        }
    }

    /// The field violations to report as a `BadRequest` detail, when the error is about input fields.
    pub fn field_violations(&self) -> Vec<FieldViolation> {
        match self {
            DomainError::InvalidFields(violations) => violations.clone(),
            DomainError::MissingReason { field, .. } => vec![FieldViolation::new(*field, self.to_string())],
            DomainError::MissingConditions => vec![FieldViolation::new("conditions", self.to_string())],
            DomainError::MissingRefusalGround => {
                vec![FieldViolation::new("refusal_grounds", self.to_string())]
            }
            DomainError::MissingOutcome => vec![FieldViolation::new("outcome", self.to_string())],
            DomainError::UnknownPartner(_) => vec![FieldViolation::new("partner_code", self.to_string())],
            DomainError::DueDateNotExtended => vec![FieldViolation::new("due_time", self.to_string())],
            DomainError::OnBehalfRefused(why) => vec![FieldViolation::new("on_behalf_of_partner", *why)],
            _ => Vec::new(),
        }
    }
}
