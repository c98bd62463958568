//! The storage contract of mla-broker: a [`Store`] shaped by the use cases (register a request, apply
//! a decided change with its audit event, list, read the trail), implemented by one crate per database.
//!
//! Every write takes the change the domain decided and stores it whole or not at all: the row, its
//! new version, its audit event and, when the caller gave an idempotency key, the outcome to replay.
//! Documents' metadata and custody events go through the same store; their bytes go to a
//! [`content::ContentStore`].

use async_trait::async_trait;
use mla_domain::audit::{BrokenLink, Event, EventDraft, changes_request};
use mla_domain::correspondence::{Message, MessageId};
use mla_domain::document::DocumentKind;
use mla_domain::document::{Document, DocumentId, NewDocument, Sha256};
use mla_domain::lifecycle::Side;
use mla_domain::request::{Condition, ConditionKind, Direction, RefusalGround};
use mla_domain::text::Reference;
use mla_domain::{
    NewRequest, Partner, PartnerCode, Request, RequestId, RequestType, Scope, ShortText, State, Timestamp,
    Transition,
};

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod content;

/// What can go wrong in storage, in the terms the application acts on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// The caller's version (etag) is not the stored one: someone else changed the row first.
    #[error("the stored version is {current}, not the expected one")]
    VersionConflict { current: i64 },
    #[error("already exists")]
    AlreadyExists,
    /// The idempotency key was used before by the same principal with a different payload.
    #[error("the idempotency key was already used with a different payload")]
    IdempotencyMismatch,
    /// The database cannot be reached now; the caller may retry.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The database's disk is full: nothing was written, and nothing will be until an operator
    /// makes room; the caller may retry later.
    #[error("storage full: {0}")]
    StorageFull(String),
    #[error("storage failure: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// An idempotency key as the store records it: whose key it is, the key, and a fingerprint of the
/// payload it came with, so that a retry replays and a reuse with another payload is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    /// Who used the key (the principal's subject and partner): keys are per principal.
    pub scope: String,
    pub key: String,
    /// SHA-256 (hex) of the operation name and its canonical payload.
    pub fingerprint: String,
}

/// Filters for listing requests. `scope` is the caller's visibility and is always applied in the query.
#[derive(Debug, Clone)]
pub struct RequestQuery {
    pub scope: Scope,
    pub state: Option<State>,
    pub direction: Option<Direction>,
    pub partner_code: Option<PartnerCode>,
    pub request_type: Option<RequestType>,
    /// Only requests overdue at this instant.
    pub overdue_at: Option<Timestamp>,
    pub assignee: Option<String>,
    /// Only requests in one of these directions and states (a role's work queue,
    /// `lifecycle::awaiting`); an empty list matches nothing.
    pub awaiting: Option<Vec<(Direction, State)>>,
    /// Only requests received (acknowledged) at or after this instant.
    pub received_from: Option<Timestamp>,
    /// Only requests received before this instant.
    pub received_until: Option<Timestamp>,
    /// Only requests closed or withdrawn at or after this instant.
    pub closed_from: Option<Timestamp>,
    /// Only requests closed or withdrawn before this instant.
    pub closed_until: Option<Timestamp>,
    /// Only requests submitted at or after this instant (drafts never are).
    pub submitted_from: Option<Timestamp>,
    /// Only requests submitted before this instant.
    pub submitted_until: Option<Timestamp>,
    /// Case-insensitive substring of the title, the registry reference or the partner's reference,
    /// taken literally.
    pub text: Option<String>,
    /// The order of the list.
    pub order: Order,
    /// The previous page's last request: the page goes on after it in `order`.
    pub after: Option<RequestId>,
    /// With [`Order::DueFirst`], the previous page's last request's due date (`None`: it had none).
    pub after_due: Option<Timestamp>,
    pub limit: u32,
}

/// The order of a list of requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Order {
    /// Newest first (by id: ids are UUIDv7).
    #[default]
    Newest,
    /// The NCIJC's internal due date, earliest first, then the requests without one, oldest first:
    /// a work queue's order.
    DueFirst,
}

