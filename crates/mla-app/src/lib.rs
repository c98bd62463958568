//! The use cases of mla-broker, behind every transport: each loads what it needs, lets the domain
//! decide (authorization included), and saves the decision with the etag check, the idempotency
//! record and the audit event in one store write. Transports translate; they decide nothing.

mod correspondence;
mod documents;
mod erasure;
mod error;
mod evidence;
mod letter;
mod mask;
mod partners;
mod retention;
mod statistics;
mod time;
mod uploads;
mod watch;

use std::sync::Arc;

use chrono::SubsecRound;
use mla_domain::audit::{Event, ViewLink};
use mla_domain::clock::SlaPolicy;
use mla_domain::document::Document;
use mla_domain::lifecycle::{self, Command, Context, Patch};
use mla_domain::limits::MAX_IDEMPOTENCY_KEY_BYTES;
use mla_domain::paper::PaperRecord;
use mla_domain::request::Direction;
use mla_domain::{
    Action, LongText, PartnerCode, Principal, Request, RequestContent, RequestId, RequestType, Role, Scope,
    ShortText, State, Timestamp,
};
use mla_store::content::ContentStore;
use mla_store::{EventReader, Idempotency, Order, RequestQuery, Store, StoreError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

pub use documents::{Download, Upload};
pub use error::{AppError, Code};
pub use evidence::{MANIFEST_FORMAT, MANIFEST_TYPE, RECEIPT_TYPE};
pub use letter::Letter;
pub use mask::{UpdateInput, request_paths};
pub use mla_store::{
    ConditionTally, Durations, HumanRightsEntries, ReportedAssurance, ReportedRefusal, ReportedRelease,
    ReportedRequest, RequestStatistics, UploadSession,
};
pub use partners::PartnerFields;
pub use statistics::{HumanRightsReport, Period, Statistics};
pub use time::{ManualClock, SystemClock, TimeSource};
pub use uploads::{UPLOAD_SESSION_DAYS, UploadStatus};

pub type AppResult<T> = Result<T, AppError>;

/// A request as one caller sees it: with the actions that caller may take now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestView {
    pub request: Request,
    pub allowed_actions: Vec<Action>,
    pub overdue: bool,
}

/// One page of a list and the token of the next, if there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_page_token: String,
}

/// Filters of the request list, as the contract names them.
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    pub state: Option<State>,
    pub direction: Option<Direction>,
    pub partner_code: Option<PartnerCode>,
    pub request_type: Option<RequestType>,
    pub overdue: bool,
    /// A subject, or `me` for the caller.
    pub assignee: Option<String>,
    pub query: Option<String>,
    /// The work queue of an NCIJC role (`lifecycle::awaiting`).
    pub awaiting_role: Option<Role>,
    pub received_from: Option<Timestamp>,
    pub received_until: Option<Timestamp>,
    pub closed_from: Option<Timestamp>,
    pub closed_until: Option<Timestamp>,
    /// Due date first (a work queue's order) rather than newest first. NCIJC staff only: the due
    /// date is internal.
    pub due_first: bool,
}

/// The application: the store, the documents' content, the deadline policy, the clock, and the
/// signal that ends live streams.
#[derive(Debug, Clone)]
pub struct App {
    store: Arc<dyn Store>,
    content: Option<Content>,
    /// What receipts and evidence packages are signed with.
    signing_key: Option<mla_auth::BrokerKey>,
    sla: SlaPolicy,
    clock: Arc<dyn TimeSource>,
    shutdown: CancellationToken,
    /// The live feed's reads, shared by the watchers asking for the same page.
    shared_reads: Arc<watch::SharedReads>,
    /// The upload sessions a call of this process is appending to.
    appending: Arc<uploads::Appending>,
}

/// Where documents' bytes go, and how many one document may have.
#[derive(Debug, Clone)]
struct Content {
    store: Arc<dyn ContentStore>,
    max_bytes: u64,
}

/// The default size limit of one document: 2 GiB.
pub const DEFAULT_MAX_DOCUMENT_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Page sizes: 0 means the default; larger ones are capped.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 500;
/// A transition without an etag that loses a race is decided again on the fresh state this often.
const RACE_RETRIES: usize = 3;

/// Who a principal is, as idempotency keys and upload sessions are scoped: a JSON array, so that no
/// partner code or subject can be written to look like another principal's.
fn principal_scope(principal: &Principal) -> String {
    match principal.partner_code() {
        Some(code) => serde_json::json!(["partner", code.as_str(), principal.subject()]),
        None => serde_json::json!(["ncijc", principal.subject()]),
    }
    .to_string()
}

