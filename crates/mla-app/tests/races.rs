//! Lost races, made deterministic: a competitor commits a change between the moment a use case loads
//! a request and the moment it saves. The competitor is a store wrapper over a real SQLite database
//! that, before letting a save through, has a supervisor reassign the request first. The same wrapper
//! counts the live feed's reads, and can make them slow, so that watchers meet while one runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use mla_app::{App, AppError, ManualClock, PartnerFields};
use mla_domain::audit::{Event, EventDraft};
use mla_domain::correspondence::{Message, MessageId};
use mla_domain::document::{Document, DocumentId};
use mla_domain::lifecycle::{self, Command, Context, Patch};
use mla_domain::partner::PartnerKind;
use mla_domain::{
    Action, NewRequest, Partner, PartnerCode, Principal, Request, RequestContent, RequestId, Role, ShortText,
    State, Timestamp, Transition,
};
use mla_store::{EventReader, Idempotency, RequestHead, RequestQuery, Store, StoreResult};
use mla_store_sqlite::SqliteStore;
use tokio_util::sync::CancellationToken;

/// A store through which a competitor wins the next `races` saves.
#[derive(Debug)]
struct Interloper {
    inner: SqliteStore,
    races: AtomicUsize,
    competitor: Principal,
    /// The feed's reads so far.
    feed_reads: AtomicUsize,
    /// Whether each feed read takes a while.
    slow_feed: AtomicBool,
    /// Where the documents' content goes, removed with the store.
    content: tempfile::TempDir,
}

impl Interloper {
    /// The competitor's change: the same request, reassigned, committed first.
    async fn compete(&self, id: RequestId) -> StoreResult<()> {
        let current = self.inner.get_request(id).await?.expect("the request exists");
        let nth = current.version;
        let patch =
            Patch { assignee: Some(ShortText::parse(format!("officer-{nth}")).unwrap()), ..Patch::default() };
        let ctx = Context::new(current.update_time, None, Default::default());
        let change =
            lifecycle::update(&current, &patch, &self.competitor, &ctx).expect("a supervisor may assign");
        self.inner.save_change(current.version, change, None).await.map(|_| ())
    }
}

#[async_trait]
impl Store for Interloper {
    async fn create_request(&self, new: NewRequest, key: Option<&Idempotency>) -> StoreResult<Request> {
        self.inner.create_request(new, key).await
    }
    async fn get_request(&self, id: RequestId) -> StoreResult<Option<Request>> {
        self.inner.get_request(id).await
    }
    async fn list_requests(&self, query: &RequestQuery) -> StoreResult<Vec<Request>> {
        self.inner.list_requests(query).await
    }
    async fn save_change(
        &self,
        version: i64,
        change: Transition,
        key: Option<&Idempotency>,
    ) -> StoreResult<Request> {
        if self.races.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            self.compete(change.request.id).await?;
        }
        self.inner.save_change(version, change, key).await
    }
    async fn save_custody(
        &self,
        request: &Request,
        documents: Vec<Document>,
        event: EventDraft,
        key: Option<&Idempotency>,
    ) -> StoreResult<Vec<Document>> {
        if self.races.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            self.compete(request.id).await?;
        }
        self.inner.save_custody(request, documents, event, key).await
    }
    async fn save_message(
        &self,
        request: &Request,
        message: Message,
        event: EventDraft,
        key: Option<&Idempotency>,
    ) -> StoreResult<Message> {
        if self.races.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            self.compete(request.id).await?;
        }
        self.inner.save_message(request, message, event, key).await
    }
    async fn save_read_receipt(
        &self,
        request: &Request,
        ids: Vec<MessageId>,
        event: EventDraft,
    ) -> StoreResult<()> {
        self.inner.save_read_receipt(request, ids, event).await
    }
    async fn get_message(&self, id: MessageId) -> StoreResult<Option<Message>> {
        self.inner.get_message(id).await
    }
    async fn list_messages(
        &self,
        request_id: RequestId,
        reader: mla_domain::lifecycle::Side,
        after: Option<MessageId>,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        self.inner.list_messages(request_id, reader, after, limit).await
    }
    async fn get_document(&self, id: DocumentId) -> StoreResult<Option<Document>> {
        self.inner.get_document(id).await
    }
    async fn all_documents(&self, after: Option<DocumentId>, limit: u32) -> StoreResult<Vec<Document>> {
        self.inner.all_documents(after, limit).await
    }
    async fn list_documents(
        &self,
        request_id: RequestId,
        reader: mla_domain::lifecycle::Side,
        after: Option<DocumentId>,
        limit: u32,
    ) -> StoreResult<Vec<Document>> {
        self.inner.list_documents(request_id, reader, after, limit).await
    }
    async fn request_heads(&self, after: Option<RequestId>, limit: u32) -> StoreResult<Vec<RequestHead>> {
        self.inner.request_heads(after, limit).await
    }
    async fn replay(&self, key: &Idempotency) -> StoreResult<Option<serde_json::Value>> {
        self.inner.replay(key).await
    }
    async fn purge_idempotency(&self, created_before: Timestamp) -> StoreResult<u64> {
        self.inner.purge_idempotency(created_before).await
    }
    async fn request_events(
        &self,
        id: RequestId,
        reader: &EventReader,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<Event>> {
        self.inner.request_events(id, reader, after, limit).await
    }
    async fn events_after(&self, reader: &EventReader, after: i64, limit: u32) -> StoreResult<Vec<Event>> {
        self.feed_reads.fetch_add(1, Ordering::SeqCst);
        if self.slow_feed.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.inner.events_after(reader, after, limit).await
    }
    fn event_signal(&self) -> tokio::sync::watch::Receiver<i64> {
        self.inner.event_signal()
    }
    async fn create_partner(&self, partner: Partner, key: Option<&Idempotency>) -> StoreResult<Partner> {
        self.inner.create_partner(partner, key).await
    }
    async fn get_partner(&self, code: &PartnerCode) -> StoreResult<Option<Partner>> {
        self.inner.get_partner(code).await
    }
    async fn list_partners(
        &self,
        inactive: bool,
        after: Option<&PartnerCode>,
        limit: u32,
    ) -> StoreResult<Vec<Partner>> {
        self.inner.list_partners(inactive, after, limit).await
    }
    async fn update_partner(
        &self,
        partner: Partner,
        version: i64,
        key: Option<&Idempotency>,
    ) -> StoreResult<Partner> {
        self.inner.update_partner(partner, version, key).await
    }
    async fn create_upload(
        &self,
        session: mla_store::UploadSession,
        key: Option<&Idempotency>,
    ) -> StoreResult<mla_store::UploadSession> {
        self.inner.create_upload(session, key).await
    }
    async fn get_upload(&self, id: uuid::Uuid) -> StoreResult<Option<mla_store::UploadSession>> {
        self.inner.get_upload(id).await
    }
    async fn expired_uploads(&self, at: Timestamp, limit: u32) -> StoreResult<Vec<uuid::Uuid>> {
        self.inner.expired_uploads(at, limit).await
    }
    async fn delete_upload(&self, id: uuid::Uuid) -> StoreResult<()> {
        self.inner.delete_upload(id).await
    }
    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }
    async fn count_requests(
        &self,
        overdue_at: mla_domain::Timestamp,
    ) -> StoreResult<mla_store::RequestCounts> {
        self.inner.count_requests(overdue_at).await
    }
    async fn request_statistics(
        &self,
        query: &RequestQuery,
        now: Timestamp,
    ) -> StoreResult<mla_store::RequestStatistics> {
        self.inner.request_statistics(query, now).await
    }
    async fn human_rights_report(&self, query: &RequestQuery) -> StoreResult<mla_store::HumanRightsEntries> {
        self.inner.human_rights_report(query).await
    }
    fn pool_use(&self) -> Vec<mla_store::PoolUse> {
        self.inner.pool_use()
    }
}

