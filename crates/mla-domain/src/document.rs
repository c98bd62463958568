//! The documents of a request (the letter, annexes, translations, assurances, evidence): who may see
//! each, the release gate that keeps evidence in Iraq until its assurances are accepted, and the
//! custody events that record every upload, download and release in the request's hash chain.
//!
//! Custody events are chained like every other event but change nothing of the request: they carry
//! its state as both `from_state` and `to_state` and do not advance its version (its etag), so that
//! reading a document never makes a colleague's etag stale. The store counts them beside the version
//! (`custody_events`), and the audit verifier measures each count against the chain.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Timestamp;
use crate::audit::{self, Actor, EventDraft};
use crate::error::{DomainError, FieldViolation};
use crate::lifecycle::{Side, side_of};
use crate::principal::{Principal, Role};
use crate::request::{ConditionStatus, Request, State, vocabulary};
use crate::text::{ParseError, RequestId, ShortText, uuid_id};
use crate::visibility::Scope;

vocabulary!(
    /// What a document is.
    DocumentKind {
        LetterOfRequest = "LETTER_OF_REQUEST",
        SupportingDocument = "SUPPORTING_DOCUMENT",
        Translation = "TRANSLATION",
        Assurance = "ASSURANCE",
        Evidence = "EVIDENCE",
        Correspondence = "CORRESPONDENCE",
        Other = "OTHER",
    }
);

vocabulary!(
    /// Who may see a document within its request's visibility: both sides, or (INTERNAL) only the
    /// side that uploaded it.
    Audience {
        Shared = "SHARED",
        Internal = "INTERNAL",
    }
);

vocabulary!(
    /// Where a document stands with regard to release to the requesting side.
    ReleaseState {
        NotApplicable = "NOT_APPLICABLE",
        Withheld = "WITHHELD",
        Released = "RELEASED",
    }
);

/// The custody events' actions, as the audit trail names them.
pub const DOCUMENT_ADDED: &str = "DOCUMENT_ADDED";
pub const DOCUMENT_DOWNLOADED: &str = "DOCUMENT_DOWNLOADED";
pub const DOCUMENTS_RELEASED: &str = "DOCUMENTS_RELEASED";
pub const EVIDENCE_PACKAGE_EXPORTED: &str = "EVIDENCE_PACKAGE_EXPORTED";

/// Whether an event records the custody of documents rather than a change to the request: such
/// events do not count towards the request's version.
pub fn is_custody(action: &str) -> bool {
    matches!(action, DOCUMENT_ADDED | DOCUMENT_DOWNLOADED | DOCUMENTS_RELEASED | EVIDENCE_PACKAGE_EXPORTED)
}

/// NCIJC roles that may upload documents (the auditor reads only).
pub const UPLOAD_ROLES: &[Role] =
    &[Role::Registrar, Role::LegalOfficer, Role::Judge, Role::EvidenceOfficer, Role::Supervisor];
/// NCIJC roles that may release withheld evidence.
pub const RELEASE_ROLES: &[Role] = &[Role::Judge, Role::Supervisor];

uuid_id!(
    /// A document's identifier, so that a request's documents sort by upload time.
    DocumentId,
    "a document id"
);

/// A SHA-256 digest as 64 lower-case hex digits: the content's address and its identity in custody.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256(String);

impl Sha256 {
    /// Accepts either case, keeps lower case.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        if raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(raw.to_ascii_lowercase()))
        } else {
            Err(ParseError("a SHA-256 is 64 hex digits".into()))
        }
    }

    pub fn from_bytes(digest: [u8; 32]) -> Self {
        Self(hex::encode(digest))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Sha256 {
    type Error = ParseError;
    fn try_from(raw: String) -> Result<Self, ParseError> {
        Self::parse(&raw)
    }
}

impl From<Sha256> for String {
    fn from(digest: Sha256) -> String {
        digest.0
    }
}

/// A document as the register holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    pub id: DocumentId,
    pub request_id: RequestId,
    pub kind: DocumentKind,
    pub title: ShortText,
    /// As the uploader named the file; never a path.
    pub file_name: ShortText,
    /// Declared by the uploader.
    pub media_type: String,
    /// Detected from the content's first bytes.
    pub detected_media_type: String,
    pub size_bytes: i64,
    pub sha256: Sha256,
    pub language: String,
    pub translation_of: Option<DocumentId>,
    pub audience: Audience,
    pub release_state: ReleaseState,
    /// The accepted conditions' texts, fixed at release.
    pub use_restrictions: Vec<String>,
    pub uploaded_by: Actor,
    /// The side of the request that uploaded the document: an internal document stays with it.
    pub uploader_side: Side,
    pub create_time: Timestamp,
}