impl RequestQuery {
    pub fn new(scope: Scope, limit: u32) -> Self {
        Self {
            scope,
            state: None,
            direction: None,
            partner_code: None,
            request_type: None,
            overdue_at: None,
            assignee: None,
            awaiting: None,
            received_from: None,
            received_until: None,
            closed_from: None,
            closed_until: None,
            submitted_from: None,
            submitted_until: None,
            text: None,
            order: Order::Newest,
            after: None,
            after_due: None,
            limit,
        }
    }
}

/// What the audit verifier compares each hash chain with: the request row's version (one change event
/// per stored change, the creation included), its count of events beside the changes (documents'
/// custody and the correspondence, which change nothing of the request and so leave its version
/// alone), and
/// its state (where the last change event led).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestHead {
    pub id: RequestId,
    pub version: i64,
    pub custody_events: i64,
    pub state: State,
}

/// Who reads the event feed: a principal's scope, or the audit verifier, which reads everything that
/// has committed (not held back, as the feed is, until smaller cursors can no longer commit).
#[derive(Debug, Clone)]
pub enum EventReader {
    Scope(Scope),
    Verifier,
}

#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Registers a new draft: allocates its registry reference (gap-free per direction and year),
    /// stores it at version 1 with its creating event, and records the idempotency outcome.
    async fn create_request(
        &self,
        new: NewRequest,
        idempotency: Option<&Idempotency>,
    ) -> StoreResult<Request>;

    /// Loads a request whoever may see it; visibility is the caller's to check.
    async fn get_request(&self, id: RequestId) -> StoreResult<Option<Request>>;

    /// Newest first (by id: request ids are UUIDv7), filtered in the query by `query.scope`.
    async fn list_requests(&self, query: &RequestQuery) -> StoreResult<Vec<Request>>;

    /// Stores a decided change (a transition or an update) if the request is still at
    /// `expected_version`: the row at version + 1 and the change's event, atomically. A stale version
    /// changes nothing and reports [`StoreError::VersionConflict`]. With an idempotency key the
    /// outcome is recorded in the same transaction, and a key already recorded replays its outcome.
    async fn save_change(
        &self,
        expected_version: i64,
        change: Transition,
        idempotency: Option<&Idempotency>,
    ) -> StoreResult<Request>;

    /// Every request's head (id, version, state) in id order after `after`, for the audit verifier.
    async fn request_heads(&self, after: Option<RequestId>, limit: u32) -> StoreResult<Vec<RequestHead>>;

    /// The outcome recorded for an idempotency key, if any; a recorded key with another fingerprint
    /// is [`StoreError::IdempotencyMismatch`].
    async fn replay(&self, idempotency: &Idempotency) -> StoreResult<Option<serde_json::Value>>;

    /// Deletes the idempotency records made before `created_before` (by the time of the write that
    /// made each) and says how many; a retry with a purged key executes anew. Works in short batches,
    /// so it never holds a lock for long.
    async fn purge_idempotency(&self, created_before: Timestamp) -> StoreResult<u64>;

    /// One request's events in `seq` order after `after_seq`, as far as `reader` may see them.
    async fn request_events(
        &self,
        id: RequestId,
        reader: &EventReader,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<Event>>;

    /// The global feed after `after_cursor`, in cursor order, filtered in the query for `reader`.
    /// Cursors become visible in order: a reader never sees cursor n+1 before cursor n.
    async fn events_after(
        &self,
        reader: &EventReader,
        after_cursor: i64,
        limit: u32,
    ) -> StoreResult<Vec<Event>>;

    /// A wake-up signal carrying the newest cursor known to be committed, by this process or (on a
    /// shared database) by any replica. The table stays the truth: a watcher re-reads after a wake-up.
    fn event_signal(&self) -> tokio::sync::watch::Receiver<i64>;

    /// Stores a custody event of `request` if the request is still at its `version`: the documents
    /// it adds or changes (inserted, or their release state and use restrictions updated), one more
    /// custody event counted on the request's row (its version stays), the event appended to its
    /// chain and the idempotency outcome, atomically. A stale version changes nothing and reports
    /// [`StoreError::VersionConflict`]. Returns `documents` as stored.
    async fn save_custody(
        &self,
        request: &Request,
        documents: Vec<Document>,
        event: EventDraft,
        idempotency: Option<&Idempotency>,
    ) -> StoreResult<Vec<Document>>;

    /// Stores a message of `request` and its `MESSAGE_POSTED` event beside the request's chain, as
    /// custody is stored (counted on the row, its version unchanged, a stale version refused with
    /// [`StoreError::VersionConflict`]), with the idempotency outcome, atomically.
    async fn save_message(
        &self,
        request: &Request,
        message: Message,
        event: EventDraft,
        idempotency: Option<&Idempotency>,
    ) -> StoreResult<Message>;

    /// Stamps the event's time as the read time of the messages `ids` not read before, with the
    /// `MESSAGES_READ` event, beside the request's chain as [`Store::save_message`] does.
    async fn save_read_receipt(
        &self,
        request: &Request,
        ids: Vec<MessageId>,
        event: EventDraft,
    ) -> StoreResult<()>;

    /// Loads a message whoever may read it; visibility is the caller's to check.
    async fn get_message(&self, id: MessageId) -> StoreResult<Option<Message>>;

    /// A request's messages that its side `reader` may read, filtered in the query, oldest first,
    /// after `after`.
    async fn list_messages(
        &self,
        request_id: RequestId,
        reader: Side,
        after: Option<MessageId>,
        limit: u32,
    ) -> StoreResult<Vec<Message>>;

    /// Loads a document whoever may see it; visibility is the caller's to check.
    async fn get_document(&self, id: DocumentId) -> StoreResult<Option<Document>>;

    /// Every document of every request in id order after `after`, for the content verifier.
    async fn all_documents(&self, after: Option<DocumentId>, limit: u32) -> StoreResult<Vec<Document>>;

    /// A request's documents that its side `reader` may see, filtered in the query, oldest first,
    /// after `after`.
    async fn list_documents(
        &self,
        request_id: RequestId,
        reader: Side,
        after: Option<DocumentId>,
        limit: u32,
    ) -> StoreResult<Vec<Document>>;

    async fn create_partner(
        &self,
        partner: Partner,
        idempotency: Option<&Idempotency>,
    ) -> StoreResult<Partner>;
    async fn get_partner(&self, code: &PartnerCode) -> StoreResult<Option<Partner>>;
    /// Partners in code order after `after`; inactive ones only when asked.
    async fn list_partners(
        &self,
        include_inactive: bool,
        after: Option<&PartnerCode>,
        limit: u32,
    ) -> StoreResult<Vec<Partner>>;
    /// Replaces a partner's entry if it is still at `expected_version`.
    async fn update_partner(
        &self,
        partner: Partner,
        expected_version: i64,
        idempotency: Option<&Idempotency>,
    ) -> StoreResult<Partner>;

    /// Records a new upload session, with the idempotency outcome; a retry replays the session the key
    /// first recorded.
    async fn create_upload(
        &self,
        session: UploadSession,
        idempotency: Option<&Idempotency>,
    ) -> StoreResult<UploadSession>;

    /// Loads an upload session, whoever's it is (the caller checks the owner), expired or not.
    async fn get_upload(&self, id: uuid::Uuid) -> StoreResult<Option<UploadSession>>;

    /// Up to `limit` upload sessions that expired before `at`, oldest first.
    async fn expired_uploads(&self, at: Timestamp, limit: u32) -> StoreResult<Vec<uuid::Uuid>>;

    /// Forgets an upload session (its partial content is the content store's to discard first).
    async fn delete_upload(&self, id: uuid::Uuid) -> StoreResult<()>;

    /// Checks that the database answers (for health and readiness).
    async fn ping(&self) -> StoreResult<()>;

    /// How many requests the register holds in each direction and state, and how many are overdue
    /// at `overdue_at` (as [`RequestQuery::overdue_at`] means it): whole-register figures for
    /// monitoring, read from indexes only, with no scope applied.
    async fn count_requests(&self, overdue_at: Timestamp) -> StoreResult<RequestCounts>;

    /// The figures of the requests `query` selects (its scope and filters; its order and page are
    /// ignored): counted by state, partner, type and direction, their refusal grounds and conditions,
    /// how long each stage took from submission, and how many are overdue at `now`. Computed by the
    /// database over indexes, never by loading the requests.
    async fn request_statistics(
        &self,
        query: &RequestQuery,
        now: Timestamp,
    ) -> StoreResult<RequestStatistics>;

    /// What the NCIJC reports on its human-rights compliance for the requests `query` selects (its
    /// scope and filters; its order and page are ignored): the human-rights assurances sought on
    /// them, their refusals on a human-rights ground with the consultation held before, and the
    /// documents released. Each list in the order of the requests' references. Selected by the
    /// database in a fixed number of queries, whatever the number of requests.
    async fn human_rights_report(&self, query: &RequestQuery) -> StoreResult<HumanRightsEntries>;

    /// The use of each of the store's connection pools now, without asking the database (so that
    /// it is known even while the database is down).
    fn pool_use(&self) -> Vec<PoolUse>;
}