fn instant() -> Timestamp {
    Timestamp::from_timestamp(1_772_355_600, 0).unwrap()
}

/// An application over the interloping store, and a request France submitted to the NCIJC.
async fn submitted() -> (App, Arc<Interloper>, RequestId) {
    let supervisor = Principal::staff("supervisor-9", [Role::Supervisor]).unwrap();
    let inner = SqliteStore::open("sqlite::memory:").await.unwrap();
    let content = tempfile::tempdir().unwrap();
    let store = Arc::new(Interloper {
        inner,
        races: AtomicUsize::new(0),
        competitor: supervisor,
        feed_reads: AtomicUsize::new(0),
        slow_feed: AtomicBool::new(false),
        content,
    });
    let content = mla_store::content::FileContent::open(store.content.path()).unwrap();
    let app = App::new(store.clone(), Default::default(), CancellationToken::new())
        .with_clock(Arc::new(ManualClock::at(instant())))
        .with_content(Arc::new(content), 1024);
    let admin = Principal::staff("admin", [Role::Admin]).unwrap();
    let france = PartnerCode::parse("FR-MOJ").unwrap();
    let fields = PartnerFields {
        name: ShortText::parse("Ministère de la Justice").unwrap(),
        country: "FR".into(),
        kind: PartnerKind::StateAuthority,
        legal_bases: vec![],
        channel: mla_domain::Channel::System,
        active: true,
    };
    app.create_partner(&admin, france.clone(), fields, None).await.unwrap();
    let partner = Principal::partner("fr-system", france).unwrap();
    let content = RequestContent {
        request_type: Some(mla_domain::RequestType::Evidence),
        title: ShortText::parse("Race").unwrap(),
        requesting_authority: ShortText::parse("Parquet de Paris").unwrap(),
        summary_of_facts: mla_domain::LongText::parse("Facts.").unwrap(),
        purpose: mla_domain::LongText::parse("Proceedings.").unwrap(),
        legal_basis: ShortText::parse("UNTOC art. 18").unwrap(),
        measures: vec![ShortText::parse("Bank records").unwrap()],
        ..RequestContent::default()
    };
    let draft = app.create_request(&partner, None, content, None, None).await.unwrap();
    let id = draft.request.id;
    app.transition_request(&partner, id, Command::new(Action::Submit), None, "", None).await.unwrap();
    (app, store, id)
}