impl Document {
    /// Whether the side `reader` of the document's request may see it (the request being visible).
    pub fn visible_from(&self, reader: Side) -> bool {
        reader == self.uploader_side
            || (self.audience == Audience::Shared && self.release_state != ReleaseState::Withheld)
    }

    /// Who may read an event about this document: the sides that may see both the request and it.
    fn event_audience(&self, request: &Request) -> audit::Audience {
        let sees_request = audit::Audience::of(request, false);
        let ncijc = Side::of_ncijc(request.direction);
        audit::Audience {
            ncijc: sees_request.ncijc && self.visible_from(ncijc),
            partner: sees_request.partner && self.visible_from(ncijc.other()),
        }
    }
}

/// What an uploader says about a new document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDocument {
    pub kind: DocumentKind,
    pub title: ShortText,
    pub file_name: ShortText,
    pub media_type: String,
    pub language: String,
    pub translation_of: Option<DocumentId>,
    pub audience: Audience,
}

/// What the content store measured of an upload's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub sha256: Sha256,
    pub size_bytes: i64,
    pub detected_media_type: String,
}

pub use crate::limits::MAX_FILE_NAME_CHARS;

/// A file name as given: any Unicode, at most [`MAX_FILE_NAME_CHARS`], no control characters, not blank.
pub fn file_name(raw: &str) -> Result<ShortText, ParseError> {
    if raw.chars().count() > MAX_FILE_NAME_CHARS {
        return Err(ParseError(format!("a file name has at most {MAX_FILE_NAME_CHARS} characters")));
    }
    let name = ShortText::parse(raw)?;
    if name.is_blank() {
        return Err(ParseError("a file name is required".into()));
    }
    Ok(name)
}

/// A media type `type/subtype` (parameters allowed), lower-cased; `application/octet-stream` when empty.
pub fn media_type(raw: &str) -> Result<String, ParseError> {
    if raw.is_empty() {
        return Ok("application/octet-stream".into());
    }
    let essence = raw.split(';').next().unwrap_or_default().trim();
    let token = |part: &str| {
        !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match essence.split_once('/') {
        Some((kind, sub))
            if raw.len() <= crate::limits::MAX_MEDIA_TYPE_CHARS
                && token(kind)
                && token(sub)
                && raw.is_ascii() =>
        {
            Ok(raw.trim().to_ascii_lowercase())
        }
        _ => Err(ParseError(format!("{raw:?} is not a media type (type/subtype)"))),
    }
}

/// A BCP 47 language tag in its common shape (`ar`, `ckb`, `en-GB`, `sr-Latn`); empty when not given.
pub fn language(raw: &str) -> Result<String, ParseError> {
    if raw.is_empty() {
        return Ok(String::new());
    }
    let mut subtags = raw.split('-');
    let primary = subtags.next().unwrap_or_default();
    let primary_ok = (2..=8).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_alphabetic());
    let rest_ok = subtags.all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()));
    if primary_ok && rest_ok && raw.len() <= crate::limits::MAX_LANGUAGE_TAG_CHARS {
        Ok(raw.to_owned())
    } else {
        Err(ParseError(format!("{raw:?} is not a BCP 47 language tag")))
    }
}

/// The side from which `principal` reads `request`'s documents. A request it may not see is
/// NOT_FOUND, and so are its documents.
pub fn reader_side(request: &Request, principal: &Principal) -> Result<Side, DomainError> {
    if !Scope::of(principal).admits(request) {
        return Err(DomainError::NotFound);
    }
    side_of(principal, request.direction, &request.partner_code).ok_or(DomainError::NotFound)
}

/// Checks that `principal` may see `document` of `request`: NOT_FOUND for the request or the document
/// otherwise.
pub fn check_visible(
    request: &Request,
    document: &Document,
    principal: &Principal,
) -> Result<(), DomainError> {
    let side = reader_side(request, principal)?;
    if document.request_id != request.id || !document.visible_from(side) {
        return Err(DomainError::DocumentNotFound);
    }
    Ok(())
}

/// Checks that `principal` may upload to `request` (before its bytes are received): it must see the
/// request, hold an uploading role, and the request must not be withdrawn or closed. Returns the
/// uploader's side.
pub fn may_upload(request: &Request, principal: &Principal) -> Result<Side, DomainError> {
    let side = reader_side(request, principal)?;
    if principal.is_ncijc() && !principal.has_any_role(UPLOAD_ROLES) {
        return Err(DomainError::MissingRole { action: "UPLOAD_DOCUMENT", allowed: UPLOAD_ROLES });
    }
    if request.state.is_terminal() {
        return Err(DomainError::NotEditable {
            field: "documents".into(),
            why: "the request is withdrawn or closed",
        });
    }
    Ok(side)
}