/// The register in figures: requests by direction and state (only the pairs that have any), and
/// the overdue ones among them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestCounts {
    pub by_state: Vec<(Direction, State, u64)>,
    pub overdue: u64,
}

impl RequestCounts {
    /// The number of requests in `direction` and `state`.
    pub fn of(&self, direction: Direction, state: State) -> u64 {
        self.by_state.iter().find(|(d, s, _)| (*d, *s) == (direction, state)).map_or(0, |(_, _, n)| *n)
    }
}

/// The figures of a set of requests (see [`Store::request_statistics`]). Each breakdown lists only
/// the values that have any, in the vocabulary's order (partners by code).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestStatistics {
    pub requests: u64,
    pub by_state: Vec<(State, u64)>,
    pub by_partner: Vec<(PartnerCode, u64)>,
    /// `None`: requests without a type (only drafts may lack one).
    pub by_request_type: Vec<(Option<RequestType>, u64)>,
    pub by_direction: Vec<(Direction, u64)>,
    /// Each refused request counts once under each ground it was refused on.
    pub by_refusal_ground: Vec<(RefusalGround, u64)>,
    pub by_condition_kind: Vec<ConditionTally>,
    /// From submission to acknowledgement (the requested side registered its receipt).
    pub to_acknowledgement: Durations,
    /// From submission to the decision (ACCEPTED or REFUSED).
    pub to_decision: Durations,
    /// From submission to the end of the execution (EXECUTED).
    pub to_execution: Durations,
    /// Overdue at the instant asked about, as [`RequestQuery::overdue_at`] means it.
    pub overdue: u64,
}