impl App {
    /// An application on the system clock.
    pub fn new(store: Arc<dyn Store>, sla: SlaPolicy, shutdown: CancellationToken) -> Self {
        Self {
            store,
            content: None,
            signing_key: None,
            sla,
            clock: Arc::new(SystemClock),
            shutdown,
            shared_reads: Arc::default(),
            appending: Arc::default(),
        }
    }

    /// The same application keeping documents' content in `content`, each at most `max_bytes` long.
    /// Without it, document uploads and downloads are UNAVAILABLE.
    pub fn with_content(self, content: Arc<dyn ContentStore>, max_bytes: u64) -> Self {
        Self { content: Some(Content { store: content, max_bytes }), ..self }
    }

    /// The same application signing receipts and evidence packages with `key`. Without it, uploads
    /// answer no receipt and evidence packages are UNAVAILABLE.
    pub fn with_signing_key(self, key: mla_auth::BrokerKey) -> Self {
        Self { signing_key: Some(key), ..self }
    }

    /// The broker's signing key, whose public half the JWKS publishes.
    pub fn signing_key(&self) -> Option<&mla_auth::BrokerKey> {
        self.signing_key.as_ref()
    }

    /// The same application reading the time from `clock`.
    pub fn with_clock(self, clock: Arc<dyn TimeSource>) -> Self {
        Self { clock, ..self }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Now, at the microsecond precision that storage and the audit hash keep.
    fn now(&self) -> Timestamp {
        self.clock.now().trunc_subsecs(6)
    }

    /// The request as `principal` may see it: its internal fields only for the side they belong to.
    fn view(&self, principal: &Principal, request: Request) -> RequestView {
        let allowed_actions = lifecycle::allowed_actions(&request, principal);
        let request = request.as_seen_by(principal);
        RequestView { allowed_actions, overdue: request.is_overdue(self.now()), request }
    }

    /// The idempotency record for a call, and the outcome of an earlier call with the same key.
    async fn idempotency<T: DeserializeOwned>(
        &self,
        principal: &Principal,
        key: Option<&str>,
        operation: &str,
        payload: &impl Serialize,
    ) -> AppResult<(Option<Idempotency>, Option<T>)> {
        let Some(key) = key.filter(|k| !k.is_empty()) else { return Ok((None, None)) };
        if key.len() > MAX_IDEMPOTENCY_KEY_BYTES || key.chars().any(char::is_control) {
            let description =
                format!("an idempotency key is 1-{MAX_IDEMPOTENCY_KEY_BYTES} printable characters");
            return Err(AppError::invalid("request_id", description));
        }
        let payload = serde_json::to_string(payload).map_err(|e| AppError::Internal(e.to_string()))?;
        let fingerprint = hex::encode(Sha256::digest(format!("{operation}\n{payload}")));
        let record = Idempotency { scope: principal_scope(principal), key: key.to_owned(), fingerprint };
        let replay = match self.store.replay(&record).await? {
            Some(value) => {
                Some(serde_json::from_value(value).map_err(|e| AppError::Internal(e.to_string()))?)
            }
            None => None,
        };
        Ok((Some(record), replay))
    }

    /// Loads a request the principal may see; any other is NOT_FOUND, whether or not it exists.
    async fn load_visible(&self, principal: &Principal, id: RequestId) -> AppResult<Request> {
        match self.store.get_request(id).await? {
            Some(r) if Scope::of(principal).admits(&r) => Ok(r),
            _ => Err(AppError::NotFound("request")),
        }
    }

    async fn partner_of(&self, code: &PartnerCode) -> AppResult<Option<mla_domain::Partner>> {
        Ok(self.store.get_partner(code).await?)
    }

    pub async fn create_request(
        &self,
        principal: &Principal,
        partner_code: Option<PartnerCode>,
        mut content: RequestContent,
        record: Option<PaperRecord>,
        request_id: Option<&str>,
    ) -> AppResult<RequestView> {
        let payload = (&partner_code, &content, &record);
        let (idempotency, replay) =
            self.idempotency(principal, request_id, "CreateRequest", &payload).await?;
        if let Some(request) = replay {
            return Ok(self.view(principal, request));
        }
        let code = partner_code
            .clone()
            .or_else(|| record.as_ref().and_then(|r| r.on_behalf_of.clone()))
            .or_else(|| principal.partner_code().cloned());
        let partner = match &code {
            Some(code) => self.partner_of(code).await?,
            None => None,
        };
        let ctx = Context { record: record.as_ref(), ..Context::new(self.now(), partner.as_ref(), self.sla) };
        let id = RequestId::from_uuid(uuid::Uuid::now_v7());
        mla_domain::personal::seal(&mut content, fresh_salt)?;
        let new = lifecycle::create(id, partner_code, content, principal, &ctx)?;
        let request = self.store.create_request(new, idempotency.as_ref()).await?;
        Ok(self.view(principal, request))
    }

    pub async fn get_request(&self, principal: &Principal, id: RequestId) -> AppResult<RequestView> {
        let request = self.load_visible(principal, id).await?;
        Ok(self.view(principal, request))
    }

    pub async fn list_requests(
        &self,
        principal: &Principal,
        filter: RequestFilter,
        page_size: i32,
        page_token: &str,
    ) -> AppResult<Page<RequestView>> {
        let limit = page_limit(page_size)?;
        let scope = Scope::of(principal);
        // Filtering on an internal field would answer what reading it may not: refuse, whatever
        // the value, so that the refusal itself tells nothing.
        if !scope.sees_internal_fields() {
            let internal = [
                ("assignee", filter.assignee.is_some()),
                ("overdue", filter.overdue),
                ("awaiting_role", filter.awaiting_role.is_some()),
                ("order_by", filter.due_first),
            ];
            let violations: Vec<_> = internal
                .iter()
                .filter(|(_, used)| *used)
                .map(|(field, _)| {
                    mla_domain::FieldViolation::new(*field, "this filter is internal to the NCIJC")
                })
                .collect();
            if !violations.is_empty() {
                return Err(AppError::InvalidArgument(violations));
            }
        }
        let mut query = RequestQuery::new(scope, limit + 1);
        query.state = filter.state;
        query.direction = filter.direction;
        query.partner_code = filter.partner_code;
        query.request_type = filter.request_type;
        query.overdue_at = filter.overdue.then(|| self.now());
        query.assignee = match filter.assignee.filter(|a| !a.is_empty()) {
            Some(me) if me == "me" => Some(principal.subject().to_owned()),
            other => other,
        };
        query.awaiting = filter.awaiting_role.map(lifecycle::awaiting);
        query.received_from = filter.received_from;
        query.received_until = filter.received_until;
        query.closed_from = filter.closed_from;
        query.closed_until = filter.closed_until;
        query.text = filter.query.filter(|q| !q.trim().is_empty());
        // A page token holds the last request's place in the order: its id, and in due order its due
        // date (RFC 3339, empty for none) before it.
        query.order = if filter.due_first { Order::DueFirst } else { Order::Newest };
        let kind = if filter.due_first { "d" } else { "r" };
        if let Some(token) = decode_token(page_token, kind)? {
            let (due, id) = token.rsplit_once(' ').unwrap_or(("", &token));
            query.after = Some(RequestId::parse(id).map_err(bad_token)?);
            query.after_due =
                Some(due).filter(|d| !d.is_empty()).map(str::parse).transpose().map_err(bad_token)?;
        }
        let mut requests = self.store.list_requests(&query).await?;
        let next = next_token(&mut requests, limit as usize, |r| match query.order {
            Order::Newest => encode_token(kind, &r.id.to_string()),
            Order::DueFirst => {
                let due = r.clock.due_at.map(|d| d.to_rfc3339()).unwrap_or_default();
                encode_token(kind, &format!("{due} {}", r.id))
            }
        });
        Ok(Page {
            items: requests.into_iter().map(|r| self.view(principal, r)).collect(),
            next_page_token: next,
        })
    }

    pub async fn update_request(
        &self,
        principal: &Principal,
        id: RequestId,
        input: UpdateInput,
        etag: &str,
        request_id: Option<&str>,
    ) -> AppResult<RequestView> {
        let payload = (id, &input, etag);
        let (idempotency, replay) =
            self.idempotency(principal, request_id, "UpdateRequest", &payload).await?;
        if let Some(request) = replay {
            return Ok(self.view(principal, request));
        }
        // An update consults no partner entry: assignment, deadlines and draft content are not guarded
        // by the registry.
        self.decide_and_save(principal, Target::visible(id, etag), idempotency, false, |request, ctx| {
            let mut patch: Patch = input.patch_for(&request.content)?;
            if let Some((content, _)) = &mut patch.content {
                mla_domain::personal::seal(content, fresh_salt)?;
            }
            Ok(lifecycle::update(request, &patch, principal, ctx)?)
        })
        .await
    }

    pub async fn transition_request(
        &self,
        principal: &Principal,
        id: RequestId,
        command: Command,
        record: Option<PaperRecord>,
        etag: &str,
        request_id: Option<&str>,
    ) -> AppResult<RequestView> {
        let payload = (id, &command, &record, etag);
        let (idempotency, replay) =
            self.idempotency(principal, request_id, "TransitionRequest", &payload).await?;
        if let Some(request) = replay {
            return Ok(self.view(principal, request));
        }
        let record = record.as_ref();
        let letter: Option<Document> = match record.and_then(|r| r.letter_document_id) {
            Some(id) => self.store.get_document(id).await?,
            None => None,
        };
        let consults_partner = command.consults_partner(record);
        let target = Target::visible(id, etag);
        self.decide_and_save(principal, target, idempotency, consults_partner, |request, ctx| {
            let ctx = Context { record, letter: letter.as_ref(), ..*ctx };
            Ok(lifecycle::transition(request, &command, principal, &ctx)?)
        })
        .await
    }

    /// The one write path for changes to a request: load it (as the principal may see it, or by id
    /// alone for an erasure: [`Target`]), check the etag, let the domain decide, and save if nobody
    /// changed it meanwhile. Without an etag the caller asked for "the current state", so a lost race
    /// is decided again on the fresh state. The partner's registry entry is read only when the
    /// decision consults it (one round trip fewer for every other change).
    async fn decide_and_save(
        &self,
        principal: &Principal,
        target: Target<'_>,
        idempotency: Option<Idempotency>,
        consults_partner: bool,
        decide: impl Fn(&Request, &Context<'_>) -> AppResult<lifecycle::Transition>,
    ) -> AppResult<RequestView> {
        for _ in 0..RACE_RETRIES {
            let request = self.load_at_etag(principal, target).await?;
            let partner = if consults_partner { self.partner_of(&request.partner_code).await? } else { None };
            let ctx = Context::new(self.now(), partner.as_ref(), self.sla);
            let change = decide(&request, &ctx)?;
            match self.store.save_change(request.version, change, idempotency.as_ref()).await {
                Ok(saved) => return Ok(self.view(principal, saved)),
                Err(lost) => lost_race(target.etag, lost)?,
            }
        }
        Err(AppError::Conflict)
    }

    /// The one write path beside a request's chain (custody, correspondence): load the request as the
    /// principal may see it, check the etag, decide and save at the version decided on. Such writes
    /// do not move the version, but a change to the request meanwhile does: then the decision is
    /// taken again on the fresh request (or, with an etag, refused as stale). The attempt owns the
    /// request it decides on, so that its future stays `Send` for the gRPC services.
    pub(crate) async fn beside<'a, T>(
        &self,
        principal: &Principal,
        request_id: RequestId,
        etag: &str,
        attempt: impl Fn(Request) -> futures::future::BoxFuture<'a, AppResult<mla_store::StoreResult<T>>>,
    ) -> AppResult<T> {
        for _ in 0..RACE_RETRIES {
            let request = self.load_at_etag(principal, Target::visible(request_id, etag)).await?;
            match attempt(request).await? {
                Ok(saved) => return Ok(saved),
                Err(lost) => lost_race(etag, lost)?,
            }
        }
        Err(AppError::Conflict)
    }

    /// Loads the request a write targets, checking the caller's etag (if given) against it.
    async fn load_at_etag(&self, principal: &Principal, target: Target<'_>) -> AppResult<Request> {
        let (id, etag) = (target.id, target.etag);
        let request = match target.lookup {
            Lookup::Visible => self.load_visible(principal, id).await?,
            Lookup::ById => self.store.get_request(id).await?.ok_or(AppError::NotFound("request"))?,
        };
        if !etag.is_empty() && etag != request.etag() {
            return Err(AppError::EtagMismatch { given: etag.to_owned(), current: request.etag() });
        }
        Ok(request)
    }

    /// A request's audit events, oldest first, as far as the principal may see them, each with its
    /// link in the view of the principal's side (`ViewLink`). The view is derived from the whole part
    /// of the trail the side reads, whichever page is asked for: trails are tens of events long.
    pub async fn list_request_events(
        &self,
        principal: &Principal,
        id: RequestId,
        page_size: i32,
        page_token: &str,
    ) -> AppResult<Page<(Event, ViewLink)>> {
        let limit = page_limit(page_size)?;
        self.load_visible(principal, id).await?;
        let after_seq = decode_token(page_token, "e")?
            .map(|t| t.parse::<i64>())
            .transpose()
            .map_err(bad_token)?
            .unwrap_or(0);
        let reader = EventReader::Scope(Scope::of(principal));
        let mut trail = Vec::new();
        loop {
            let from = trail.last().map_or(0, |e: &Event| e.seq);
            let read = self.store.request_events(id, &reader, from, MAX_PAGE_SIZE).await?;
            let exhausted = read.len() < MAX_PAGE_SIZE as usize;
            trail.extend(read);
            if exhausted || trail.iter().filter(|e| e.seq > after_seq).count() > limit as usize {
                break;
            }
        }
        let views = ViewLink::chain(&trail);
        let mut events: Vec<_> = trail
            .into_iter()
            .zip(views)
            .filter(|(e, _)| e.seq > after_seq)
            .take(limit as usize + 1)
            .collect();
        let next = next_token(&mut events, limit as usize, |(e, _)| encode_token("e", &e.seq.to_string()));
        Ok(Page { items: events, next_page_token: next })
    }
}

/// The request a write targets: its id, the etag the caller last saw (empty: the current state),
/// and how it is found.
#[derive(Debug, Clone, Copy)]
struct Target<'a> {
    id: RequestId,
    etag: &'a str,
    lookup: Lookup,
}