fn registrar() -> Principal {
    Principal::staff("registrar-1", [Role::Registrar]).unwrap()
}

#[tokio::test]
async fn without_an_etag_a_lost_race_is_decided_again_on_the_fresh_state() {
    let (app, store, id) = submitted().await;
    store.races.store(1, Ordering::SeqCst);
    let acknowledged =
        app.transition_request(&registrar(), id, Command::new(Action::Acknowledge), None, "", None).await;
    let acknowledged = acknowledged.expect("the retry on the fresh state succeeds").request;
    assert_eq!(acknowledged.state, State::Received);
    assert_eq!(
        acknowledged.assignee.as_str(),
        "officer-2",
        "the competitor's change is kept, not overwritten"
    );
    assert_eq!(acknowledged.version, 4, "create, submit, the competitor's assignment, the acknowledgement");
}

#[tokio::test]
async fn a_race_lost_every_time_is_a_concurrent_modification_and_changes_nothing_of_ours() {
    let (app, store, id) = submitted().await;
    store.races.store(usize::MAX, Ordering::SeqCst);
    let lost =
        app.transition_request(&registrar(), id, Command::new(Action::Acknowledge), None, "", None).await;
    let error = lost.expect_err("every attempt loses");
    assert!(matches!(error, AppError::Conflict), "{error:?}");
    assert_eq!(error.reason(), "CONCURRENT_MODIFICATION");
    store.races.store(0, Ordering::SeqCst);
    let request = store.get_request(id).await.unwrap().unwrap();
    assert_eq!(request.state, State::Submitted, "no attempt of ours was saved");
}

#[tokio::test]
async fn with_an_etag_a_lost_race_is_an_etag_mismatch() {
    let (app, store, id) = submitted().await;
    let etag = store.get_request(id).await.unwrap().unwrap().etag();
    store.races.store(1, Ordering::SeqCst);
    let lost =
        app.transition_request(&registrar(), id, Command::new(Action::Acknowledge), None, &etag, None).await;
    assert!(matches!(lost, Err(AppError::EtagMismatch { .. })), "{lost:?}");
    let request = store.get_request(id).await.unwrap().unwrap();
    assert_eq!(request.state, State::Submitted);
}

/// A document uploaded while a competitor changes the request: custody leaves the version alone but
/// is decided on the request as it stands, so the upload is decided again and lands once, and the
/// audit chain still measures up against the row.
#[tokio::test]
async fn a_custody_write_that_loses_a_race_is_decided_again_and_the_audit_holds() {
    let (app, store, id) = submitted().await;
    let upload = mla_app::Upload {
        request_id: id,
        document: mla_domain::document::NewDocument {
            kind: mla_domain::document::DocumentKind::SupportingDocument,
            title: ShortText::parse("Annex").unwrap(),
            file_name: mla_domain::document::file_name("annex.txt").unwrap(),
            media_type: "text/plain".into(),
            language: "fr".into(),
            translation_of: None,
            audience: mla_domain::document::Audience::Shared,
        },
        expected_sha256: None,
    };
    store.races.store(1, Ordering::SeqCst);
    let chunks = futures::stream::iter([Ok(bytes::Bytes::from_static(b"annex"))]);
    let document = app.upload_document(&registrar(), upload, None, chunks).await.expect("the retry lands");
    assert_eq!(document.size_bytes, 5);
    let request = store.get_request(id).await.unwrap().unwrap();
    assert_eq!(request.version, 3, "create, submit, the competitor's assignment: custody adds no version");
    let report = mla_store::verify_audit(store.as_ref()).await.unwrap().expect("the trail is sound");
    assert_eq!(report.events, 4);
}

/// Followers of one scope woken by one commit share the feed's reads: twenty watchers cost a read or
/// two per commit, not twenty, and each still receives the event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_of_one_scope_share_the_feeds_reads() {
    use futures::StreamExt;
    let (app, store, id) = submitted().await;
    let auditor = Principal::staff("auditor-1", [Role::Auditor]).unwrap();
    let head = store.events_after(&EventReader::Verifier, 0, 100).await.unwrap().last().unwrap().cursor;
    store.slow_feed.store(true, Ordering::SeqCst);
    let mut followers: Vec<_> = (0..20).map(|_| app.watch_events(&auditor, head)).collect();
    // Every watcher reads the empty page after the head, then waits for the signal.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = store.feed_reads.load(Ordering::SeqCst);
    app.transition_request(&registrar(), id, Command::new(Action::Acknowledge), None, "", None)
        .await
        .unwrap();
    for follower in &mut followers {
        let event = tokio::time::timeout(Duration::from_secs(5), follower.next()).await;
        let event = event.expect("delivered in time").expect("the stream is open").expect("an event");
        assert_eq!(event.action, "ACKNOWLEDGE");
    }
    // The page with the event, then the empty page after it: each read once, give or take a straggler.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reads = store.feed_reads.load(Ordering::SeqCst) - before;
    assert!(reads <= 6, "{reads} reads of the feed for 20 followers of one commit");
}