/// The conditions of one kind proposed on the requests counted, and how the requesting side answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionTally {
    pub kind: ConditionKind,
    /// Every condition of the kind proposed (whatever became of it).
    pub requested: u64,
    /// Accepted: an assurance given.
    pub accepted: u64,
    pub declined: u64,
}

/// How many days a stage took, over the requests that reached it: their count, the median and the
/// 90th percentile (continuous, interpolated between the two nearest as PostgreSQL's
/// `percentile_cont` does; `None` when no request reached it), and their distribution.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Durations {
    pub requests: u64,
    pub median_days: Option<f64>,
    pub p90_days: Option<f64>,
    /// How many took each span of days between [`Durations::EDGES`]: under the first edge, then from
    /// each edge to the next, then the last edge or more. The counts add up to `requests`.
    pub distribution: [u64; Durations::EDGES.len() + 1],
}

impl Durations {
    /// The scale of the response-time distribution, in days: a day, a week, a month, three months,
    /// half a year, a year. One scale for every stage, so that their histograms compare.
    pub const EDGES: [f64; 6] = [1.0, 7.0, 30.0, 90.0, 180.0, 365.0];
}

/// The entries of the human-rights report (see [`Store::human_rights_report`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HumanRightsEntries {
    /// Each condition of a [human-rights kind](ConditionKind::is_human_rights_assurance), in the
    /// order it was proposed.
    pub assurances: Vec<ReportedAssurance>,
    /// Each refused request with at least one [human-rights ground](RefusalGround::is_human_rights_risk).
    pub refusals: Vec<ReportedRefusal>,
    /// Each released document, in upload order.
    pub releases: Vec<ReportedRelease>,
}