/// Decides the addition of an uploaded document to `request`: the uploader must see the request, be
/// on one of its sides with an uploading role, and the request must not be withdrawn or closed.
/// Evidence the NCIJC shares as the requested side starts WITHHELD; a partner's upload is its own
/// release. `translated` is the document `new.translation_of` names, if the store has it.
pub fn add(
    request: &Request,
    id: DocumentId,
    new: NewDocument,
    received: Received,
    translated: Option<&Document>,
    principal: &Principal,
    now: Timestamp,
) -> Result<(Document, EventDraft), DomainError> {
    let side = may_upload(request, principal)?;
    if let Some(original) = new.translation_of {
        let found =
            translated.filter(|t| t.id == original && t.request_id == request.id && t.visible_from(side));
        if found.is_none() {
            return Err(DomainError::InvalidFields(vec![FieldViolation::new(
                "translation_of",
                "names no document of this request",
            )]));
        }
    }
    let withheld = new.kind == DocumentKind::Evidence
        && new.audience == Audience::Shared
        && principal.is_ncijc()
        && side == Side::Requested;
    let document = Document {
        id,
        request_id: request.id,
        kind: new.kind,
        title: new.title,
        file_name: new.file_name,
        media_type: new.media_type,
        detected_media_type: received.detected_media_type,
        size_bytes: received.size_bytes,
        sha256: received.sha256,
        language: new.language,
        translation_of: new.translation_of,
        audience: new.audience,
        release_state: if withheld { ReleaseState::Withheld } else { ReleaseState::NotApplicable },
        use_restrictions: Vec::new(),
        uploaded_by: Actor::of(principal),
        uploader_side: side,
        create_time: now,
    };
    let details = json!({
        "document_id": document.id,
        "sha256": document.sha256,
        "size_bytes": document.size_bytes,
        "kind": document.kind,
        "audience": document.audience,
        "release_state": document.release_state,
    });
    let event = EventDraft::beside(
        request,
        principal,
        DOCUMENT_ADDED,
        details,
        document.event_audience(request),
        now,
    );
    Ok((document, event))
}

/// Decides a download: the reader must see the request and the document; the event records who took
/// which content.
pub fn download(
    request: &Request,
    document: &Document,
    principal: &Principal,
    now: Timestamp,
) -> Result<EventDraft, DomainError> {
    check_visible(request, document, principal)?;
    let details = json!({ "document_id": document.id, "sha256": document.sha256 });
    Ok(EventDraft::beside(
        request,
        principal,
        DOCUMENT_DOWNLOADED,
        details,
        document.event_audience(request),
        now,
    ))
}

/// The texts of the accepted conditions, which travel with released evidence as its use restrictions
/// (a condition without a text is named by its kind).
pub fn use_restrictions(request: &Request) -> Vec<String> {
    request
        .conditions
        .iter()
        .filter(|c| c.status == ConditionStatus::Accepted)
        .map(|c| if c.text.is_blank() { c.kind.as_str().to_owned() } else { c.text.as_str().to_owned() })
        .collect()
}

/// Decides the release of withheld evidence: by a judge or supervisor of the NCIJC, only once every
/// condition on the request is accepted and the request is in execution or executed. The released
/// documents carry the accepted conditions as their use restrictions.
pub fn release(
    request: &Request,
    documents: Vec<Document>,
    principal: &Principal,
    now: Timestamp,
) -> Result<(Vec<Document>, EventDraft), DomainError> {
    let side = reader_side(request, principal)?;
    if !principal.is_ncijc() {
        return Err(DomainError::NotAllowed("evidence is released by the NCIJC's judges and supervisors"));
    }
    if !principal.has_any_role(RELEASE_ROLES) {
        return Err(DomainError::MissingRole { action: "RELEASE_DOCUMENTS", allowed: RELEASE_ROLES });
    }
    if documents.is_empty() {
        return Err(DomainError::InvalidFields(vec![FieldViolation::new(
            "document_ids",
            "name at least one document to release",
        )]));
    }
    for document in &documents {
        if document.request_id != request.id || !document.visible_from(side) {
            return Err(DomainError::DocumentNotFound);
        }
        if document.release_state != ReleaseState::Withheld {
            return Err(DomainError::NotWithheld(document.id.to_string()));
        }
    }
    let pending = request.conditions.iter().filter(|c| c.status != ConditionStatus::Accepted).count();
    if pending > 0 || !matches!(request.state, State::InExecution | State::Executed) {
        return Err(DomainError::AssurancesPending { state: request.state, pending });
    }
    let restrictions = use_restrictions(request);
    let released: Vec<Document> = documents
        .into_iter()
        .map(|document| Document {
            release_state: ReleaseState::Released,
            use_restrictions: restrictions.clone(),
            ..document
        })
        .collect();
    let named: Vec<Value> =
        released.iter().map(|d| json!({ "document_id": d.id, "sha256": d.sha256 })).collect();
    let details = json!({ "documents": named, "use_restrictions": restrictions });
    let event = EventDraft::beside(
        request,
        principal,
        DOCUMENTS_RELEASED,
        details,
        audit::Audience::of(request, false),
        now,
    );
    Ok((released, event))
}

