//! Correspondence: the messages exchanged around a request between its two sides (clarifications,
//! reminders, status enquiries), the NCIJC's internal case notes beside them, and the read receipts
//! the other side leaves.
//!
//! Each message and each read receipt is an event in the request's chain, with the message's
//! audience: an internal note is an event for the NCIJC alone, so that a partner never learns of it,
//! not even by an event. Like custody, correspondence changes nothing of the request: its events carry
//! the request's state on both ends and leave its version (its etag) alone. The chain holds the
//! body's SHA-256, not the body itself, which is kept byte for byte in the message.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::Timestamp;
use crate::audit::{self, Actor, EventDraft};
use crate::document::{Audience, Document, DocumentId, reader_side};
use crate::error::{DomainError, FieldViolation};
use crate::lifecycle::Side;
use crate::principal::{Principal, Role};
use crate::request::Request;
use crate::text::{LongText, RequestId, uuid_id};

/// The correspondence events' actions, as the audit trail names them.
pub const MESSAGE_POSTED: &str = "MESSAGE_POSTED";
pub const MESSAGES_READ: &str = "MESSAGES_READ";

/// Whether an event records correspondence rather than a change to the request.
pub fn is_correspondence(action: &str) -> bool {
    matches!(action, MESSAGE_POSTED | MESSAGES_READ)
}

/// NCIJC roles that write messages and case notes (the auditor reads only).
pub const WRITING_ROLES: &[Role] =
    &[Role::Registrar, Role::LegalOfficer, Role::Judge, Role::EvidenceOfficer, Role::Supervisor];

pub use crate::limits::MAX_ATTACHMENTS;

uuid_id!(
    /// A message's identifier, so that a request's messages sort by posting time.
    MessageId,
    "a message id"
);

/// A message as the register holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub request_id: RequestId,
    pub author: Actor,
    /// The side of the request that wrote it: an internal note stays with it.
    pub author_side: Side,
    pub audience: Audience,
    pub body: LongText,
    /// Documents of the same request.
    pub attachment_ids: Vec<DocumentId>,
    pub create_time: Timestamp,
    /// When the other side first read it.
    pub read_time: Option<Timestamp>,
}

impl Message {
    /// Whether the side `reader` of the message's request may read it (the request being visible).
    pub fn visible_from(&self, reader: Side) -> bool {
        reader == self.author_side || self.audience == Audience::Shared
    }
}

/// What an author writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewMessage {
    pub audience: Audience,
    pub body: LongText,
    pub attachment_ids: Vec<DocumentId>,
}

fn invalid(field: impl Into<String>, why: &str) -> DomainError {
    DomainError::InvalidFields(vec![FieldViolation::new(field, why)])
}

/// Decides a message: its author must see the request and hold a writing role; the body is not
/// blank; an internal note is the NCIJC's; each attachment is a document of this request that the
/// author sees, and that the other side sees too when the message is shared (a shared message never
/// points at what the other side may not read). `attachments` are the documents the ids name, as the
/// store has them.
pub fn post(
    request: &Request,
    id: MessageId,
    new: NewMessage,
    attachments: &[Option<Document>],
    principal: &Principal,
    now: Timestamp,
) -> Result<(Message, EventDraft), DomainError> {
    let side = reader_side(request, principal)?;
    if principal.is_ncijc() && !principal.has_any_role(WRITING_ROLES) {
        return Err(DomainError::MissingRole { action: "POST_MESSAGE", allowed: WRITING_ROLES });
    }
    if new.body.is_blank() {
        return Err(invalid("message.body", "a message needs a body"));
    }
    if new.audience == Audience::Internal && !principal.is_ncijc() {
        return Err(invalid(
            "message.audience",
            "internal notes are the NCIJC's case notes: a partner's messages are SHARED",
        ));
    }
    if new.attachment_ids.len() > MAX_ATTACHMENTS {
        return Err(invalid("message.attachment_ids", "a message carries at most 20 attachments"));
    }
    let mut violations = Vec::new();
    for (i, id) in new.attachment_ids.iter().enumerate() {
        let field = format!("message.attachment_ids[{i}]");
        match attachments.get(i).and_then(Option::as_ref) {
            Some(d) if d.id == *id && d.request_id == request.id && d.visible_from(side) => {
                if new.audience == Audience::Shared && !d.visible_from(side.other()) {
                    violations.push(FieldViolation::new(
                        field,
                        "an internal or withheld document cannot go with a shared message",
                    ));
                }
            }
            _ => violations.push(FieldViolation::new(field, "names no document of this request")),
        }
    }
    if !violations.is_empty() {
        return Err(DomainError::InvalidFields(violations));
    }
    let message = Message {
        id,
        request_id: request.id,
        author: Actor::of(principal),
        author_side: side,
        audience: new.audience,
        body: new.body,
        attachment_ids: new.attachment_ids,
        create_time: now,
        read_time: None,
    };
    let details = json!({
        "message_id": message.id,
        "audience": message.audience,
        "body_sha256": hex::encode(Sha256::digest(message.body.as_str().as_bytes())),
        "attachment_ids": message.attachment_ids,
    });
    let internal = message.audience == Audience::Internal;
    let event = EventDraft::beside(
        request,
        principal,
        MESSAGE_POSTED,
        details,
        audit::Audience::of(request, internal),
        now,
    );
    Ok((message, event))
}

/// Checks that `up_to` may close a read receipt of `principal`'s side: a message of this request
/// from the other side. A message the reader may not see is answered as one that does not exist.
/// Returns the reader's side and the message.
pub fn check_read_up_to<'m>(
    request: &Request,
    up_to: Option<&'m Message>,
    principal: &Principal,
) -> Result<(Side, &'m Message), DomainError> {
    let side = reader_side(request, principal)?;
    if principal.is_ncijc() && !principal.has_any_role(WRITING_ROLES) {
        return Err(DomainError::MissingRole { action: "MARK_MESSAGES_READ", allowed: WRITING_ROLES });
    }
    match up_to {
        Some(m) if m.request_id == request.id && m.visible_from(side) && m.author_side != side => {
            Ok((side, m))
        }
        Some(m) if m.request_id == request.id && m.visible_from(side) => Err(invalid(
            "up_to_message_id",
            "names a message of your own side: read receipts are for the other side's messages",
        )),
        _ => Err(invalid("up_to_message_id", "names no message of this request")),
    }
}

/// Decides a read receipt: `unread` are the other side's messages up to `up_to` that nobody on the
/// reader's side has read yet. Returns the messages read now and the event; nothing new read, nothing
/// recorded (`None`).
pub fn mark_read(
    request: &Request,
    up_to: &Message,
    unread: &[Message],
    principal: &Principal,
    now: Timestamp,
) -> Result<Option<(Vec<MessageId>, EventDraft)>, DomainError> {
    let (side, _) = check_read_up_to(request, Some(up_to), principal)?;
    let ids: Vec<MessageId> = unread
        .iter()
        .filter(|m| m.request_id == request.id && m.author_side != side && m.audience == Audience::Shared)
        .filter(|m| m.read_time.is_none() && m.id <= up_to.id)
        .map(|m| m.id)
        .collect();
    if ids.is_empty() {
        return Ok(None);
    }
    let details = json!({ "up_to_message_id": up_to.id, "message_ids": ids });
    Ok(Some((
        ids,
        EventDraft::beside(
            request,
            principal,
            MESSAGES_READ,
            details,
            audit::Audience::of(request, false),
            now,
        ),
    )))
}