impl<'a> Target<'a> {
    fn visible(id: RequestId, etag: &'a str) -> Self {
        Target { id, etag, lookup: Lookup::Visible }
    }
}

/// How a write finds the request it decides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lookup {
    /// As the principal may see it (NOT_FOUND otherwise): every write but one.
    Visible,
    /// By its id alone: an erasure executes an order that names the request, and the administrator
    /// who executes it reads no requests.
    ById,
}

/// A save that failed: `Ok` when it lost a race and the caller asked for "the current state" (no
/// etag), so the decision is to be taken again on the fresh request; with an etag the caller's view
/// is stale; any other failure stands.
fn lost_race(etag: &str, error: StoreError) -> AppResult<()> {
    match error {
        StoreError::VersionConflict { current } if !etag.is_empty() => {
            Err(AppError::EtagMismatch { given: etag.to_owned(), current: current.to_string() })
        }
        StoreError::VersionConflict { .. } => Ok(()),
        other => Err(other.into()),
    }
}

fn page_limit(page_size: i32) -> AppResult<u32> {
    match page_size {
        n if n < 0 => Err(AppError::invalid("page_size", "must not be negative")),
        0 => Ok(DEFAULT_PAGE_SIZE),
        n => Ok((n as u32).min(MAX_PAGE_SIZE)),
    }
}