/// The request an entry of the report is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedRequest {
    pub id: RequestId,
    pub reference: Reference,
    pub partner_code: PartnerCode,
    pub direction: Direction,
}

/// An assurance sought (PROPOSED), given (ACCEPTED) or declined, as it stands on its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedAssurance {
    pub request: ReportedRequest,
    /// The request's state now.
    pub state: State,
    pub condition: Condition,
}

/// A refusal on a human-rights ground, and the consultation held before it (UNTOC art. 18(26)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedRefusal {
    pub request: ReportedRequest,
    /// Every ground it was refused on, the others included.
    pub grounds: Vec<RefusalGround>,
    pub reason: String,
    /// When it was refused.
    pub refused_time: Timestamp,
    /// Why no consultation was held; empty when none was waived.
    pub consultation_waived_reason: String,
    /// The conditions proposed to the requesting side before the refusal (none can follow one),
    /// whatever their kind, as they stand.
    pub consultations: Vec<Condition>,
}

/// A document released to the requesting side, with the use restrictions it travels with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedRelease {
    pub request: ReportedRequest,
    pub document_id: DocumentId,
    pub title: ShortText,
    pub kind: DocumentKind,
    /// When it was released (its DOCUMENTS_RELEASED event).
    pub release_time: Option<Timestamp>,
    pub use_restrictions: Vec<String>,
}

/// One connection pool: its name in the backend (`read`, `write`, `listen`...), its connections
/// lent out, its idle ones, and the most it may open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolUse {
    pub pool: &'static str,
    pub in_use: u32,
    pub idle: u32,
    pub max: u32,
}

/// A resumable upload: a document described and sized first, its content arriving over as many calls
/// as the link needs (kept meanwhile by the content store under the session's id).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UploadSession {
    pub id: uuid::Uuid,
    pub request_id: RequestId,
    /// Whose session it is, written as an idempotency scope: only its principal goes on with it.
    pub owner: String,
    pub document: NewDocument,
    /// When given, content with another digest is refused at the end and nothing is stored.
    pub expected_sha256: Option<Sha256>,
    /// The content's whole size, declared at the start.
    pub size_bytes: i64,
    pub create_time: Timestamp,
    /// When an unfinished session and its partial content are removed.
    pub expire_time: Timestamp,
}

/// The result of walking every audit chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    pub requests: usize,
    pub events: usize,
}

/// What the audit verifier found wrong with one request: the chain's own links, or the chain measured
/// against its request's row. Each says which request and, in its message, what an operator looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditFinding {
    /// An event does not hold in its chain: altered, out of sequence, or linked to the wrong hash.
    BrokenLink(BrokenLink),
    /// The chain ends before the row's version: its last events were removed.
    EventsMissing { request_id: RequestId, events: i64, version: i64 },
    /// The chain goes on past the row's version: events were added, or the row was set back.
    EventsBeyondVersion { request_id: RequestId, events: i64, version: i64 },
    /// The chain's custody events are not as many as the row counted: some were removed or added.
    CustodyEventsMismatch { request_id: RequestId, events: i64, recorded: i64 },
    /// The row's state is not where its last event led: the state was written outside the lifecycle.
    StateMismatch { request_id: RequestId, row: State, chain: State },
    /// A request row without a single event: its trail was removed, or the row was planted.
    RequestWithoutEvents { request_id: RequestId, version: i64 },
    /// Events of a request that has no row: the row was removed.
    EventsWithoutRequest { request_id: RequestId, events: i64 },
}