/// What the broker signs when it receives a document: the upload's receipt (non-repudiation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt<'a> {
    pub document_id: DocumentId,
    pub request_id: RequestId,
    pub sha256: &'a Sha256,
    pub size_bytes: i64,
    /// When the content was complete and durable (the document's `create_time`).
    pub received_time: String,
    pub uploaded_by: &'a Actor,
}

impl Document {
    pub fn receipt(&self) -> Receipt<'_> {
        Receipt {
            document_id: self.id,
            request_id: self.request_id,
            sha256: &self.sha256,
            size_bytes: self.size_bytes,
            received_time: audit::canonical_time(self.create_time),
            uploaded_by: &self.uploaded_by,
        }
    }

    /// Whether `principal` is on the side that uploaded the document, whose receipt it is to keep
    /// (NCIJC staff for the NCIJC's uploads, the partner for its own).
    pub fn is_uploaders_side(&self, principal: &Principal) -> bool {
        principal.partner_code().map(|code| code.to_string()) == self.uploaded_by.partner_code
    }

    /// The document's file name inside an evidence package: its id and, from the uploader's file
    /// name, only an extension of up to 8 ASCII letters and digits (so nothing the uploader wrote can
    /// become a path).
    pub fn package_file_name(&self) -> String {
        let extension = self
            .file_name
            .as_str()
            .rsplit_once('.')
            .map(|(_, ext)| ext)
            .filter(|ext| (1..=8).contains(&ext.len()) && ext.bytes().all(|b| b.is_ascii_alphanumeric()));
        match extension {
            Some(ext) => format!("documents/{}.{}", self.id, ext.to_ascii_lowercase()),
            None => format!("documents/{}", self.id),
        }
    }
}

/// Whether a document goes into the evidence package: released evidence only.
pub fn in_evidence_package(document: &Document) -> bool {
    document.release_state == ReleaseState::Released
}

/// Decides the export of `request`'s evidence package with `documents` (the released documents the
/// reader may see): whoever may see the request may export it; the event names each document's
/// digest and reaches whoever may see the request.
pub fn export_package(
    request: &Request,
    documents: &[Document],
    principal: &Principal,
    now: Timestamp,
) -> Result<EventDraft, DomainError> {
    let side = reader_side(request, principal)?;
    if documents
        .iter()
        .any(|d| d.request_id != request.id || !d.visible_from(side) || !in_evidence_package(d))
    {
        return Err(DomainError::DocumentNotFound);
    }
    let named: Vec<Value> =
        documents.iter().map(|d| json!({ "document_id": d.id, "sha256": d.sha256 })).collect();
    let details = json!({ "documents": named });
    Ok(EventDraft::beside(
        request,
        principal,
        EVIDENCE_PACKAGE_EXPORTED,
        details,
        audit::Audience::of(request, false),
        now,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_64_hex_digits_kept_in_lower_case() {
        let upper = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
        assert_eq!(Sha256::parse(upper).unwrap().as_str(), upper.to_ascii_lowercase());
        assert!(Sha256::parse("e3b0").is_err());
        assert!(Sha256::parse(&"g".repeat(64)).is_err());
    }

    #[test]
    fn file_names_keep_any_script_but_no_control_characters() {
        assert_eq!(file_name("شهادة الشاهد.pdf").unwrap().as_str(), "شهادة الشاهد.pdf");
        assert_eq!(file_name("../../etc/passwd").unwrap().as_str(), "../../etc/passwd");
        assert!(file_name("a\u{0}b").is_err());
        assert!(file_name(" ").is_err());
        assert!(file_name(&"x".repeat(MAX_FILE_NAME_CHARS + 1)).is_err());
    }

    #[test]
    fn media_types_and_languages_have_their_shapes() {
        assert_eq!(media_type("").unwrap(), "application/octet-stream");
        assert_eq!(media_type("Application/PDF").unwrap(), "application/pdf");
        assert!(media_type("pdf").is_err());
        assert_eq!(language("ckb").unwrap(), "ckb");
        assert_eq!(language("sr-Latn").unwrap(), "sr-Latn");
        assert!(language("arabic language").is_err());
    }

    #[test]
    fn custody_actions_are_told_apart_from_changes() {
        let custody = [DOCUMENT_ADDED, DOCUMENT_DOWNLOADED, DOCUMENTS_RELEASED, EVIDENCE_PACKAGE_EXPORTED];
        assert!(custody.into_iter().all(is_custody));
        assert!(!is_custody("UPDATE"));
    }
}