/// A fresh salt for a person's commitment (`mla_domain::personal`): 16 random bytes, hex.
fn fresh_salt() -> AppResult<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AppError::Internal(format!("no random salt: {e}")))?;
    Ok(hex::encode(salt))
}

/// Page tokens are opaque to callers: a kind letter and the last item's key, hex-encoded.
fn encode_token(kind: &str, key: &str) -> String {
    hex::encode(format!("{kind}:{key}"))
}

fn decode_token(token: &str, kind: &str) -> AppResult<Option<String>> {
    if token.is_empty() {
        return Ok(None);
    }
    let raw = hex::decode(token).ok().and_then(|b| String::from_utf8(b).ok());
    match raw.as_deref().and_then(|r| r.strip_prefix(kind)).and_then(|r| r.strip_prefix(':')) {
        Some(key) => Ok(Some(key.to_owned())),
        None => Err(bad_token("not a token of this list")),
    }
}

fn bad_token(_: impl std::fmt::Display) -> AppError {
    AppError::invalid("page_token", "not a page token of this list; start again with an empty one")
}

/// Trims a page fetched with one extra item and returns the token of the next page, if any.
fn next_token<T>(items: &mut Vec<T>, limit: usize, token: impl Fn(&T) -> String) -> String {
    if items.len() > limit {
        items.truncate(limit);
        items.last().map(token).unwrap_or_default()
    } else {
        String::new()
    }
}

/// Parses an optional free text into the domain's long-text type, naming the field on failure.
pub fn long_text(field: &str, raw: &str) -> AppResult<LongText> {
    LongText::parse(raw).map_err(|e| AppError::invalid(field, e.0))
}

/// Parses a one-line text, naming the field on failure.
pub fn short_text(field: &str, raw: &str) -> AppResult<ShortText> {
    ShortText::parse(raw).map_err(|e| AppError::invalid(field, e.0))
}