impl AuditFinding {
    pub fn request_id(&self) -> RequestId {
        match self {
            AuditFinding::BrokenLink(link) => link.request_id,
            AuditFinding::EventsMissing { request_id, .. }
            | AuditFinding::EventsBeyondVersion { request_id, .. }
            | AuditFinding::CustodyEventsMismatch { request_id, .. }
            | AuditFinding::StateMismatch { request_id, .. }
            | AuditFinding::RequestWithoutEvents { request_id, .. }
            | AuditFinding::EventsWithoutRequest { request_id, .. } => *request_id,
        }
    }
}

impl std::fmt::Display for AuditFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditFinding::BrokenLink(link) => write!(
                f,
                "request {} event seq {} (cursor {}): {}",
                link.request_id, link.seq, link.cursor, link.problem
            ),
            AuditFinding::EventsMissing { request_id, events, version } => write!(
                f,
                "request {request_id}: the row is at version {version} but its chain has {events} events: \
                 events {} to {version} are missing",
                events + 1
            ),
            AuditFinding::EventsBeyondVersion { request_id, events, version } => write!(
                f,
                "request {request_id}: the chain has {events} events but the row is at version {version}: \
                 events were added or the row was set back"
            ),
            AuditFinding::CustodyEventsMismatch { request_id, events, recorded } => write!(
                f,
                "request {request_id}: the chain has {events} custody events but the row counted {recorded}: \
                 custody events were removed or added"
            ),
            AuditFinding::StateMismatch { request_id, row, chain } => write!(
                f,
                "request {request_id}: the row says {} but its last event leads to {}: the state was changed \
                 outside the lifecycle",
                row.as_str(),
                chain.as_str()
            ),
            AuditFinding::RequestWithoutEvents { request_id, version } => {
                write!(f, "request {request_id}: the row is at version {version} but it has no events at all")
            }
            AuditFinding::EventsWithoutRequest { request_id, events } => {
                write!(f, "request {request_id}: {events} events belong to it, but there is no such request")
            }
        }
    }
}

/// Recomputes every request's hash chain from the global feed and measures it against the request's
/// row: the chain counts from seq 1 without a gap, every hash holds, there is one change event per
/// version and as many custody events as the row counted, and the last change leads to the row's
/// state; every row has a chain and every chain a row. `Err` lists the first finding of each request
/// that fails, in request id order.
pub async fn verify_audit(store: &dyn Store) -> StoreResult<Result<AuditReport, Vec<AuditFinding>>> {
    use std::collections::BTreeMap;
    let mut chains: BTreeMap<RequestId, Vec<Event>> = BTreeMap::new();
    let mut cursor = 0;
    loop {
        let page = store.events_after(&EventReader::Verifier, cursor, 1000).await?;
        let Some(last) = page.last() else { break };
        cursor = last.cursor;
        for event in page {
            chains.entry(event.request_id).or_default().push(event);
        }
    }
    let mut report = AuditReport { requests: 0, events: 0 };
    let mut findings = Vec::new();
    let mut after = None;
    loop {
        let heads = store.request_heads(after, 1000).await?;
        let Some(last) = heads.last() else { break };
        after = Some(last.id);
        for head in heads {
            let mut chain = chains.remove(&head.id).unwrap_or_default();
            chain.sort_by_key(|e| e.seq);
            match verify_against_row(&head, &chain) {
                Ok(()) => {
                    report.requests += 1;
                    report.events += chain.len();
                }
                Err(finding) => findings.push(finding),
            }
        }
    }
    for (request_id, events) in chains {
        findings.push(AuditFinding::EventsWithoutRequest { request_id, events: events.len() as i64 });
    }
    if findings.is_empty() {
        return Ok(Ok(report));
    }
    findings.sort_by_key(AuditFinding::request_id);
    Ok(Err(findings))
}

/// What re-hashing the stored content found: every document's content, each digest read once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentReport {
    pub documents: usize,
    pub contents: usize,
    pub bytes: u64,
}

/// A document whose content is not what its digest says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentFinding {
    #[error("document {document_id}: its content {sha256} is missing")]
    Missing { document_id: DocumentId, sha256: String },
    #[error(
        "document {document_id}: its content was changed: it should hash to {sha256} but hashes to {actual}"
    )]
    Changed { document_id: DocumentId, sha256: String, actual: String },
}

/// Re-reads and re-hashes the content of every document (each digest once) and names every document
/// whose content is missing or no longer hashes to its digest.
pub async fn verify_content(
    store: &dyn Store,
    content: &dyn content::ContentStore,
) -> StoreResult<Result<ContentReport, Vec<ContentFinding>>> {
    use futures::StreamExt;
    use sha2::Digest as _;
    let mut report = ContentReport { documents: 0, contents: 0, bytes: 0 };
    let mut findings = Vec::new();
    // The verdict on each digest, so that content shared by several documents is read once.
    let mut verdicts: std::collections::HashMap<String, Option<String>> = Default::default();
    let mut after = None;
    loop {
        let documents = store.all_documents(after, 500).await?;
        let Some(last) = documents.last() else { break };
        after = Some(last.id);
        for document in documents {
            report.documents += 1;
            let digest = document.sha256.as_str().to_owned();
            if !verdicts.contains_key(&digest) {
                let unreadable = |e: content::ContentError| StoreError::Unavailable(e.to_string());
                let actual = match content.read(&document.sha256, 0).await.map_err(unreadable)? {
                    None => None,
                    Some(mut pieces) => {
                        let mut hasher = sha2::Sha256::new();
                        while let Some(piece) = pieces.next().await {
                            let piece = piece.map_err(unreadable)?;
                            report.bytes += piece.len() as u64;
                            hasher.update(&piece);
                        }
                        report.contents += 1;
                        Some(hex::encode(hasher.finalize()))
                    }
                };
                verdicts.insert(digest.clone(), actual);
            }
            match &verdicts[&digest] {
                None => findings.push(ContentFinding::Missing { document_id: document.id, sha256: digest }),
                Some(actual) if *actual != digest => findings.push(ContentFinding::Changed {
                    document_id: document.id,
                    sha256: digest,
                    actual: actual.clone(),
                }),
                Some(_) => {}
            }
        }
    }
    Ok(if findings.is_empty() { Ok(report) } else { Err(findings) })
}

/// The first thing that does not hold between a request's row and its chain (sorted by seq).
fn verify_against_row(head: &RequestHead, chain: &[Event]) -> Result<(), AuditFinding> {
    let Some(last) = chain.last() else {
        return Err(AuditFinding::RequestWithoutEvents { request_id: head.id, version: head.version });
    };
    mla_domain::audit::verify_chain(chain).map_err(AuditFinding::BrokenLink)?;
    // The chain counts from 1 without a gap, so its last seq is its length; its custody events are
    // counted apart from its changes, which the version counts.
    let custody = chain.iter().filter(|e| !changes_request(&e.action)).count() as i64;
    let events = last.seq - custody;
    if custody != head.custody_events {
        return Err(AuditFinding::CustodyEventsMismatch {
            request_id: head.id,
            events: custody,
            recorded: head.custody_events,
        });
    }
    if events < head.version {
        return Err(AuditFinding::EventsMissing { request_id: head.id, events, version: head.version });
    }
    if events > head.version {
        return Err(AuditFinding::EventsBeyondVersion { request_id: head.id, events, version: head.version });
    }
    let last_change = chain.iter().rev().find(|e| changes_request(&e.action)).unwrap_or(last);
    if last_change.to_state != head.state {
        return Err(AuditFinding::StateMismatch {
            request_id: head.id,
            row: head.state,
            chain: last_change.to_state,
        });
    }
    Ok(())
}
