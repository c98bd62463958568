//! Conformance scenarios every backend passes: one list of `pub async fn` scenarios, each taking the
//! store under test, run by every backend's tests through [`conformance_tests!`](crate::conformance_tests)
//! against a fresh, empty database per scenario.
//!
//! The test data is made by the domain (`create`, `transition`, `update` with real principals), so
//! what the scenarios store are changes the domain decided, not shapes invented for storage.
//!
//! A backend's `tests/conformance.rs` implements [`Harness`] (and [`Tamper`], the hooks for the
//! scenarios that rewrite the database behind the store's back) and invokes
//! `mla_store::conformance_tests!(ItsHarness);`, which makes one `#[tokio::test]` per scenario.

use std::any::Any;
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{Duration, TimeZone, Utc};
use futures::FutureExt;
use futures::future::join_all;
use mla_domain::audit::Event;
use mla_domain::clock::SlaPolicy;
use mla_domain::lifecycle::{Command, Context, Patch, ProposedCondition};
use mla_domain::request::{
    Action, ConditionKind, ConditionStatus, Confidentiality, Direction, Outcome, Person, PersonRole,
    Priority, RequestContent, RequestType, State,
};
use mla_domain::{
    LongText, NewRequest, Partner, PartnerCode, PartnerKind, Principal, Request, RequestId, Role, Scope,
    ShortText, Timestamp,
};

use futures::StreamExt;
use mla_domain::Channel;
use mla_domain::audit::EventDraft;
use mla_domain::correspondence::{self, Message, MessageId, NewMessage};
use mla_domain::document::{
    self, Audience, Document, DocumentId, DocumentKind, NewDocument, Received, ReleaseState, Sha256,
};
use mla_domain::lifecycle::Side;
use mla_domain::paper::{PaperRecord, ReceivedVia};

use crate::content::ContentStore;
use crate::{
    AuditFinding, EventReader, Idempotency, Order, RequestQuery, Store, StoreError, UploadSession,
    verify_audit,
};

/// What a backend's test code provides: a fresh store per scenario, and its disposal.
#[async_trait]
pub trait Harness: Tamper + Sized + Send + Sync + 'static {
    /// A fresh, empty store. `None` when the backend is skipped on purpose (the harness says so on
    /// standard error); an unreachable database that was not skipped on purpose is a panic that
    /// says how to provide one.
    async fn start() -> Option<Self>;

    fn store(&self) -> &dyn Store;

    /// The backend's content store for documents, empty, beside the store.
    fn content(&self) -> &dyn ContentStore;

    /// Releases what [`Harness::start`] made (a temporary file, a database). Called whether the
    /// scenario passed or failed.
    async fn finish(self);
}

/// Rewrites the database behind the store's back, as an intruder with SQL access or an operator's
/// mistake would: the audit trail must refuse it and, once forced, show it. The scenarios write the
/// SQL (portable, with its values inlined); a backend only runs it.
#[async_trait]
pub trait Tamper: Send + Sync {
    /// Runs one statement over a connection of its own: the database's error message if it refuses,
    /// else how many rows it changed.
    async fn execute(&self, sql: &str) -> Result<u64, String>;

    /// Switches the database's guards off by deliberate schema changes (the append-only triggers on
    /// `events`, the foreign key from `events` to `requests`), runs `sql` and says how many rows it
    /// changed. Panics if that fails: the scenarios are about what the verifier sees afterwards.
    async fn force(&self, sql: &str) -> u64;
}

/// A SQL string literal, quotes doubled: the same in every dialect.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Every scenario, by name: [`conformance_tests!`](crate::conformance_tests) makes one test of each.
/// A tidy test keeps this list, the macro and the functions below in step.
pub const SCENARIOS: &[&str] = &[
    "requests_round_trip_exactly",
    "unknown_request_is_none",
    "duplicate_request_id_is_refused",
    "references_are_sequential_per_direction_and_year",
    "concurrent_creates_number_without_gaps",
    "list_filters_by_state",
    "list_filters_by_direction",
    "list_filters_by_partner",
    "list_filters_by_request_type",
    "list_filters_by_assignee",
    "list_filters_overdue",
    "requests_are_counted_by_state_and_overdue",
    "statistics_count_and_time_what_the_scope_sees",
    "human_rights_report_lists_what_the_scope_sees",
    "list_filters_a_work_queue_and_received_times",
    "list_orders_by_due_date_in_keyset_pages",
    "list_text_query_is_case_insensitive_and_literal",
    "list_text_query_matches_the_partner_reference",
    "list_text_query_reads_arabic_spellings",
    "keyset_pagination_covers_every_row_once",
    "scope_isolation_in_lists",
    "strictly_confidential_requests_are_for_their_assignee_and_the_cleared",
    "stale_version_changes_nothing",
    "unknown_request_change_is_not_found",
    "concurrent_changes_exactly_one_wins",
    "idempotent_create_converges_under_concurrent_retries",
    "idempotency_key_with_another_payload_is_refused",
    "idempotency_keys_are_per_scope",
    "idempotent_change_replays_first_outcome",
    "failed_outcomes_are_not_recorded",
    "purged_idempotency_keys_execute_anew",
    "events_chain_per_request_with_global_cursor",
    "event_audience_is_filtered_in_the_query",
    "request_events_page_by_seq",
    "verify_audit_passes_on_a_sound_store",
    "feed_followers_never_miss_an_event",
    "tampered_event_is_named",
    "truncated_chain_is_named",
    "state_written_outside_the_lifecycle_is_named",
    "request_without_events_is_named",
    "events_without_request_are_named",
    "hostile_strings_round_trip",
    "event_signal_advances_after_a_write",
    "partners_round_trip_and_update",
    "duplicate_partner_already_exists",
    "stale_partner_version_conflicts",
    "unknown_partner_is_none",
    "partner_list_pages_in_code_order",
    "idempotent_partner_writes",
    "ping_answers",
    "documents_round_trip_and_custody_leaves_the_version",
    "documents_are_listed_to_the_sides_that_may_see_them",
    "stale_custody_changes_nothing",
    "removed_custody_event_is_named",
    "content_is_stored_once_and_read_from_any_offset",
    "unfinished_content_is_never_visible",
    "an_upload_sessions_content_outlives_its_writers",
    "upload_sessions_are_kept_replayed_and_expire",
    "messages_round_trip_and_are_listed_to_their_sides",
    "read_receipts_stamp_unread_messages_once",
    "stale_correspondence_changes_nothing",
    "requests_registered_from_paper_round_trip",
];

/// Makes one `#[tokio::test]` per scenario for a backend's [`Harness`]. The calling crate depends on
/// `tokio` (with the `macros` and `rt-multi-thread` features).
#[macro_export]
macro_rules! conformance_tests {
    ($harness:ty) => {
        $crate::conformance_tests!(@store $harness;
            requests_round_trip_exactly,
            unknown_request_is_none,
            duplicate_request_id_is_refused,
            references_are_sequential_per_direction_and_year,
            concurrent_creates_number_without_gaps,
            list_filters_by_state,
            list_filters_by_direction,
            list_filters_by_partner,
            list_filters_by_request_type,
            list_filters_by_assignee,
            list_filters_overdue,
            requests_are_counted_by_state_and_overdue,
            statistics_count_and_time_what_the_scope_sees,
            human_rights_report_lists_what_the_scope_sees,
            list_filters_a_work_queue_and_received_times,
            list_orders_by_due_date_in_keyset_pages,
            list_text_query_is_case_insensitive_and_literal,
            list_text_query_matches_the_partner_reference,
            list_text_query_reads_arabic_spellings,
            keyset_pagination_covers_every_row_once,
            scope_isolation_in_lists,
            strictly_confidential_requests_are_for_their_assignee_and_the_cleared,
            stale_version_changes_nothing,
            unknown_request_change_is_not_found,
            concurrent_changes_exactly_one_wins,
            idempotent_create_converges_under_concurrent_retries,
            idempotency_key_with_another_payload_is_refused,
            idempotency_keys_are_per_scope,
            idempotent_change_replays_first_outcome,
            failed_outcomes_are_not_recorded,
            purged_idempotency_keys_execute_anew,
            events_chain_per_request_with_global_cursor,
            event_audience_is_filtered_in_the_query,
            request_events_page_by_seq,
            verify_audit_passes_on_a_sound_store,
            feed_followers_never_miss_an_event,
            hostile_strings_round_trip,
            event_signal_advances_after_a_write,
            partners_round_trip_and_update,
            duplicate_partner_already_exists,
            stale_partner_version_conflicts,
            unknown_partner_is_none,
            partner_list_pages_in_code_order,
            idempotent_partner_writes,
            ping_answers,
            documents_round_trip_and_custody_leaves_the_version,
            documents_are_listed_to_the_sides_that_may_see_them,
            stale_custody_changes_nothing,
            messages_round_trip_and_are_listed_to_their_sides,
            read_receipts_stamp_unread_messages_once,
            stale_correspondence_changes_nothing,
            requests_registered_from_paper_round_trip,
            upload_sessions_are_kept_replayed_and_expire,
        );
        $crate::conformance_tests!(@tamper $harness;
            tampered_event_is_named,
            truncated_chain_is_named,
            state_written_outside_the_lifecycle_is_named,
            request_without_events_is_named,
            events_without_request_are_named,
            removed_custody_event_is_named,
        );
        $crate::conformance_tests!(@content $harness;
            content_is_stored_once_and_read_from_any_offset,
            unfinished_content_is_never_visible,
            an_upload_sessions_content_outlives_its_writers,
        );
    };
    (@store $harness:ty; $($name:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(harness) = <$harness as $crate::conformance::Harness>::start().await else {
                    return;
                };
                let outcome = $crate::conformance::guarded($crate::conformance::$name(
                    $crate::conformance::Harness::store(&harness),
                ))
                .await;
                $crate::conformance::Harness::finish(harness).await;
                $crate::conformance::rethrow(outcome);
            }
        )+
    };
    (@content $harness:ty; $($name:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(harness) = <$harness as $crate::conformance::Harness>::start().await else {
                    return;
                };
                let outcome = $crate::conformance::guarded($crate::conformance::$name(
                    $crate::conformance::Harness::content(&harness),
                ))
                .await;
                $crate::conformance::Harness::finish(harness).await;
                $crate::conformance::rethrow(outcome);
            }
        )+
    };
    (@tamper $harness:ty; $($name:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(harness) = <$harness as $crate::conformance::Harness>::start().await else {
                    return;
                };
                let outcome = $crate::conformance::guarded($crate::conformance::$name(
                    $crate::conformance::Harness::store(&harness),
                    &harness,
                ))
                .await;
                $crate::conformance::Harness::finish(harness).await;
                $crate::conformance::rethrow(outcome);
            }
        )+
    };
}

/// Runs a scenario and catches its panic, so that the harness can drop the database before the
/// failure is reported.
pub async fn guarded(scenario: impl Future<Output = ()>) -> Result<(), Box<dyn Any + Send>> {
    AssertUnwindSafe(scenario).catch_unwind().await
}

/// Re-raises a scenario's failure after the harness has cleaned up.
pub fn rethrow(outcome: Result<(), Box<dyn Any + Send>>) {
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

// ---------------------------------------------------------------------------------------------------
// Test data, made by the domain.

/// An instant `seconds` after 2026-03-01 09:00 UTC, with a microsecond fraction so that the storage of
/// sub-second time is exercised everywhere.
pub fn at(seconds: i64) -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).single().expect("a valid date")
        + Duration::seconds(seconds)
        + Duration::microseconds(123_456)
}

/// A fresh request id: a UUIDv7 whose time part grows with every call, so that ids made in a
/// scenario sort in the order they were made (as real UUIDv7s do across milliseconds).
pub fn request_id() -> RequestId {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let millis = 1_767_225_600_000 + n; // 2026-01-01T00:00:00Z
    let mut random = [0u8; 10];
    random[2..].copy_from_slice(&n.to_be_bytes());
    RequestId::from_uuid(uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid())
}

fn short(text: &str) -> ShortText {
    ShortText::parse(text).expect("a valid one-line text")
}

fn long(text: &str) -> LongText {
    LongText::parse(text).expect("a valid text")
}

fn code(text: &str) -> PartnerCode {
    PartnerCode::parse(text).expect("a valid partner code")
}

/// A partner registry entry as an administrator would enter it.
pub fn sample_partner(partner_code: &str, name: &str) -> Partner {
    Partner {
        code: code(partner_code),
        name: short(name),
        country: partner_code
            .get(..2)
            .filter(|c| c.bytes().all(|b| b.is_ascii_uppercase()))
            .unwrap_or("")
            .into(),
        kind: PartnerKind::StateAuthority,
        legal_bases: vec![short("UNCAC art. 46"), short("UNTOC art. 18")],
        channel: mla_domain::Channel::System,
        active: true,
        version: 1,
        create_time: at(0),
        update_time: at(0),
    }
}

/// A request complete enough to be submitted.
pub fn sample_content(title: &str) -> RequestContent {
    RequestContent {
        request_type: Some(RequestType::Evidence),
        priority: Some(Priority::Normal),
        urgency_reason: LongText::default(),
        requesting_authority: short("Investigative Court of Karkh"),
        partner_reference: short("PR-2026/118"),
        title: short(title),
        summary_of_facts: long(
            "Funds embezzled from a public contract were moved through accounts abroad.\n\tDetails follow.",
        ),
        offences: vec![short("Embezzlement (Penal Code art. 315)")],
        measures: vec![short("Bank records of account 0001-2345"), short("Witness hearing")],
        purpose: long("Criminal proceedings before the investigative court"),
        legal_basis: short("UNCAC art. 46"),
        persons: vec![Person {
            name: short("A. B."),
            role: PersonRole::Suspect,
            nationality: short("IQ"),
            protected: false,
            salt: String::new(),
        }],
        confidentiality: Some(Confidentiality::Confidential),
    }
}

fn judge() -> Principal {
    Principal::staff("judge.amira", [Role::Judge]).expect("a valid principal")
}

fn registrar() -> Principal {
    Principal::staff("registrar.karim", [Role::Registrar]).expect("a valid principal")
}

fn partner_system(partner: &Partner) -> Principal {
    Principal::partner(&format!("{}-case-system", partner.code.as_str().to_lowercase()), partner.code.clone())
        .expect("a valid principal")
}

fn context(now: Timestamp, partner: &Partner) -> Context<'_> {
    Context::new(now, Some(partner), SlaPolicy::default())
}

async fn register_partner(store: &dyn Store, partner_code: &str) -> Partner {
    store
        .create_partner(sample_partner(partner_code, &format!("Central authority {partner_code}")), None)
        .await
        .expect("the partner is registered")
}

/// The NCIJC drafts an OUTGOING request to `partner`.
fn outgoing(partner: &Partner, content: RequestContent, now: Timestamp) -> NewRequest {
    mla_domain::create(request_id(), Some(partner.code.clone()), content, &judge(), &context(now, partner))
        .expect("the domain accepts the draft")
}

/// `partner`'s system drafts an INCOMING request.
fn incoming(partner: &Partner, content: RequestContent, now: Timestamp) -> NewRequest {
    mla_domain::create(request_id(), None, content, &partner_system(partner), &context(now, partner))
        .expect("the domain accepts the draft")
}

async fn create(store: &dyn Store, new: NewRequest) -> Request {
    store.create_request(new, None).await.expect("the draft is stored")
}

fn command(action: Action) -> Command {
    let mut command = Command::new(action);
    if matches!(
        action,
        Action::RequestClarification | Action::ProvideClarification | Action::Postpone | Action::Withdraw
    ) {
        command.reason = long("Stated for the record");
    }
    command
}

/// Decides `command` on `request` as `principal` and stores it at the request's version.
async fn act(
    store: &dyn Store,
    request: &Request,
    command: Command,
    principal: &Principal,
    partner: &Partner,
    now: Timestamp,
) -> Request {
    let change = mla_domain::transition(request, &command, principal, &context(now, partner))
        .unwrap_or_else(|e| panic!("the domain refused {}: {e}", command.action));
    let stored = store.save_change(request.version, change, None).await.expect("the change is stored");
    assert_eq!(stored.version, request.version + 1, "every stored change increments the version");
    stored
}

/// Assigns `request` to `assignee` (a registrar's internal update).
fn assignment(
    request: &Request,
    assignee: &str,
    partner: &Partner,
    now: Timestamp,
) -> mla_domain::Transition {
    let patch = Patch { assignee: Some(short(assignee)), ..Patch::default() };
    mla_domain::update(request, &patch, &registrar(), &context(now, partner))
        .expect("the domain accepts the assignment")
}

/// An INCOMING request from `partner`, submitted by the partner and acknowledged by the NCIJC at
/// `received`: in RECEIVED, with its clock running from then.
async fn received_incoming(
    store: &dyn Store,
    partner: &Partner,
    title: &str,
    received: Timestamp,
) -> Request {
    let draft = create(store, incoming(partner, sample_content(title), received - Duration::hours(2))).await;
    let submitted = act(
        store,
        &draft,
        command(Action::Submit),
        &partner_system(partner),
        partner,
        received - Duration::hours(1),
    )
    .await;
    act(store, &submitted, command(Action::Acknowledge), &registrar(), partner, received).await
}

fn staff_query(limit: u32) -> RequestQuery {
    RequestQuery::new(Scope::Ncijc, limit)
}

async fn list(store: &dyn Store, query: &RequestQuery) -> Vec<Request> {
    store.list_requests(query).await.expect("the list is read")
}

fn ids(requests: &[Request]) -> Vec<RequestId> {
    requests.iter().map(|r| r.id).collect()
}

/// The ids of `requests`, newest first, as a list returns them.
fn newest_first(requests: &[&Request]) -> Vec<RequestId> {
    let mut ids: Vec<_> = requests.iter().map(|r| r.id).collect();
    ids.sort_by(|a, b| b.cmp(a));
    ids
}

async fn all_events(store: &dyn Store) -> Vec<Event> {
    store.events_after(&EventReader::Verifier, 0, 100_000).await.expect("the feed is read")
}

async fn events_of(store: &dyn Store, id: RequestId) -> Vec<Event> {
    store.request_events(id, &EventReader::Verifier, 0, 10_000).await.expect("the trail is read")
}

fn idempotency(scope: &str, key: &str, fingerprint: &str) -> Idempotency {
    Idempotency { scope: scope.into(), key: key.into(), fingerprint: fingerprint.into() }
}

// ---------------------------------------------------------------------------------------------------
// Requests: round trips and registry references.

/// A request reads back exactly as stored, through every kind of change the lifecycle makes:
/// conditions with assurances, the clock stopping and moving, an assignee, every timestamp.
pub async fn requests_round_trip_exactly(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let new = outgoing(&fr, sample_content("Bank records of a contractor"), at(0));
    let draft = create(store, new.clone()).await;
    assert_eq!(draft.id, new.id);
    assert_eq!(draft.state, State::Draft);
    assert_eq!(draft.version, 1);
    assert_eq!(draft.direction, Direction::Outgoing);
    assert_eq!(draft.reference.to_string(), "OUT-2026-000001");
    assert_eq!(draft.content, new.content);
    assert_eq!(draft.create_time, at(0));
    assert_eq!(store.get_request(draft.id).await.expect("read"), Some(draft.clone()));

    let fr_system = partner_system(&fr);
    let steps: Vec<(Command, Principal)> = vec![
        (command(Action::Submit), judge()),
        (command(Action::Acknowledge), fr_system.clone()),
        (command(Action::StartReview), fr_system.clone()),
        (
            Command {
                conditions: vec![
                    ProposedCondition { kind: ConditionKind::Speciality, text: LongText::default() },
                    ProposedCondition {
                        kind: ConditionKind::Other,
                        text: long("Return the originals «الأصول»"),
                    },
                ],
                ..Command::new(Action::ProposeConditions)
            },
            fr_system.clone(),
        ),
        (command(Action::AcceptConditions), judge()),
        (command(Action::StartExecution), fr_system.clone()),
        (command(Action::Postpone), fr_system.clone()),
        (command(Action::Resume), fr_system.clone()),
        (
            Command { outcome: Some(Outcome::Full), ..Command::new(Action::CompleteExecution) },
            fr_system.clone(),
        ),
        (command(Action::Close), judge()),
    ];
    let mut request = draft;
    for (i, (command, principal)) in steps.into_iter().enumerate() {
        let now = at(3600 * (i as i64 + 1));
        let action = command.action;
        request = act(store, &request, command, &principal, &fr, now).await;
        let stored = store.get_request(request.id).await.expect("read").expect("the request exists");
        assert_eq!(stored, request, "after {action} the stored request differs from the one returned");
        if action == Action::Acknowledge {
            let change = assignment(&request, "legal.officer.huda", &fr, now + Duration::minutes(1));
            request = store.save_change(request.version, change, None).await.expect("assigned");
            assert_eq!(store.get_request(request.id).await.expect("read"), Some(request.clone()));
        }
    }
    assert_eq!(request.state, State::Closed);
    assert_eq!(request.assignee.as_str(), "legal.officer.huda");
    assert_eq!(request.submit_time, Some(at(3600)));
    assert_eq!(request.received_time, Some(at(7200)));
    assert!(request.clock.due_at.is_some());
    assert_eq!(request.conditions.len(), 2);
    assert!(
        request.conditions.iter().all(|c| c.status == ConditionStatus::Accepted && c.given_time.is_some())
    );
    let listed = list(store, &staff_query(10)).await;
    assert_eq!(listed, vec![request], "a listed request equals the one read by id");
}

pub async fn unknown_request_is_none(store: &dyn Store) {
    assert_eq!(store.get_request(request_id()).await.expect("read"), None);
}

/// A second registration under an existing id is refused and rolls back whole: its registry number
/// is not spent, so the next request takes the next number.
pub async fn duplicate_request_id_is_refused(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let first = outgoing(&fr, sample_content("First"), at(0));
    let stored = create(store, first.clone()).await;
    let result = store.create_request(first, None).await;
    assert!(matches!(result, Err(StoreError::AlreadyExists)), "got {result:?}");
    let next = create(store, outgoing(&fr, sample_content("Second"), at(1))).await;
    assert_eq!(
        (stored.reference.number, next.reference.number),
        (1, 2),
        "the refused create spent no number"
    );
    assert_eq!(all_events(store).await.len(), 2, "the refused create left no event");
}

/// References count per direction and per year of registration, from 1.
pub async fn references_are_sequential_per_direction_and_year(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let mut references = Vec::new();
    for (i, direction) in [
        Direction::Outgoing,
        Direction::Outgoing,
        Direction::Incoming,
        Direction::Outgoing,
        Direction::Incoming,
    ]
    .into_iter()
    .enumerate()
    {
        let content = sample_content(&format!("Request {i}"));
        let new = match direction {
            Direction::Outgoing => outgoing(&fr, content, at(i as i64)),
            Direction::Incoming => incoming(&fr, content, at(i as i64)),
        };
        references.push(create(store, new).await.reference.to_string());
    }
    let next_year = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).single().expect("a valid date");
    references.push(
        create(store, outgoing(&fr, sample_content("New year"), next_year)).await.reference.to_string(),
    );
    references.push(
        create(store, incoming(&fr, sample_content("New year"), next_year)).await.reference.to_string(),
    );
    references
        .push(create(store, outgoing(&fr, sample_content("Late"), at(100))).await.reference.to_string());
    assert_eq!(
        references,
        [
            "OUT-2026-000001",
            "OUT-2026-000002",
            "IN-2026-000001",
            "OUT-2026-000003",
            "IN-2026-000002",
            "OUT-2027-000001",
            "IN-2027-000001",
            "OUT-2026-000004",
        ]
    );
}

/// Twenty registrations at once get the numbers 1 to 20, each once.
pub async fn concurrent_creates_number_without_gaps(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let drafts: Vec<_> =
        (0..20).map(|i| outgoing(&fr, sample_content(&format!("Concurrent {i}")), at(i))).collect();
    let results = join_all(drafts.into_iter().map(|new| store.create_request(new, None))).await;
    let mut numbers = Vec::new();
    for result in results {
        let request = result.expect("every concurrent create succeeds");
        assert_eq!((request.reference.direction, request.reference.year), (Direction::Outgoing, 2026));
        numbers.push(request.reference.number);
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=20).collect::<Vec<u32>>(), "numbers must be exactly 1..=20");
    let stored: BTreeSet<u32> =
        list(store, &staff_query(100)).await.iter().map(|r| r.reference.number).collect();
    assert_eq!(stored, (1..=20).collect());
}

// ---------------------------------------------------------------------------------------------------
// Lists: filters, text, pagination, scope.

pub async fn list_filters_by_state(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let draft = create(store, outgoing(&fr, sample_content("Draft"), at(0))).await;
    let other = create(store, outgoing(&fr, sample_content("Submitted"), at(1))).await;
    let submitted = act(store, &other, command(Action::Submit), &judge(), &fr, at(2)).await;
    let query = |state| RequestQuery { state: Some(state), ..staff_query(50) };
    assert_eq!(ids(&list(store, &query(State::Draft)).await), [draft.id]);
    assert_eq!(ids(&list(store, &query(State::Submitted)).await), [submitted.id]);
    assert!(list(store, &query(State::Accepted)).await.is_empty());
}

pub async fn list_filters_by_direction(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let out = create(store, outgoing(&fr, sample_content("Outgoing"), at(0))).await;
    let draft_in = create(store, incoming(&fr, sample_content("Incoming"), at(1))).await;
    let submitted_in = act(store, &draft_in, command(Action::Submit), &partner_system(&fr), &fr, at(2)).await;
    let query = |direction| RequestQuery { direction: Some(direction), ..staff_query(50) };
    assert_eq!(ids(&list(store, &query(Direction::Outgoing)).await), [out.id]);
    assert_eq!(ids(&list(store, &query(Direction::Incoming)).await), [submitted_in.id]);
}

pub async fn list_filters_by_partner(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let de = register_partner(store, "DE-BJ").await;
    let to_fr = create(store, outgoing(&fr, sample_content("To France"), at(0))).await;
    let to_de = create(store, outgoing(&de, sample_content("To Germany"), at(1))).await;
    let to_fr_again = create(store, outgoing(&fr, sample_content("To France again"), at(2))).await;
    let query =
        |partner: &Partner| RequestQuery { partner_code: Some(partner.code.clone()), ..staff_query(50) };
    assert_eq!(ids(&list(store, &query(&fr)).await), newest_first(&[&to_fr, &to_fr_again]));
    assert_eq!(ids(&list(store, &query(&de)).await), [to_de.id]);
    let unknown = RequestQuery { partner_code: Some(code("UN-IIIM")), ..staff_query(50) };
    assert!(list(store, &unknown).await.is_empty());
}

pub async fn list_filters_by_request_type(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let evidence = create(store, outgoing(&fr, sample_content("Evidence"), at(0))).await;
    let extradition = create(
        store,
        outgoing(
            &fr,
            RequestContent { request_type: Some(RequestType::Extradition), ..sample_content("Extradition") },
            at(1),
        ),
    )
    .await;
    let untyped = create(
        store,
        outgoing(&fr, RequestContent { request_type: None, ..sample_content("Untyped") }, at(2)),
    )
    .await;
    let query = |request_type| RequestQuery { request_type: Some(request_type), ..staff_query(50) };
    assert_eq!(ids(&list(store, &query(RequestType::Evidence)).await), [evidence.id]);
    assert_eq!(ids(&list(store, &query(RequestType::Extradition)).await), [extradition.id]);
    assert!(list(store, &query(RequestType::AssetFreeze)).await.is_empty());
    assert_eq!(list(store, &staff_query(50)).await.len(), 3);
    assert_eq!(
        store.get_request(untyped.id).await.expect("read").expect("exists").content.request_type,
        None
    );
}

pub async fn list_filters_by_assignee(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let a = create(store, outgoing(&fr, sample_content("A"), at(0))).await;
    let b = create(store, outgoing(&fr, sample_content("B"), at(1))).await;
    let c = create(store, outgoing(&fr, sample_content("C"), at(2))).await;
    let a = store.save_change(a.version, assignment(&a, "huda", &fr, at(3)), None).await.expect("assigned");
    let c = store.save_change(c.version, assignment(&c, "huda", &fr, at(4)), None).await.expect("assigned");
    let b = store.save_change(b.version, assignment(&b, "Huda ", &fr, at(5)), None).await.expect("assigned");
    let query = |assignee: &str| RequestQuery { assignee: Some(assignee.into()), ..staff_query(50) };
    assert_eq!(
        ids(&list(store, &query("huda")).await),
        newest_first(&[&a, &c]),
        "the assignee matches exactly"
    );
    assert_eq!(ids(&list(store, &query("Huda ")).await), [b.id]);
    assert!(list(store, &query("nobody")).await.is_empty());
}

/// A work queue is a set of directions and states (`lifecycle::awaiting`): the registrar's holds the
/// submitted INCOMING requests and nothing else; received times bound a range, start included.
pub async fn list_filters_a_work_queue_and_received_times(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let draft = create(store, incoming(&fr, sample_content("Draft"), at(0))).await;
    let submitted = act(store, &draft, command(Action::Submit), &partner_system(&fr), &fr, at(1)).await;
    let early = received_incoming(store, &fr, "Early", at(10)).await;
    let late = received_incoming(store, &fr, "Late", at(20)).await;
    let outgoing_draft = create(store, outgoing(&fr, sample_content("Ours"), at(21))).await;
    let queue = |role: Role| RequestQuery {
        awaiting: Some(mla_domain::lifecycle::awaiting(role)),
        ..staff_query(50)
    };
    assert_eq!(ids(&list(store, &queue(Role::Registrar)).await), [submitted.id]);
    assert_eq!(ids(&list(store, &queue(Role::LegalOfficer)).await), newest_first(&[&late, &early]));
    let judge_queue = newest_first(&[&outgoing_draft, &late, &early]);
    assert_eq!(
        ids(&list(store, &queue(Role::Judge)).await),
        judge_queue,
        "a judge submits drafts and reviews"
    );
    assert!(list(store, &RequestQuery { awaiting: Some(Vec::new()), ..staff_query(50) }).await.is_empty());
    let received = |from: Option<Timestamp>, until: Option<Timestamp>| RequestQuery {
        received_from: from,
        received_until: until,
        ..staff_query(50)
    };
    assert_eq!(ids(&list(store, &received(Some(at(10)), None)).await), newest_first(&[&late, &early]));
    assert_eq!(ids(&list(store, &received(Some(at(10)), Some(at(20)))).await), [early.id]);
    assert_eq!(ids(&list(store, &received(None, Some(at(10)))).await), Vec::<RequestId>::new());
}

/// In due order, the earliest due date comes first, ties by id, then the requests without a due date
/// (not yet acknowledged), oldest first; pages of any size cover every row once, in that order.
pub async fn list_orders_by_due_date_in_keyset_pages(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let late = received_incoming(store, &fr, "Received last", at(30)).await;
    let early = received_incoming(store, &fr, "Received first", at(10)).await;
    let tied = received_incoming(store, &fr, "Received with the first", at(10)).await;
    let draft = create(store, incoming(&fr, sample_content("Waiting"), at(40))).await;
    let waiting = act(store, &draft, command(Action::Submit), &partner_system(&fr), &fr, at(41)).await;
    let draft = create(store, incoming(&fr, sample_content("Waiting too"), at(42))).await;
    let waiting_too = act(store, &draft, command(Action::Submit), &partner_system(&fr), &fr, at(43)).await;
    let (first, second) = if early.id < tied.id { (&early, &tied) } else { (&tied, &early) };
    let expected = [first.id, second.id, late.id, waiting.id, waiting_too.id];
    for size in [1, 2, 3, 10] {
        let mut seen = Vec::new();
        let mut query = RequestQuery { order: Order::DueFirst, ..staff_query(size) };
        loop {
            let page = list(store, &query).await;
            seen.extend(ids(&page));
            let Some(last) = page.last().filter(|_| page.len() == size as usize) else { break };
            query.after = Some(last.id);
            query.after_due = last.clock.due_at;
        }
        assert_eq!(seen, expected, "pages of {size}");
    }
    let queue = RequestQuery {
        order: Order::DueFirst,
        awaiting: Some(mla_domain::lifecycle::awaiting(Role::LegalOfficer)),
        ..staff_query(50)
    };
    assert_eq!(
        ids(&list(store, &queue).await),
        [first.id, second.id, late.id],
        "a queue, earliest due first"
    );
}

/// Overdue: active, the clock running, and due before the instant asked about. A stopped clock, a
/// request no longer active and a draft are never overdue.
pub async fn list_filters_overdue(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let sla = SlaPolicy::default().normal;
    let t0 = at(86_400);
    let early = received_incoming(store, &fr, "Received early", t0).await;
    let later = received_incoming(store, &fr, "Received ten days later", t0 + Duration::days(10)).await;
    let waiting = received_incoming(store, &fr, "Waiting for clarification", t0).await;
    let waiting =
        act(store, &waiting, command(Action::StartReview), &judge(), &fr, t0 + Duration::days(1)).await;
    let waiting =
        act(store, &waiting, command(Action::RequestClarification), &judge(), &fr, t0 + Duration::days(2))
            .await;
    assert!(waiting.clock.stopped_at.is_some());
    let withdrawn = received_incoming(store, &fr, "Withdrawn", t0).await;
    let withdrawn =
        act(store, &withdrawn, command(Action::Withdraw), &partner_system(&fr), &fr, t0 + Duration::days(3))
            .await;
    assert!(withdrawn.clock.due_at.is_some() && !withdrawn.state.is_active());
    create(store, outgoing(&fr, sample_content("A draft"), t0)).await;

    let overdue_at = |instant| RequestQuery { overdue_at: Some(instant), ..staff_query(50) };
    assert!(list(store, &overdue_at(t0 + sla)).await.is_empty(), "due exactly now is not yet overdue");
    assert_eq!(ids(&list(store, &overdue_at(t0 + sla + Duration::microseconds(1))).await), [early.id]);
    assert_eq!(ids(&list(store, &overdue_at(t0 + sla + Duration::days(5))).await), [early.id]);
    let much_later = list(store, &overdue_at(t0 + sla + Duration::days(400))).await;
    assert_eq!(ids(&much_later), newest_first(&[&early, &later]));
    for request in &much_later {
        assert!(request.is_overdue(t0 + sla + Duration::days(400)), "the store agrees with the domain");
    }
}

/// The register's figures count every request, in every scope, by direction and state, and count as
/// overdue exactly what the overdue filter lists; a change moves a request from one count to another.
pub async fn requests_are_counted_by_state_and_overdue(store: &dyn Store) {
    let sla = SlaPolicy::default().normal;
    let t0 = at(86_400);
    let empty = store.count_requests(t0).await.expect("an empty register is counted");
    assert_eq!(empty, crate::RequestCounts::default());

    let fr = register_partner(store, "FR-MOJ").await;
    let early = received_incoming(store, &fr, "Received early", t0).await;
    received_incoming(store, &fr, "Received ten days later", t0 + Duration::days(10)).await;
    let waiting = received_incoming(store, &fr, "Waiting for clarification", t0).await;
    let waiting =
        act(store, &waiting, command(Action::StartReview), &judge(), &fr, t0 + Duration::days(1)).await;
    act(store, &waiting, command(Action::RequestClarification), &judge(), &fr, t0 + Duration::days(2)).await;
    let withdrawn = received_incoming(store, &fr, "Withdrawn", t0).await;
    act(store, &withdrawn, command(Action::Withdraw), &partner_system(&fr), &fr, t0 + Duration::days(3))
        .await;
    create(store, outgoing(&fr, sample_content("An outgoing draft"), t0)).await;
    // An incoming draft is no staff member's to see, but it is in the register.
    create(store, incoming(&fr, sample_content("An incoming draft"), t0)).await;

    let due = t0 + sla;
    let counts = store.count_requests(due + Duration::microseconds(1)).await.expect("counted");
    let expected = [
        (Direction::Incoming, State::Received, 2),
        (Direction::Incoming, State::ClarificationRequested, 1),
        (Direction::Incoming, State::Withdrawn, 1),
        (Direction::Incoming, State::Draft, 1),
        (Direction::Outgoing, State::Draft, 1),
    ];
    for (direction, state, count) in expected {
        assert_eq!(counts.of(direction, state), count, "{direction} {state}");
    }
    let mut stored: Vec<_> = counts.by_state.clone();
    stored.sort();
    let mut wanted: Vec<_> = expected.to_vec();
    wanted.sort();
    assert_eq!(stored, wanted, "no other pair is counted");

    // Overdue as the overdue filter lists it, at the same instants.
    for instant in [due, due + Duration::microseconds(1), due + Duration::days(400)] {
        let listed = list(store, &RequestQuery { overdue_at: Some(instant), ..staff_query(50) }).await;
        let counted = store.count_requests(instant).await.expect("counted").overdue;
        assert_eq!(counted, listed.len() as u64, "overdue at {instant}");
    }
    assert_eq!(store.count_requests(due).await.unwrap().overdue, 0, "due exactly now is not yet overdue");
    assert_eq!(store.count_requests(due + Duration::days(400)).await.unwrap().overdue, 2);

    // A change moves a request from one count to another, and out of the overdue ones.
    let reviewed =
        act(store, &early, command(Action::StartReview), &judge(), &fr, t0 + Duration::days(4)).await;
    act(store, &reviewed, command(Action::RequestClarification), &judge(), &fr, t0 + Duration::days(5)).await;
    let counts = store.count_requests(due + Duration::microseconds(1)).await.expect("counted");
    assert_eq!(counts.of(Direction::Incoming, State::Received), 1);
    assert_eq!(counts.of(Direction::Incoming, State::ClarificationRequested), 2);
    assert_eq!(counts.overdue, 0, "a stopped clock is not overdue");

    let pools = store.pool_use();
    assert!(!pools.is_empty(), "a store has a pool");
    for pool in &pools {
        assert!(pool.max >= 1 && pool.in_use + pool.idle <= pool.max, "{pool:?}");
    }
}

/// An instant `d` whole days after [`at`]`(0)`.
fn day(d: i64) -> Timestamp {
    at(d * 86_400)
}

fn supervisor() -> Principal {
    Principal::staff("supervisor.noor", [Role::Supervisor]).expect("a valid principal")
}

/// An INCOMING request of `partner`, submitted on day `submitted` and acknowledged by a supervisor
/// on day `acknowledged`.
async fn acknowledged_on(
    store: &dyn Store,
    partner: &Partner,
    content: RequestContent,
    submitted: i64,
    acknowledged: i64,
) -> Request {
    let draft = create(store, incoming(partner, content, day(submitted))).await;
    let draft =
        act(store, &draft, command(Action::Submit), &partner_system(partner), partner, day(submitted)).await;
    act(store, &draft, command(Action::Acknowledge), &supervisor(), partner, day(acknowledged)).await
}

/// `command` on day `on`: the partner's answer to conditions, or a supervisor's act.
async fn on_day(
    store: &dyn Store,
    request: Request,
    command: Command,
    partner: &Partner,
    on: i64,
) -> Request {
    let by = match command.action {
        Action::AcceptConditions | Action::DeclineConditions => partner_system(partner),
        _ => supervisor(),
    };
    act(store, &request, command, &by, partner, day(on)).await
}

/// The statistics of a period, on a small register built through the lifecycle: the requests
/// submitted in the period counted by every dimension, each stage's median and 90th percentile in
/// days (interpolated as `percentile_cont`), the overdue ones, and a strictly confidential request
/// counted for its assignee and a supervisor but not for another handler.
pub async fn statistics_count_and_time_what_the_scope_sees(store: &dyn Store) {
    use mla_domain::request::RefusalGround;
    let fr = register_partner(store, "FR-MOJ").await;
    let jo = register_partner(store, "JO-MOJ").await;
    let supervisor = supervisor();
    let (fr, jo) = (&fr, &jo);

    // Executed: acknowledged after 1 day, accepted after 4, executed after 10.
    let executed = acknowledged_on(store, fr, sample_content("Executed"), 1, 2).await;
    let executed = on_day(store, executed, command(Action::StartReview), fr, 3).await;
    let executed = on_day(store, executed, command(Action::Accept), fr, 5).await;
    let executed = on_day(store, executed, command(Action::StartExecution), fr, 6).await;
    let complete = Command { outcome: Some(Outcome::Full), ..command(Action::CompleteExecution) };
    on_day(store, executed, complete, fr, 11).await;
    // Refused on two grounds: acknowledged after 3 days, refused after 8.
    let refused = acknowledged_on(store, fr, sample_content("Refused"), 2, 5).await;
    let refused = on_day(store, refused, command(Action::StartReview), fr, 5).await;
    let refuse = Command {
        refusal_grounds: vec![RefusalGround::TortureRisk, RefusalGround::InsufficientInformation],
        reason: long("The facts are not established"),
        consultation_waived_reason: long("No assurance could cure it"),
        ..command(Action::Refuse)
    };
    on_day(store, refused, refuse, fr, 10).await;
    // Accepted once its two conditions were: acknowledged after 1 day, decided after 6.
    let search = RequestContent {
        request_type: Some(RequestType::SearchAndSeizure),
        ..sample_content("Conditions accepted")
    };
    let conditioned = acknowledged_on(store, jo, search, 3, 4).await;
    let conditioned = on_day(store, conditioned, command(Action::StartReview), jo, 4).await;
    let propose = |kinds: &[ConditionKind]| Command {
        conditions: kinds.iter().map(|&kind| ProposedCondition { kind, text: long("As agreed") }).collect(),
        ..command(Action::ProposeConditions)
    };
    let kinds = [ConditionKind::FairTrial, ConditionKind::DeathPenaltyNonImposition];
    let conditioned = on_day(store, conditioned, propose(&kinds), jo, 6).await;
    on_day(store, conditioned, command(Action::AcceptConditions), jo, 9).await;
    // Its condition declined, back under review: acknowledged after 1 day, not decided.
    let declined = acknowledged_on(store, jo, sample_content("Condition declined"), 6, 7).await;
    let declined = on_day(store, declined, command(Action::StartReview), jo, 7).await;
    let declined = on_day(store, declined, propose(&[ConditionKind::Speciality]), jo, 8).await;
    on_day(store, declined, command(Action::DeclineConditions), jo, 9).await;
    // Sent by the NCIJC, not acknowledged yet.
    let ours = create(store, outgoing(jo, sample_content("Ours"), day(3))).await;
    on_day(store, ours, command(Action::Submit), jo, 4).await;
    // Strictly confidential, in huda's hands: acknowledged after 1 day.
    let strict = RequestContent {
        confidentiality: Some(Confidentiality::StrictlyConfidential),
        ..sample_content("Strict")
    };
    let strict = acknowledged_on(store, fr, strict, 5, 6).await;
    let patch = Patch { assignee: Some(short("huda")), ..Patch::default() };
    let assign = mla_domain::update(&strict, &patch, &supervisor, &context(day(6), fr)).expect("assigned");
    store.save_change(strict.version, assign, None).await.expect("stored");
    // Outside the period: submitted after it, and a draft never submitted.
    acknowledged_on(store, fr, sample_content("Later"), 40, 41).await;
    create(store, incoming(fr, sample_content("A draft"), day(1))).await;

    let figures = |scope: Scope, direction: Option<Direction>| async move {
        let query = RequestQuery {
            direction,
            submitted_from: Some(day(0)),
            submitted_until: Some(day(30)),
            ..RequestQuery::new(scope, 0)
        };
        store.request_statistics(&query, day(200)).await.expect("the statistics are computed")
    };
    let close = |actual: Option<f64>, expected: f64, what: &str| {
        let actual = actual.unwrap_or_else(|| panic!("{what}: no value"));
        assert!((actual - expected).abs() < 1e-9, "{what}: {actual}, expected {expected}");
    };

    let all = figures(Scope::Ncijc, None).await;
    assert_eq!(all.requests, 6, "the six submitted in the period: {all:?}");
    assert_eq!(
        all.by_state,
        [
            (State::Submitted, 1),
            (State::Received, 1),
            (State::UnderReview, 1),
            (State::Accepted, 1),
            (State::Executed, 1),
            (State::Refused, 1),
        ]
    );
    assert_eq!(all.by_partner, [(fr.code.clone(), 3), (jo.code.clone(), 3)]);
    assert_eq!(
        all.by_request_type,
        [(Some(RequestType::Evidence), 5), (Some(RequestType::SearchAndSeizure), 1)]
    );
    assert_eq!(all.by_direction, [(Direction::Incoming, 5), (Direction::Outgoing, 1)]);
    assert_eq!(
        all.by_refusal_ground,
        [(RefusalGround::TortureRisk, 1), (RefusalGround::InsufficientInformation, 1)]
    );
    let tally =
        |kind, requested, accepted, declined| crate::ConditionTally { kind, requested, accepted, declined };
    assert_eq!(
        all.by_condition_kind,
        [
            tally(ConditionKind::DeathPenaltyNonImposition, 1, 1, 0),
            tally(ConditionKind::FairTrial, 1, 1, 0),
            tally(ConditionKind::Speciality, 1, 0, 1),
        ]
    );
    // Acknowledged after 1, 3, 1, 1 and 1 days: sorted 1 1 1 1 3.
    assert_eq!(all.to_acknowledgement.requests, 5);
    close(all.to_acknowledgement.median_days, 1.0, "median to acknowledgement");
    close(all.to_acknowledgement.p90_days, 2.2, "p90 to acknowledgement (1 + 0.6 × 2)");
    // Decided after 4, 8 and 6 days.
    assert_eq!(all.to_decision.requests, 3);
    close(all.to_decision.median_days, 6.0, "median to decision");
    close(all.to_decision.p90_days, 7.6, "p90 to decision (6 + 0.8 × 2)");
    assert_eq!(all.to_execution.requests, 1);
    close(all.to_execution.median_days, 10.0, "median to execution");
    close(all.to_execution.p90_days, 10.0, "p90 to execution");
    // The distributions over a day, a week, a month, three and six months, a year: a day exactly
    // falls from a day to a week.
    assert_eq!(all.to_acknowledgement.distribution, [0, 5, 0, 0, 0, 0, 0]);
    assert_eq!(all.to_decision.distribution, [0, 2, 1, 0, 0, 0, 0]);
    assert_eq!(all.to_execution.distribution, [0, 0, 1, 0, 0, 0, 0]);
    // On day 200 the running clocks are past due: the accepted, the declined and the strict one.
    assert_eq!(all.overdue, 3);

    let assignee = figures(Scope::NcijcAssigned("huda".into()), None).await;
    assert_eq!(assignee, all, "the assignee counts the strictly confidential request as the cleared do");

    let other = figures(Scope::NcijcAssigned("karim".into()), None).await;
    assert_eq!(other.requests, 5, "another handler does not count it");
    assert!(!other.by_state.iter().any(|(state, _)| *state == State::Received), "{other:?}");
    assert_eq!(other.by_partner, [(fr.code.clone(), 2), (jo.code.clone(), 3)]);
    assert_eq!(other.to_acknowledgement.requests, 4);
    close(other.to_acknowledgement.median_days, 1.0, "median without the strict one");
    close(other.to_acknowledgement.p90_days, 2.4, "p90 without the strict one (1 + 0.7 × 2)");
    assert_eq!(other.to_acknowledgement.distribution, [0, 4, 0, 0, 0, 0, 0]);
    assert_eq!(other.overdue, 2);

    let outgoing = figures(Scope::Ncijc, Some(Direction::Outgoing)).await;
    assert_eq!(outgoing.requests, 1);
    assert_eq!(outgoing.by_direction, [(Direction::Outgoing, 1)]);
    assert_eq!(outgoing.to_acknowledgement, crate::Durations::default(), "no stage reached: no percentile");
    assert!(outgoing.by_refusal_ground.is_empty() && outgoing.by_condition_kind.is_empty());

    let partner = figures(Scope::Partner(fr.code.clone()), None).await;
    assert_eq!(partner.requests, 3, "a partner's scope is its own requests (the service refuses partners)");
    assert_eq!(figures(Scope::Nothing, None).await, crate::RequestStatistics::default());
}

/// The human-rights report of a period, on a small register built through the lifecycle: the
/// human-rights assurances sought, given and declined (and not the others); the refusals on a
/// human-rights ground, after consultation or with it waived, a closed one too, but not one on
/// other grounds; released evidence with its use restrictions and release time, but not evidence
/// still withheld; nothing of a request submitted outside the period; and a strictly confidential request listed
/// for its assignee but not for another handler. Each list in the order of the references.
pub async fn human_rights_report_lists_what_the_scope_sees(store: &dyn Store) {
    use mla_domain::request::{Condition, RefusalGround};
    let fr = register_partner(store, "FR-MOJ").await;
    let jo = register_partner(store, "JO-MOJ").await;
    let (fr, jo) = (&fr, &jo);
    let officer = Principal::staff("officer.huda", [Role::EvidenceOfficer]).expect("a valid principal");
    let propose = |conditions: &[(ConditionKind, &str)]| Command {
        conditions: conditions
            .iter()
            .map(|&(kind, text)| ProposedCondition { kind, text: long(text) })
            .collect(),
        ..command(Action::ProposeConditions)
    };
    let refuse = |grounds: Vec<RefusalGround>, waived: &str| Command {
        refusal_grounds: grounds,
        reason: long("Assurances could not cure the risk"),
        consultation_waived_reason: if waived.is_empty() { LongText::default() } else { long(waived) },
        ..command(Action::Refuse)
    };

    // IN-1: two assurances sought, one a human-rights one, both given; evidence released under
    // them, and another piece still withheld.
    let given = acknowledged_on(store, fr, sample_content("Given"), 1, 2).await;
    let given = on_day(store, given, command(Action::StartReview), fr, 2).await;
    let conditions =
        [(ConditionKind::DeathPenaltyNonImposition, "No death penalty"), (ConditionKind::Speciality, "")];
    let given = on_day(store, given, propose(&conditions), fr, 3).await;
    let given = on_day(store, given, command(Action::AcceptConditions), fr, 4).await;
    let given = on_day(store, given, command(Action::StartExecution), fr, 5).await;
    let upload =
        |day_of: i64| added_document(&given, DocumentKind::Evidence, Audience::Shared, &officer, day(day_of));
    let evidence = save_document(store, &given, upload(6)).await;
    let withheld = save_document(store, &given, upload(7)).await;
    assert_eq!(withheld.release_state, ReleaseState::Withheld);
    let (released, event) = document::release(&given, vec![evidence.clone()], &supervisor(), day(8))
        .expect("the domain releases");
    store.save_custody(&given, released, event, None).await.expect("the release is stored");
    // IN-2: an assurance sought, not answered yet.
    let sought = acknowledged_on(store, jo, sample_content("Sought"), 2, 3).await;
    let sought = on_day(store, sought, command(Action::StartReview), jo, 3).await;
    let sought = on_day(store, sought, propose(&[(ConditionKind::NonTorture, "No torture")]), jo, 4).await;
    // IN-3: an assurance declined, then refused on the death penalty: after consultation.
    let consulted = acknowledged_on(store, fr, sample_content("Consulted"), 3, 4).await;
    let consulted = on_day(store, consulted, command(Action::StartReview), fr, 4).await;
    let consulted =
        on_day(store, consulted, propose(&[(ConditionKind::FairTrial, "A fair trial")]), fr, 5).await;
    let consulted = on_day(store, consulted, command(Action::DeclineConditions), fr, 6).await;
    let consulted = on_day(store, consulted, refuse(vec![RefusalGround::DeathPenaltyRisk], ""), fr, 7).await;
    // IN-4: refused on torture (and another ground) with the consultation waived, then closed.
    let waived = acknowledged_on(store, jo, sample_content("Waived"), 4, 5).await;
    let waived = on_day(store, waived, command(Action::StartReview), jo, 5).await;
    let grounds = vec![RefusalGround::TortureRisk, RefusalGround::InsufficientInformation];
    let waived = on_day(store, waived, refuse(grounds, "The risk is certain"), jo, 6).await;
    let waived = act(store, &waived, command(Action::Close), &partner_system(jo), jo, day(7)).await;
    // IN-5: refused on a ground that is not a human-rights one: not in the report.
    let other = acknowledged_on(store, fr, sample_content("Other ground"), 5, 6).await;
    let other = on_day(store, other, command(Action::StartReview), fr, 6).await;
    on_day(store, other, refuse(vec![RefusalGround::NoDualCriminality], ""), fr, 7).await;
    // IN-6: strictly confidential, in huda's hands, an assurance sought.
    let strict = RequestContent {
        confidentiality: Some(Confidentiality::StrictlyConfidential),
        ..sample_content("Strict")
    };
    let strict = acknowledged_on(store, fr, strict, 6, 7).await;
    let patch = Patch { assignee: Some(short("huda")), ..Patch::default() };
    let assign = mla_domain::update(&strict, &patch, &supervisor(), &context(day(7), fr)).expect("assigned");
    let strict = store.save_change(strict.version, assign, None).await.expect("stored");
    let strict = on_day(store, strict, command(Action::StartReview), fr, 7).await;
    let strict = on_day(store, strict, propose(&[(ConditionKind::NonTorture, "Strict")]), fr, 8).await;
    // IN-7: submitted after the period, with an assurance given and evidence released under it.
    let later = acknowledged_on(store, fr, sample_content("Later"), 40, 41).await;
    let later = on_day(store, later, command(Action::StartReview), fr, 41).await;
    let later = on_day(store, later, propose(&[(ConditionKind::FairTrial, "Later")]), fr, 42).await;
    let later = on_day(store, later, command(Action::AcceptConditions), fr, 43).await;
    let later = on_day(store, later, command(Action::StartExecution), fr, 43).await;
    let late_evidence = added_document(&later, DocumentKind::Evidence, Audience::Shared, &officer, day(44));
    let late_evidence = save_document(store, &later, late_evidence).await;
    let (released, event) =
        document::release(&later, vec![late_evidence], &supervisor(), day(45)).expect("the domain releases");
    store.save_custody(&later, released, event, None).await.expect("the release is stored");
    // OUT-1: Jordan, the requested side, asks the NCIJC for a fair trial, which the NCIJC gives.
    let ours = create(store, outgoing(jo, sample_content("Ours"), day(3))).await;
    let ours = act(store, &ours, command(Action::Submit), &judge(), jo, day(3)).await;
    let jordan = partner_system(jo);
    let ours = act(store, &ours, command(Action::Acknowledge), &jordan, jo, day(4)).await;
    let ours = act(store, &ours, command(Action::StartReview), &jordan, jo, day(4)).await;
    let ours =
        act(store, &ours, propose(&[(ConditionKind::FairTrial, "Open hearing")]), &jordan, jo, day(5)).await;
    let ours = act(store, &ours, command(Action::AcceptConditions), &judge(), jo, day(6)).await;

    let report = |scope: Scope, direction: Option<Direction>| async move {
        let query = RequestQuery {
            direction,
            submitted_from: Some(day(0)),
            submitted_until: Some(day(30)),
            ..RequestQuery::new(scope, 0)
        };
        store.human_rights_report(&query).await.expect("the report is read")
    };
    let named = |r: &Request| crate::ReportedRequest {
        id: r.id,
        reference: r.reference.clone(),
        partner_code: r.partner_code.clone(),
        direction: r.direction,
    };
    let assurance = |r: &Request, condition: &Condition| crate::ReportedAssurance {
        request: named(r),
        state: r.state,
        condition: condition.clone(),
    };

    let all = report(Scope::Ncijc, None).await;
    assert_eq!(
        all.assurances,
        [
            assurance(&given, &given.conditions[0]),
            assurance(&sought, &sought.conditions[0]),
            assurance(&consulted, &consulted.conditions[0]),
            assurance(&strict, &strict.conditions[0]),
            assurance(&ours, &ours.conditions[0]),
        ],
        "the human-rights assurances, in the order of the references"
    );
    let statuses: Vec<_> = all.assurances.iter().map(|a| a.condition.status).collect();
    use ConditionStatus::{Accepted, Declined, Proposed};
    assert_eq!(statuses, [Accepted, Proposed, Declined, Proposed, Accepted]);
    assert_eq!(
        (all.assurances[0].condition.given_by.as_deref(), all.assurances[0].condition.given_time),
        (Some("fr-moj-case-system"), Some(day(4))),
        "who gave it, and when"
    );
    assert_eq!(all.assurances[2].state, State::Refused);
    assert_eq!(
        all.refusals,
        [
            crate::ReportedRefusal {
                request: named(&consulted),
                grounds: vec![RefusalGround::DeathPenaltyRisk],
                reason: "Assurances could not cure the risk".into(),
                refused_time: day(7),
                consultation_waived_reason: String::new(),
                consultations: consulted.conditions.clone(),
            },
            crate::ReportedRefusal {
                request: named(&waived),
                grounds: vec![RefusalGround::TortureRisk, RefusalGround::InsufficientInformation],
                reason: "Assurances could not cure the risk".into(),
                refused_time: day(6),
                consultation_waived_reason: "The risk is certain".into(),
                consultations: Vec::new(),
            },
        ],
        "the refusals on human-rights grounds (a closed one too), not the one on another ground"
    );
    assert_eq!(all.refusals[0].consultations[0].status, Declined, "the consultation held");
    assert_eq!(
        all.releases,
        [crate::ReportedRelease {
            request: named(&given),
            document_id: evidence.id,
            title: evidence.title.clone(),
            kind: DocumentKind::Evidence,
            release_time: Some(day(8)),
            use_restrictions: vec!["No death penalty".into(), "SPECIALITY".into()],
        }],
        "the released evidence only, with its use restrictions"
    );

    let assignee = report(Scope::NcijcAssigned("huda".into()), None).await;
    assert_eq!(assignee, all, "the assignee sees the strictly confidential request as the cleared do");
    let other_handler = report(Scope::NcijcAssigned("karim".into()), None).await;
    assert!(
        !other_handler.assurances.iter().any(|a| a.request.id == strict.id),
        "another handler does not: {other_handler:?}"
    );
    assert_eq!(other_handler.assurances.len(), 4);
    assert_eq!(
        (other_handler.refusals, other_handler.releases),
        (all.refusals.clone(), all.releases.clone())
    );

    let outgoing = report(Scope::Ncijc, Some(Direction::Outgoing)).await;
    assert_eq!(outgoing.assurances, [assurance(&ours, &ours.conditions[0])]);
    assert!(outgoing.refusals.is_empty() && outgoing.releases.is_empty());
    assert_eq!(report(Scope::Nothing, None).await, crate::HumanRightsEntries::default());
}

/// The text query is a case-insensitive substring of the title or the reference, taken literally:
/// wildcards, quotes and SQL in it match themselves only.
pub async fn list_text_query_is_case_insensitive_and_literal(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let titles = [
        "Bank records – Fraud case",
        "100% of the proceeds",
        "under_score matter",
        "O'Brien \"quoted\" case",
        r"Seized drive C:\evidence",
        "طلب مساعدة قانونية بشأن الاحتيال",
        "Robert'); DROP TABLE requests;--",
    ];
    let mut created = HashMap::new();
    for (i, title) in titles.iter().enumerate() {
        let request = create(store, outgoing(&fr, sample_content(title), at(i as i64))).await;
        created.insert(*title, request);
    }
    let search = |text: &str| RequestQuery { text: Some(text.into()), ..staff_query(50) };
    let titles_found = |found: Vec<Request>| -> BTreeSet<String> {
        found.iter().map(|r| r.content.title.as_str().to_owned()).collect()
    };
    let expect = |wanted: &[&str]| -> BTreeSet<String> { wanted.iter().map(|s| (*s).to_owned()).collect() };
    let cases: &[(&str, &[&str])] = &[
        ("fraud", &["Bank records – Fraud case"]),
        ("FRAUD CASE", &["Bank records – Fraud case"]),
        ("%", &["100% of the proceeds"]),
        ("_", &["under_score matter"]),
        ("'", &["O'Brien \"quoted\" case", "Robert'); DROP TABLE requests;--"]),
        ("\"quoted\"", &["O'Brien \"quoted\" case"]),
        (r"\", &[r"Seized drive C:\evidence"]),
        (r"c:\E", &[r"Seized drive C:\evidence"]),
        ("مساعدة", &["طلب مساعدة قانونية بشأن الاحتيال"]),
        ("DROP TABLE", &["Robert'); DROP TABLE requests;--"]),
        ("' OR '1'='1", &[]),
        ("%%", &[]),
        ("__", &[]),
        ("case%", &[]),
        ("no such title", &[]),
    ];
    for (text, wanted) in cases {
        assert_eq!(titles_found(list(store, &search(text)).await), expect(wanted), "query {text:?}");
    }
    // The reference matches too, whatever its case.
    let third = &created["under_score matter"];
    for text in ["OUT-2026-000003", "out-2026-000003", "2026-000003"] {
        assert_eq!(ids(&list(store, &search(text)).await), [third.id], "query {text:?}");
    }
    assert_eq!(list(store, &search("OUT-2026-")).await.len(), titles.len());
}

/// The text query also matches the partner's own reference, case-insensitively and literally.
pub async fn list_text_query_matches_the_partner_reference(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let with_reference = |title: &str, reference: &str| RequestContent {
        partner_reference: short(reference),
        ..sample_content(title)
    };
    let paris =
        create(store, outgoing(&fr, with_reference("Bank records", "Parquet-Paris/2026_0042"), at(0))).await;
    let lyon = create(store, outgoing(&fr, with_reference("Witness hearing", "ÉTAT-LYON 100%"), at(1))).await;
    let search = |text: &str| RequestQuery { text: Some(text.into()), ..staff_query(50) };
    let cases: &[(&str, &[RequestId])] = &[
        ("parquet-paris", &[paris.id]),
        ("PARIS/2026_0042", &[paris.id]),
        ("état-lyon", &[lyon.id]),
        ("100%", &[lyon.id]),
        ("2026_004", &[paris.id]),
        ("2026%0042", &[]),
        ("paris_2026", &[]),
    ];
    for (text, wanted) in cases {
        assert_eq!(ids(&list(store, &search(text)).await), *wanted, "query {text:?}");
    }
    // A change that rewrites the partner's reference is found by the new one only.
    let content = RequestContent { partner_reference: short("Parquet-Marseille/77"), ..lyon.content.clone() };
    let patch = Patch { content: Some((content, vec!["partner_reference".into()])), ..Patch::default() };
    let change = mla_domain::update(&lyon, &patch, &judge(), &context(at(2), &fr)).expect("decided");
    store.save_change(lyon.version, change, None).await.expect("stored");
    assert_eq!(ids(&list(store, &search("marseille")).await), [lyon.id]);
    assert!(list(store, &search("état-lyon")).await.is_empty());
}

/// The text query finds a title or a partner's reference in Arabic script whatever the spelling of
/// its alefs, yehs and ta marbuta, with or without diacritics and tatweel, and only the words asked.
pub async fn list_text_query_reads_arabic_spellings(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let with_reference = |title: &str, reference: &str| RequestContent {
        partner_reference: short(reference),
        ..sample_content(title)
    };
    let ahmad = create(store, outgoing(&fr, with_reference("شهادة أحمد إبراهيم", "نيابة-٢٠٢٦"), at(0))).await;
    let mahmud = create(store, outgoing(&fr, with_reference("أقوال محمود", "هيئة النزاهة"), at(1))).await;
    let search = |text: &str| RequestQuery { text: Some(text.into()), ..staff_query(50) };
    let cases: &[(&str, &[RequestId])] = &[
        ("احمد", &[ahmad.id]),
        ("أَحْمَد", &[ahmad.id]),
        ("ابراهيم", &[ahmad.id]),
        ("شهاده", &[ahmad.id]),
        ("شهـــادة", &[ahmad.id]),
        ("اقوال", &[mahmud.id]),
        ("هيئه", &[mahmud.id]),
        ("هييه النزاهه", &[mahmud.id]),
        ("محمد", &[]),
    ];
    for (text, wanted) in cases {
        assert_eq!(ids(&list(store, &search(text)).await), *wanted, "query {text:?}");
    }
}

/// Pages of any size cover every visible request exactly once, newest first, also under a filter.
pub async fn keyset_pagination_covers_every_row_once(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let mut all = Vec::new();
    for i in 0..23 {
        let request = create(store, outgoing(&fr, sample_content(&format!("Request {i}")), at(i))).await;
        let request = if i % 3 == 0 {
            act(store, &request, command(Action::Submit), &judge(), &fr, at(100 + i)).await
        } else {
            request
        };
        all.push(request);
    }
    let expected = newest_first(&all.iter().collect::<Vec<_>>());
    for page_size in [1, 5, 7, 23, 50] {
        let mut seen = Vec::new();
        let mut query = staff_query(page_size);
        loop {
            let page = list(store, &query).await;
            assert!(page.len() <= page_size as usize);
            let Some(last) = page.last() else { break };
            query.after = Some(last.id);
            seen.extend(ids(&page));
        }
        assert_eq!(seen, expected, "page size {page_size}");
    }
    let submitted: Vec<_> = all.iter().filter(|r| r.state == State::Submitted).collect();
    let mut seen = Vec::new();
    let mut query = RequestQuery { state: Some(State::Submitted), ..staff_query(3) };
    loop {
        let page = list(store, &query).await;
        let Some(last) = page.last() else { break };
        query.after = Some(last.id);
        seen.extend(ids(&page));
    }
    assert_eq!(seen, newest_first(&submitted));
    assert!(list(store, &staff_query(0)).await.is_empty(), "a limit of 0 reads nothing");
}

/// Every list is confined to the caller's scope: a partner sees its own requests but not the NCIJC's
/// drafts to it, and nothing of another partner's; staff never see a partner's drafts; `Nothing`
/// sees nothing. No filter widens the scope.
pub async fn scope_isolation_in_lists(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let de = register_partner(store, "DE-BJ").await;
    let fr_out_draft = create(store, outgoing(&fr, sample_content("FR outgoing draft"), at(0))).await;
    let fr_out = create(store, outgoing(&fr, sample_content("FR outgoing"), at(1))).await;
    let fr_out = act(store, &fr_out, command(Action::Submit), &judge(), &fr, at(2)).await;
    let fr_in_draft = create(store, incoming(&fr, sample_content("FR incoming draft"), at(3))).await;
    let fr_in = create(store, incoming(&fr, sample_content("FR incoming"), at(4))).await;
    let fr_in = act(store, &fr_in, command(Action::Submit), &partner_system(&fr), &fr, at(5)).await;
    let de_in_draft = create(store, incoming(&de, sample_content("DE incoming draft"), at(6))).await;
    let de_out = create(store, outgoing(&de, sample_content("DE outgoing"), at(7))).await;
    let de_out = act(store, &de_out, command(Action::Submit), &judge(), &de, at(8)).await;
    let de_out_draft = create(store, outgoing(&de, sample_content("DE outgoing draft"), at(9))).await;

    let scoped = |scope: Scope| RequestQuery::new(scope, 100);
    let fr_scope = Scope::Partner(fr.code.clone());
    assert_eq!(
        ids(&list(store, &scoped(fr_scope.clone())).await),
        newest_first(&[&fr_out, &fr_in_draft, &fr_in])
    );
    assert_eq!(
        ids(&list(store, &scoped(Scope::Partner(de.code.clone()))).await),
        newest_first(&[&de_in_draft, &de_out])
    );
    assert_eq!(
        ids(&list(store, &scoped(Scope::Ncijc)).await),
        newest_first(&[&fr_out_draft, &fr_out, &fr_in, &de_out, &de_out_draft])
    );
    assert!(list(store, &scoped(Scope::Nothing)).await.is_empty());
    assert!(
        list(store, &RequestQuery { text: Some("draft".into()), ..scoped(Scope::Nothing) }).await.is_empty()
    );

    // Filters narrow the scope; they never open another partner's rows or a hidden draft.
    let escape_attempts = [
        RequestQuery { partner_code: Some(de.code.clone()), ..scoped(fr_scope.clone()) },
        RequestQuery {
            direction: Some(Direction::Outgoing),
            state: Some(State::Draft),
            ..scoped(fr_scope.clone())
        },
        RequestQuery { text: Some("DE ".into()), ..scoped(fr_scope.clone()) },
        RequestQuery { text: Some("' OR 1=1 --".into()), ..scoped(fr_scope.clone()) },
    ];
    for query in &escape_attempts {
        assert!(list(store, query).await.is_empty(), "{query:?} leaked");
    }
    let staff_drafts =
        RequestQuery { state: Some(State::Draft), direction: Some(Direction::Incoming), ..staff_query(100) };
    assert!(list(store, &staff_drafts).await.is_empty(), "staff saw a partner's draft");
    let fr_drafts = RequestQuery { state: Some(State::Draft), ..scoped(fr_scope) };
    assert_eq!(ids(&list(store, &fr_drafts).await), [fr_in_draft.id]);
}

// ---------------------------------------------------------------------------------------------------
// Changes: optimistic concurrency.

/// A change at a stale version changes nothing: not the row, not the trail.
pub async fn stale_version_changes_nothing(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let v1 = create(store, outgoing(&fr, sample_content("Stale"), at(0))).await;
    let v2 = store.save_change(v1.version, assignment(&v1, "huda", &fr, at(1)), None).await.expect("stored");
    let events_before = all_events(store).await;
    let stale = mla_domain::transition(&v1, &command(Action::Submit), &judge(), &context(at(2), &fr))
        .expect("decided");
    let result = store.save_change(v1.version, stale, None).await;
    assert!(matches!(result, Err(StoreError::VersionConflict { current: 2 })), "got {result:?}");
    assert_eq!(store.get_request(v1.id).await.expect("read"), Some(v2), "the row changed");
    assert_eq!(all_events(store).await, events_before, "the trail changed");
    let ahead = store.save_change(7, assignment(&v1, "karim", &fr, at(3)), None).await;
    assert!(matches!(ahead, Err(StoreError::VersionConflict { current: 2 })), "got {ahead:?}");
}

pub async fn unknown_request_change_is_not_found(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let never_stored = Request {
        id: request_id(),
        reference: mla_domain::Reference { direction: Direction::Outgoing, year: 2026, number: 99 },
        direction: Direction::Outgoing,
        partner_code: fr.code.clone(),
        state: State::Draft,
        version: 1,
        content: sample_content("Never stored"),
        conditions: Vec::new(),
        assignee: ShortText::default(),
        clock: Default::default(),
        create_time: at(0),
        update_time: at(0),
        submit_time: None,
        received_time: None,
        close_time: None,
        decided_time: None,
        refusal_grounds: Vec::new(),
        executed_time: None,
    };
    let change = assignment(&never_stored, "huda", &fr, at(1));
    let result = store.save_change(1, change, None).await;
    assert!(matches!(result, Err(StoreError::NotFound)), "got {result:?}");
    assert!(all_events(store).await.is_empty());
}

/// Ten changes of one request at the same version, at once: exactly one is stored, with exactly one
/// event; the nine others learn the version that beat them.
pub async fn concurrent_changes_exactly_one_wins(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let request = create(store, outgoing(&fr, sample_content("Contended"), at(0))).await;
    let events_before = events_of(store, request.id).await.len();
    let changes: Vec<_> =
        (0..10).map(|i| assignment(&request, &format!("officer-{i}"), &fr, at(1 + i))).collect();
    let results =
        join_all(changes.into_iter().map(|change| store.save_change(request.version, change, None))).await;
    let mut winners = Vec::new();
    let mut conflicts = 0;
    for result in results {
        match result {
            Ok(stored) => winners.push(stored),
            Err(StoreError::VersionConflict { current }) => {
                assert_eq!(current, request.version + 1);
                conflicts += 1;
            }
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert_eq!((winners.len(), conflicts), (1, 9), "exactly one change wins");
    let stored = store.get_request(request.id).await.expect("read").expect("exists");
    assert_eq!(stored, winners[0]);
    assert_eq!(events_of(store, request.id).await.len(), events_before + 1, "exactly one event was appended");
}

// ---------------------------------------------------------------------------------------------------
// Idempotency.

/// Ten retries of one create with one key, at once: one request exists and all ten callers get it.
pub async fn idempotent_create_converges_under_concurrent_retries(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let key = idempotency("judge.amira", "create-0001", "fp-create-A");
    // Each retry carries a fresh id, as a client that lost the answer would send; the first wins.
    let attempts: Vec<_> = (0..10).map(|_| outgoing(&fr, sample_content("Retried"), at(0))).collect();
    let results = join_all(attempts.into_iter().map(|new| store.create_request(new, Some(&key)))).await;
    let outcomes: Vec<Request> = results.into_iter().map(|r| r.expect("every retry succeeds")).collect();
    assert!(outcomes.iter().all(|r| *r == outcomes[0]), "every retry gets the first outcome");
    assert_eq!(ids(&list(store, &staff_query(50)).await), [outcomes[0].id], "one request exists");
    assert_eq!(all_events(store).await.len(), 1, "one creating event");
    let replayed = store.replay(&key).await.expect("replayed").expect("recorded");
    assert_eq!(serde_json::from_value::<Request>(replayed).expect("a request"), outcomes[0]);
    let next = create(store, outgoing(&fr, sample_content("Next"), at(1))).await;
    assert_eq!(next.reference.number, 2, "the replays spent no registry number");
}

pub async fn idempotency_key_with_another_payload_is_refused(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let key = idempotency("judge.amira", "create-0002", "fp-one");
    let first =
        store.create_request(outgoing(&fr, sample_content("One"), at(0)), Some(&key)).await.expect("stored");
    let other = idempotency("judge.amira", "create-0002", "fp-two");
    let result = store.create_request(outgoing(&fr, sample_content("Two"), at(1)), Some(&other)).await;
    assert!(matches!(result, Err(StoreError::IdempotencyMismatch)), "got {result:?}");
    assert!(matches!(store.replay(&other).await, Err(StoreError::IdempotencyMismatch)));
    assert_eq!(ids(&list(store, &staff_query(50)).await), [first.id]);
    let change = assignment(&first, "huda", &fr, at(2));
    let result = store.save_change(first.version, change, Some(&other)).await;
    assert!(matches!(result, Err(StoreError::IdempotencyMismatch)), "got {result:?}");
    assert_eq!(store.get_request(first.id).await.expect("read"), Some(first));
    assert_eq!(store.replay(&idempotency("judge.amira", "never-used", "fp")).await.expect("read"), None);
}

/// Keys belong to their principal: the same key from two principals is two keys.
pub async fn idempotency_keys_are_per_scope(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let amira = idempotency("judge.amira", "shared-key", "fp-same");
    let karim = idempotency("judge.karim", "shared-key", "fp-same");
    let one = store
        .create_request(outgoing(&fr, sample_content("Amira's"), at(0)), Some(&amira))
        .await
        .expect("stored");
    let two = store
        .create_request(outgoing(&fr, sample_content("Karim's"), at(1)), Some(&karim))
        .await
        .expect("stored");
    assert_ne!(one.id, two.id);
    assert_eq!(list(store, &staff_query(50)).await.len(), 2);
    let replay = |key| async move { store.replay(key).await.expect("read").expect("recorded") };
    assert_eq!(serde_json::from_value::<Request>(replay(&amira).await).expect("a request"), one);
    assert_eq!(serde_json::from_value::<Request>(replay(&karim).await).expect("a request"), two);
}

/// A retried change replays its first outcome, even though its expected version is stale by then,
/// and appends nothing.
pub async fn idempotent_change_replays_first_outcome(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let draft = create(store, outgoing(&fr, sample_content("Submit once"), at(0))).await;
    let key = idempotency("judge.amira", "submit-1", "fp-submit");
    let decide = || {
        mla_domain::transition(&draft, &command(Action::Submit), &judge(), &context(at(1), &fr))
            .expect("decided")
    };
    let first = store.save_change(draft.version, decide(), Some(&key)).await.expect("stored");
    let events = all_events(store).await;
    for _ in 0..3 {
        let again = store.save_change(draft.version, decide(), Some(&key)).await.expect("replayed");
        assert_eq!(again, first);
    }
    let retries = join_all((0..5).map(|_| store.save_change(draft.version, decide(), Some(&key)))).await;
    assert!(retries.into_iter().all(|r| r.expect("replayed") == first));
    assert_eq!(all_events(store).await, events, "replays append nothing");
    assert_eq!(store.get_request(draft.id).await.expect("read"), Some(first));
}

/// Only successful outcomes are recorded: a refused write leaves its key free for the retry.
pub async fn failed_outcomes_are_not_recorded(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let v1 = create(store, outgoing(&fr, sample_content("Refused first"), at(0))).await;
    let v2 = store.save_change(v1.version, assignment(&v1, "huda", &fr, at(1)), None).await.expect("stored");
    let key = idempotency("judge.amira", "submit-2", "fp-submit");
    let stale = mla_domain::transition(&v1, &command(Action::Submit), &judge(), &context(at(2), &fr))
        .expect("decided");
    let result = store.save_change(v1.version, stale, Some(&key)).await;
    assert!(matches!(result, Err(StoreError::VersionConflict { .. })), "got {result:?}");
    assert_eq!(store.replay(&key).await.expect("read"), None, "a failure was recorded");
    let fresh = mla_domain::transition(&v2, &command(Action::Submit), &judge(), &context(at(3), &fr))
        .expect("decided");
    let v3 = store.save_change(v2.version, fresh, Some(&key)).await.expect("stored");
    assert_eq!(v3.state, State::Submitted);

    let partner_key = idempotency("admin.rana", "partner-1", "fp-partner");
    let duplicate = store.create_partner(sample_partner("FR-MOJ", "Again"), Some(&partner_key)).await;
    assert!(matches!(duplicate, Err(StoreError::AlreadyExists)), "got {duplicate:?}");
    assert_eq!(store.replay(&partner_key).await.expect("read"), None);
}

/// Records older than the cut are purged: a retry with such a key executes anew; a younger record
/// still replays. The cut is measured against the time of the write that made the record.
pub async fn purged_idempotency_keys_execute_anew(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let old_key = idempotency("judge.amira", "create-old", "fp-old");
    let young_key = idempotency("judge.amira", "create-young", "fp-young");
    let old_new = outgoing(&fr, sample_content("Old"), at(0));
    let old = store.create_request(old_new.clone(), Some(&old_key)).await.expect("stored");
    let young_new = outgoing(&fr, sample_content("Young"), at(3600));
    let young = store.create_request(young_new.clone(), Some(&young_key)).await.expect("stored");
    let draft = create(store, outgoing(&fr, sample_content("Changed"), at(10))).await;
    let change_key = idempotency("judge.amira", "submit-old", "fp-submit");
    let decide = || {
        mla_domain::transition(&draft, &command(Action::Submit), &judge(), &context(at(20), &fr))
            .expect("decided")
    };
    store.save_change(draft.version, decide(), Some(&change_key)).await.expect("stored");

    assert_eq!(store.purge_idempotency(at(0)).await.expect("purged"), 0, "the cut is exclusive");
    assert_eq!(store.purge_idempotency(at(1800)).await.expect("purged"), 2);
    assert_eq!(store.purge_idempotency(at(1800)).await.expect("purged"), 0, "a second purge finds nothing");
    assert_eq!(store.replay(&old_key).await.expect("read"), None);
    assert_eq!(store.replay(&change_key).await.expect("read"), None);

    let again = store.create_request(old_new, Some(&old_key)).await;
    assert!(matches!(again, Err(StoreError::AlreadyExists)), "the retry executed anew: got {again:?}");
    let anew = outgoing(&fr, sample_content("Old, retried"), at(7200));
    let retried = store.create_request(anew, Some(&old_key)).await.expect("executed anew");
    assert_ne!(retried.id, old.id);
    assert_eq!(retried.reference.number, 4, "the retry took a registry number of its own");
    let replayed = store.create_request(young_new, Some(&young_key)).await.expect("replayed");
    assert_eq!(replayed, young, "the younger record still replays");
    let stale = store.save_change(draft.version, decide(), Some(&change_key)).await;
    assert!(matches!(stale, Err(StoreError::VersionConflict { current: 2 })), "got {stale:?}");
}

// ---------------------------------------------------------------------------------------------------
// The audit trail.

/// Every change appends one event: cursors strictly increase across the feed, each request's chain
/// counts from 1 and links each event to the previous one's hash, and every hash is the canonical one.
pub async fn events_chain_per_request_with_global_cursor(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let a = create(store, outgoing(&fr, sample_content("A"), at(0))).await;
    let b = create(store, incoming(&fr, sample_content("B"), at(1))).await;
    let a = act(store, &a, command(Action::Submit), &judge(), &fr, at(2)).await;
    let b = act(store, &b, command(Action::Submit), &partner_system(&fr), &fr, at(3)).await;
    let a = act(store, &a, command(Action::Acknowledge), &partner_system(&fr), &fr, at(4)).await;
    act(store, &b, command(Action::Acknowledge), &registrar(), &fr, at(5)).await;
    store.save_change(a.version, assignment(&a, "huda", &fr, at(6)), None).await.expect("stored");

    let feed = all_events(store).await;
    assert_eq!(feed.len(), 7);
    assert!(feed.windows(2).all(|w| w[0].cursor < w[1].cursor), "cursors strictly increase");
    assert!(feed[0].cursor > 0);
    let actions: Vec<_> = feed.iter().map(|e| (e.request_id, e.action.as_str())).collect();
    assert_eq!(
        actions,
        [
            (a.id, "CREATE"),
            (b.id, "CREATE"),
            (a.id, "SUBMIT"),
            (b.id, "SUBMIT"),
            (a.id, "ACKNOWLEDGE"),
            (b.id, "ACKNOWLEDGE"),
            (a.id, "UPDATE")
        ]
    );
    for id in [a.id, b.id] {
        let chain = events_of(store, id).await;
        let from_feed: Vec<_> = feed.iter().filter(|e| e.request_id == id).cloned().collect();
        assert_eq!(chain, from_feed, "the request's trail is its part of the feed");
        for (i, event) in chain.iter().enumerate() {
            assert_eq!(event.seq, i as i64 + 1);
            assert_eq!(event.prev_hash, if i == 0 { String::new() } else { chain[i - 1].hash.clone() });
            assert_eq!(event.hash, event.computed_hash(), "the stored hash is the canonical one");
            assert_eq!(event.partner_code, fr.code);
        }
        assert_eq!(mla_domain::audit::verify_chain(&chain), Ok(chain.len()));
    }
    let first = &feed[0];
    assert_eq!((first.from_state, first.to_state), (None, State::Draft));
    assert_eq!(first.time, at(0));
    assert_eq!(first.actor.subject, "judge.amira");
    assert_eq!(first.actor.roles, ["judge"]);
    assert_eq!(first.actor.partner_code, None);
    assert_eq!(feed[3].actor.partner_code.as_deref(), Some("FR-MOJ"));
    assert_eq!(feed[3].from_state, Some(State::Draft));
    let details: serde_json::Value = serde_json::from_str(&first.details).expect("details are JSON");
    assert!(details.get("content").is_some());

    let mut paged = Vec::new();
    let mut cursor = 0;
    loop {
        let page = store.events_after(&EventReader::Verifier, cursor, 2).await.expect("read");
        let Some(last) = page.last() else { break };
        cursor = last.cursor;
        paged.extend(page);
    }
    assert_eq!(paged, feed, "paging the feed by cursor yields the feed");
    assert!(store.events_after(&EventReader::Verifier, feed[6].cursor, 10).await.expect("read").is_empty());
}

/// Among staff, a strictly confidential request is for its assignee and those cleared for the whole
/// register: for any other staff reader it is in no list and none of its events is in the feed or
/// its trail, and it follows the request as it stands (reassigned, the old handler loses sight).
pub async fn strictly_confidential_requests_are_for_their_assignee_and_the_cleared(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let standard = received_incoming(store, &fr, "Standard", at(10)).await;
    let strict_content = RequestContent {
        confidentiality: Some(Confidentiality::StrictlyConfidential),
        ..sample_content("Strict")
    };
    let draft = create(store, incoming(&fr, strict_content, at(20))).await;
    let strict = act(store, &draft, command(Action::Submit), &partner_system(&fr), &fr, at(21)).await;
    assert!(strict.is_strictly_confidential() && strict.assignee.is_blank());
    let supervisor = Principal::staff("supervisor.noor", [Role::Supervisor]).expect("a valid principal");
    let assign = |request: &Request, to: &str, now| {
        let patch = Patch { assignee: Some(short(to)), ..Patch::default() };
        mla_domain::update(request, &patch, &supervisor, &context(now, &fr)).expect("the supervisor assigns")
    };
    let staff = |subject: &str| Scope::NcijcAssigned(subject.into());
    let listed = |scope: Scope| async move { ids(&list(store, &RequestQuery::new(scope, 50)).await) };
    let fed = |scope: Scope| async move {
        let events = store.events_after(&EventReader::Scope(scope), 0, 1000).await.expect("read");
        events.iter().map(|e| e.request_id).collect::<BTreeSet<_>>()
    };
    let trail = |scope: Scope| async move {
        store.request_events(strict.id, &EventReader::Scope(scope), 0, 100).await.expect("read").len()
    };

    assert_eq!(listed(staff("huda")).await, [standard.id], "unassigned: hidden from every handler");
    assert!(!fed(staff("huda")).await.contains(&strict.id));
    assert_eq!(trail(staff("huda")).await, 0);
    assert_eq!(listed(Scope::Ncijc).await, newest_first(&[&strict, &standard]), "the cleared see it");
    assert!(fed(Scope::Ncijc).await.contains(&strict.id));
    assert_eq!(listed(Scope::Partner(fr.code.clone())).await, newest_first(&[&strict, &standard]));

    let strict =
        store.save_change(strict.version, assign(&strict, "huda", at(22)), None).await.expect("stored");
    assert_eq!(listed(staff("huda")).await, newest_first(&[&strict, &standard]), "the assignee sees it");
    assert!(fed(staff("huda")).await.contains(&strict.id));
    assert_eq!(trail(staff("huda")).await, 2, "with its whole history: submission and assignment");
    assert_eq!(listed(staff("karim")).await, [standard.id], "anyone else still does not");
    let text = RequestQuery { text: Some("strict".into()), ..RequestQuery::new(staff("karim"), 50) };
    assert!(list(store, &text).await.is_empty(), "nor finds it by its title");

    store.save_change(strict.version, assign(&strict, "karim", at(23)), None).await.expect("stored");
    assert_eq!(listed(staff("huda")).await, [standard.id], "reassigned: the former handler loses sight");
    assert!(!fed(staff("huda")).await.contains(&strict.id));
    assert!(fed(staff("karim")).await.contains(&strict.id));
}

/// Each side reads exactly the events decided for it, filtered by the query: a partner its own
/// requests' partner-visible events, staff the NCIJC-visible ones, `Nothing` none.
pub async fn event_audience_is_filtered_in_the_query(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let de = register_partner(store, "DE-BJ").await;
    let fr_out = create(store, outgoing(&fr, sample_content("FR outgoing"), at(0))).await; // NCIJC only
    let fr_out = act(store, &fr_out, command(Action::Submit), &judge(), &fr, at(1)).await; // both
    store.save_change(fr_out.version, assignment(&fr_out, "huda", &fr, at(2)), None).await.expect("stored"); // NCIJC only
    let fr_in = create(store, incoming(&fr, sample_content("FR incoming"), at(3))).await; // FR only
    let de_in = create(store, incoming(&de, sample_content("DE incoming"), at(4))).await; // DE only
    act(store, &de_in, command(Action::Submit), &partner_system(&de), &de, at(5)).await; // both

    let feed = all_events(store).await;
    assert_eq!(feed.len(), 6);
    let audiences: Vec<_> = feed.iter().map(|e| (e.audience.ncijc, e.audience.partner)).collect();
    assert_eq!(
        audiences,
        [(true, false), (true, true), (true, false), (false, true), (false, true), (true, true)]
    );

    let read = |reader: EventReader| async move { store.events_after(&reader, 0, 1000).await.expect("read") };
    let expect =
        |keep: &dyn Fn(&Event) -> bool| -> Vec<Event> { feed.iter().filter(|e| keep(e)).cloned().collect() };
    assert_eq!(read(EventReader::Scope(Scope::Ncijc)).await, expect(&|e| e.audience.ncijc));
    assert_eq!(
        read(EventReader::Scope(Scope::Partner(fr.code.clone()))).await,
        expect(&|e| e.partner_code == fr.code && e.audience.partner)
    );
    assert_eq!(
        read(EventReader::Scope(Scope::Partner(de.code.clone()))).await,
        expect(&|e| e.partner_code == de.code && e.audience.partner)
    );
    assert!(read(EventReader::Scope(Scope::Partner(code("UN-IIIM")))).await.is_empty());
    assert!(read(EventReader::Scope(Scope::Nothing)).await.is_empty());
    assert_eq!(read(EventReader::Verifier).await, feed);

    let trail = |id, reader: EventReader| async move {
        store.request_events(id, &reader, 0, 100).await.expect("read")
    };
    let fr_view = trail(fr_out.id, EventReader::Scope(Scope::Partner(fr.code.clone()))).await;
    assert_eq!(fr_view.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["SUBMIT"]);
    assert_eq!(trail(fr_out.id, EventReader::Scope(Scope::Ncijc)).await.len(), 3);
    assert!(trail(fr_out.id, EventReader::Scope(Scope::Partner(de.code.clone()))).await.is_empty());
    assert!(
        trail(fr_in.id, EventReader::Scope(Scope::Ncijc)).await.is_empty(),
        "staff read a partner's draft"
    );
    assert_eq!(trail(fr_in.id, EventReader::Scope(Scope::Partner(fr.code.clone()))).await.len(), 1);
    assert!(trail(fr_in.id, EventReader::Scope(Scope::Nothing)).await.is_empty());
}

pub async fn request_events_page_by_seq(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let mut request = create(store, outgoing(&fr, sample_content("Paged trail"), at(0))).await;
    for i in 0..6 {
        let change = assignment(&request, &format!("officer-{i}"), &fr, at(1 + i));
        request = store.save_change(request.version, change, None).await.expect("stored");
    }
    let whole = events_of(store, request.id).await;
    assert_eq!(whole.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6, 7]);
    let page = store.request_events(request.id, &EventReader::Verifier, 2, 3).await.expect("read");
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 4, 5]);
    assert!(store.request_events(request.id, &EventReader::Verifier, 7, 3).await.expect("read").is_empty());
    assert!(store.request_events(request_id(), &EventReader::Verifier, 0, 3).await.expect("read").is_empty());
}

pub async fn verify_audit_passes_on_a_sound_store(store: &dyn Store) {
    assert_eq!(verify_audit(store).await.expect("read"), Ok(crate::AuditReport { requests: 0, events: 0 }));
    let fr = register_partner(store, "FR-MOJ").await;
    let de = register_partner(store, "DE-BJ").await;
    let mut events = 0;
    for (i, partner) in [&fr, &de, &fr].into_iter().enumerate() {
        let draft =
            create(store, outgoing(partner, sample_content(&format!("Audited {i}")), at(i as i64))).await;
        let submitted =
            act(store, &draft, command(Action::Submit), &judge(), partner, at(10 + i as i64)).await;
        store
            .save_change(submitted.version, assignment(&submitted, "huda", partner, at(20)), None)
            .await
            .expect("stored");
        events += 3;
    }
    let report = verify_audit(store).await.expect("read").expect("the trail is sound");
    assert_eq!(report, crate::AuditReport { requests: 3, events });
}

/// A reader following the feed while eight writers commit at once never misses an event: cursors
/// become visible in cursor order, so no smaller cursor appears after a larger one was read.
pub async fn feed_followers_never_miss_an_event(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let mut requests = Vec::new();
    for i in 0..8 {
        requests.push(create(store, outgoing(&fr, sample_content(&format!("Busy {i}")), at(i))).await);
    }
    let done = AtomicBool::new(false);
    let writers = async {
        join_all(requests.iter().enumerate().map(|(w, request)| {
            let fr = &fr;
            async move {
                let mut request = request.clone();
                for i in 0..15 {
                    let change = assignment(&request, &format!("officer-{w}-{i}"), fr, at(100 + i));
                    request = store.save_change(request.version, change, None).await.expect("stored");
                }
            }
        }))
        .await;
        done.store(true, Ordering::SeqCst);
    };
    let follower = async {
        // The feed as staff follow it (the verifier reads past the feed's horizon).
        let staff = EventReader::Scope(Scope::Ncijc);
        let mut seen = Vec::new();
        let mut cursor = 0;
        loop {
            // Read the flag first: if the writers were done before this page was read, an empty page
            // means the follower has everything.
            let finished = done.load(Ordering::SeqCst);
            let page = store.events_after(&staff, cursor, 1000).await.expect("read");
            if let Some(last) = page.last() {
                cursor = last.cursor;
            }
            let empty = page.is_empty();
            seen.extend(page.into_iter().map(|e| e.cursor));
            if finished && empty {
                break seen;
            }
            tokio::task::yield_now().await;
        }
    };
    let ((), seen) = futures::join!(writers, follower);
    let feed: Vec<i64> = all_events(store).await.iter().map(|e| e.cursor).collect();
    assert_eq!(feed.len(), 8 + 8 * 15);
    assert_eq!(seen, feed, "the follower missed an event committed after a larger cursor");
    assert!(verify_audit(store).await.expect("read").is_ok());
}

/// An event rewritten behind the store's back: the database refuses a plain UPDATE; once the guard
/// is switched off on purpose and the event rewritten, the verifier names that request and event.
pub async fn tampered_event_is_named(store: &dyn Store, tamper: &dyn Tamper) {
    let fr = register_partner(store, "FR-MOJ").await;
    let other = create(store, outgoing(&fr, sample_content("Untouched"), at(0))).await;
    let draft = create(store, outgoing(&fr, sample_content("Tampered"), at(1))).await;
    let submitted = act(store, &draft, command(Action::Submit), &judge(), &fr, at(2)).await;
    let withdraw = Command { reason: long("Withdrawn by the prosecutor"), ..Command::new(Action::Withdraw) };
    act(store, &submitted, withdraw, &judge(), &fr, at(3)).await;
    act(store, &other, command(Action::Submit), &judge(), &fr, at(4)).await;
    assert!(verify_audit(store).await.expect("read").is_ok());

    let target =
        events_of(store, draft.id).await.into_iter().find(|e| e.seq == 3).expect("the withdrawal event");
    assert_eq!(target.action, "WITHDRAW");
    let forged = r#"{"reason":"Withdrawn at the partner's request"}"#;
    let rewrite = format!("UPDATE events SET details = {} WHERE cursor = {}", literal(forged), target.cursor);
    let message = tamper.execute(&rewrite).await.expect_err("the database let an audit event be rewritten");
    assert!(message.contains("append-only"), "unexpected refusal: {message}");
    assert_eq!(events_of(store, draft.id).await[2], target, "the refused UPDATE changed the event");

    assert_eq!(tamper.force(&rewrite).await, 1);
    assert_eq!(events_of(store, draft.id).await[2].details, forged, "the rewrite did not happen");
    let findings = verify_audit(store).await.expect("read").expect_err("the verifier missed the rewrite");
    let [AuditFinding::BrokenLink(broken)] = findings.as_slice() else {
        panic!("expected one broken link, got {findings:?}");
    };
    assert_eq!((broken.request_id, broken.seq, broken.cursor), (draft.id, 3, target.cursor));
    assert!(broken.problem.contains("altered"), "{}", broken.problem);
}

/// A request with a short trail and one finished: the audit is sound before anyone tampers.
async fn audited_pair(store: &dyn Store) -> (Request, Request) {
    let fr = register_partner(store, "FR-MOJ").await;
    let other = create(store, outgoing(&fr, sample_content("Untouched"), at(0))).await;
    let draft = create(store, outgoing(&fr, sample_content("Tampered"), at(1))).await;
    let submitted = act(store, &draft, command(Action::Submit), &judge(), &fr, at(2)).await;
    let withdraw = Command { reason: long("Withdrawn by the prosecutor"), ..Command::new(Action::Withdraw) };
    let withdrawn = act(store, &submitted, withdraw, &judge(), &fr, at(3)).await;
    assert!(verify_audit(store).await.expect("read").is_ok());
    (other, withdrawn)
}

/// The one finding the verifier reports after a tampering, with its message for the operator.
async fn only_finding(store: &dyn Store) -> (AuditFinding, String) {
    let findings = verify_audit(store).await.expect("read").expect_err("the verifier missed the tampering");
    let [finding] = findings.as_slice() else { panic!("expected one finding, got {findings:?}") };
    (finding.clone(), finding.to_string())
}

/// The last events of a request deleted (the append-only guard switched off first): every remaining
/// link still holds, but the chain no longer reaches the row's version.
pub async fn truncated_chain_is_named(store: &dyn Store, tamper: &dyn Tamper) {
    let (_, withdrawn) = audited_pair(store).await;
    assert_eq!(withdrawn.version, 3);
    let delete =
        format!("DELETE FROM events WHERE request_id = {} AND seq >= 2", literal(&withdrawn.id.to_string()));
    assert_eq!(tamper.force(&delete).await, 2);
    assert_eq!(events_of(store, withdrawn.id).await.len(), 1, "the events were not deleted");
    let (finding, message) = only_finding(store).await;
    assert_eq!(finding, AuditFinding::EventsMissing { request_id: withdrawn.id, events: 1, version: 3 });
    assert!(message.contains(&withdrawn.id.to_string()) && message.contains("missing"), "{message}");
}

/// The row's state written directly: the chain is whole, but it does not lead where the row says.
pub async fn state_written_outside_the_lifecycle_is_named(store: &dyn Store, tamper: &dyn Tamper) {
    let (_, withdrawn) = audited_pair(store).await;
    let write =
        format!("UPDATE requests SET state = 'EXECUTED' WHERE id = {}", literal(&withdrawn.id.to_string()));
    assert_eq!(tamper.execute(&write).await, Ok(1), "no guard stands in the way of a row's state");
    let stored = store.get_request(withdrawn.id).await.expect("read").expect("the request");
    assert_eq!(stored.state, State::Executed, "the state was not written");
    let (finding, message) = only_finding(store).await;
    assert_eq!(
        finding,
        AuditFinding::StateMismatch {
            request_id: withdrawn.id,
            row: State::Executed,
            chain: State::Withdrawn
        }
    );
    assert!(message.contains("EXECUTED") && message.contains("WITHDRAWN"), "{message}");
}

/// Every event of a request deleted: a row remains with no trail at all.
pub async fn request_without_events_is_named(store: &dyn Store, tamper: &dyn Tamper) {
    let (_, withdrawn) = audited_pair(store).await;
    let delete = format!("DELETE FROM events WHERE request_id = {}", literal(&withdrawn.id.to_string()));
    assert_eq!(tamper.force(&delete).await, 3);
    assert!(events_of(store, withdrawn.id).await.is_empty(), "the events were not deleted");
    let (finding, message) = only_finding(store).await;
    assert_eq!(finding, AuditFinding::RequestWithoutEvents { request_id: withdrawn.id, version: 3 });
    assert!(message.contains(&withdrawn.id.to_string()), "{message}");
}

/// A request's row deleted (its foreign key switched off first): its events remain with no request.
pub async fn events_without_request_are_named(store: &dyn Store, tamper: &dyn Tamper) {
    let (_, withdrawn) = audited_pair(store).await;
    let delete = format!("DELETE FROM requests WHERE id = {}", literal(&withdrawn.id.to_string()));
    assert_eq!(tamper.force(&delete).await, 1);
    assert_eq!(store.get_request(withdrawn.id).await.expect("read"), None, "the row was not deleted");
    let (finding, message) = only_finding(store).await;
    assert_eq!(finding, AuditFinding::EventsWithoutRequest { request_id: withdrawn.id, events: 3 });
    assert!(message.contains("no such request"), "{message}");
}

// ---------------------------------------------------------------------------------------------------
// Text, signals, partners, health.

/// Text in every stored field comes back byte for byte: SQL fragments, quotes, backslashes,
/// right-to-left Arabic and Kurdish, emoji, combining marks, zero-width joiners.
pub async fn hostile_strings_round_trip(store: &dyn Store) {
    let hostile = [
        "Robert'); DROP TABLE requests;--",
        "1' OR '1'='1' /* */ UNION SELECT * FROM partners; --",
        r#"\"quoted\" \\ back\slash % _ ^ $ {json: "x"}"#,
        "طلب مساعدة قانونية متبادلة — المادة ٤٦",
        "داواکاری یارمەتیی یاسایی هاوبەش",
        "\u{200f}RTL mark \u{200e}LTR mark \u{202e}override\u{202c}",
        "emoji 🕵️‍♀️ 👨‍⚖️ 🇮🇶 and e\u{301}\u{302}",
        "NULL",
        "",
    ];
    let mut partner = sample_partner("IQ-NCIJC-TEST", hostile[0]);
    partner.legal_bases = hostile.iter().map(|s| short(s)).collect();
    partner.name = short(hostile[3]);
    let partner = store.create_partner(partner, None).await.expect("stored");
    assert_eq!(store.get_partner(&partner.code).await.expect("read"), Some(partner.clone()));

    for (i, text) in hostile.iter().enumerate() {
        let content = RequestContent {
            title: short(text),
            requesting_authority: short(hostile[(i + 1) % hostile.len()]),
            partner_reference: short(hostile[(i + 2) % hostile.len()]),
            summary_of_facts: long(&format!("{text}\n\t{}", hostile[(i + 3) % hostile.len()])),
            offences: hostile.iter().map(|s| short(s)).collect(),
            persons: vec![Person {
                name: short(text),
                role: PersonRole::Witness,
                nationality: short(hostile[4]),
                protected: true,
                salt: String::new(),
            }],
            ..sample_content(text)
        };
        let draft = create(store, outgoing(&partner, content, at(i as i64))).await;
        assert_eq!(store.get_request(draft.id).await.expect("read"), Some(draft.clone()), "title {text:?}");
        let assigned = store
            .save_change(draft.version, assignment(&draft, text, &partner, at(100)), None)
            .await
            .expect("stored");
        let withdraw = Command { reason: long(text), ..Command::new(Action::Withdraw) };
        let withdraw = if text.trim().is_empty() { command(Action::Withdraw) } else { withdraw };
        let withdrawn = act(store, &assigned, withdraw, &judge(), &partner, at(200)).await;
        assert_eq!(store.get_request(draft.id).await.expect("read"), Some(withdrawn));
        let query = RequestQuery { assignee: Some((*text).to_owned()), ..staff_query(50) };
        assert!(ids(&list(store, &query).await).contains(&draft.id), "assignee {text:?}");
        if !text.is_empty() {
            let query = RequestQuery { text: Some((*text).to_owned()), ..staff_query(50) };
            assert!(ids(&list(store, &query).await).contains(&draft.id), "text {text:?}");
        }
        let trail = events_of(store, draft.id).await;
        if !text.trim().is_empty() {
            let details: serde_json::Value = serde_json::from_str(&trail[2].details).expect("JSON details");
            assert_eq!(details["reason"].as_str(), Some(*text));
        }
    }
    let key = idempotency(hostile[0], hostile[5], hostile[6]);
    let created = store
        .create_request(outgoing(&partner, sample_content("Keyed"), at(300)), Some(&key))
        .await
        .expect("stored");
    let replayed = store.replay(&key).await.expect("read").expect("recorded");
    assert_eq!(serde_json::from_value::<Request>(replayed).expect("a request"), created);
    assert!(verify_audit(store).await.expect("read").is_ok(), "hashes over hostile details still verify");
}

/// The signal carries the newest committed cursor and wakes a watcher after a write.
pub async fn event_signal_advances_after_a_write(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let mut signal = store.event_signal();
    assert_eq!(*signal.borrow_and_update(), 0, "an empty store signals cursor 0");
    let draft = create(store, outgoing(&fr, sample_content("Signalled"), at(0))).await;
    let newest = all_events(store).await.last().expect("one event").cursor;
    let woken =
        tokio::time::timeout(StdDuration::from_secs(10), signal.wait_for(|cursor| *cursor >= newest)).await;
    assert_eq!(*woken.expect("the signal did not advance").expect("the signal is open"), newest);
    act(store, &draft, command(Action::Submit), &judge(), &fr, at(1)).await;
    let newest = all_events(store).await.last().expect("two events").cursor;
    tokio::time::timeout(StdDuration::from_secs(10), signal.changed())
        .await
        .expect("the signal did not wake the watcher")
        .expect("the signal is open");
    let woken =
        tokio::time::timeout(StdDuration::from_secs(10), signal.wait_for(|cursor| *cursor >= newest)).await;
    assert_eq!(*woken.expect("the signal did not advance").expect("the signal is open"), newest);
    let late_subscriber = store.event_signal();
    assert_eq!(*late_subscriber.borrow(), newest, "a new watcher starts from the newest cursor");
}

pub async fn partners_round_trip_and_update(store: &dyn Store) {
    let mut un = sample_partner("UN-IIIM", "UN Investigative Mechanism for Iraq");
    un.country = String::new();
    un.kind = PartnerKind::InternationalMechanism;
    un.legal_bases = vec![short("UNSC res. 2379")];
    let created = store.create_partner(un.clone(), None).await.expect("stored");
    assert_eq!(created, un);
    assert_eq!(store.get_partner(&un.code).await.expect("read"), Some(created.clone()));

    let changed = Partner { name: short("UNITAD"), active: false, update_time: at(60), ..created.clone() };
    let updated = store.update_partner(changed.clone(), created.version, None).await.expect("stored");
    assert_eq!(updated, Partner { version: 2, ..changed });
    assert_eq!(store.get_partner(&un.code).await.expect("read"), Some(updated.clone()));
    assert!(
        store.list_partners(false, None, 10).await.expect("read").is_empty(),
        "an inactive partner is listed"
    );
    assert_eq!(store.list_partners(true, None, 10).await.expect("read"), [updated]);

    let unknown = sample_partner("XX-NONE", "Nobody");
    let result = store.update_partner(unknown, 1, None).await;
    assert!(matches!(result, Err(StoreError::NotFound)), "got {result:?}");
}

pub async fn duplicate_partner_already_exists(store: &dyn Store) {
    let first = register_partner(store, "FR-MOJ").await;
    let result = store.create_partner(sample_partner("FR-MOJ", "Another name"), None).await;
    assert!(matches!(result, Err(StoreError::AlreadyExists)), "got {result:?}");
    assert_eq!(store.get_partner(&first.code).await.expect("read"), Some(first));
}

pub async fn stale_partner_version_conflicts(store: &dyn Store) {
    let v1 = register_partner(store, "FR-MOJ").await;
    let v2 = store
        .update_partner(Partner { name: short("Ministère de la Justice"), ..v1.clone() }, 1, None)
        .await
        .expect("stored");
    let stale = store.update_partner(Partner { active: false, ..v1.clone() }, 1, None).await;
    assert!(matches!(stale, Err(StoreError::VersionConflict { current: 2 })), "got {stale:?}");
    assert_eq!(store.get_partner(&v1.code).await.expect("read"), Some(v2));
}

pub async fn unknown_partner_is_none(store: &dyn Store) {
    register_partner(store, "FR-MOJ").await;
    assert_eq!(store.get_partner(&code("DE-BJ")).await.expect("read"), None);
    assert_eq!(store.get_partner(&code("FR-MO")).await.expect("read"), None, "codes match exactly");
}

/// Partners list in code order (byte order, the same in every backend), a page after a code, the
/// inactive ones only when asked.
pub async fn partner_list_pages_in_code_order(store: &dyn Store) {
    let codes = ["UN-IIIM", "FR-MOJ", "DE-BJ", "FRA", "FR-MOJ2", "EUROJUST", "AA", "Z9"];
    for (i, c) in codes.iter().enumerate() {
        let mut partner = sample_partner(c, &format!("Partner {c}"));
        partner.active = i % 3 != 2;
        store.create_partner(partner, None).await.expect("stored");
    }
    let mut sorted: Vec<&str> = codes.to_vec();
    sorted.sort_unstable();
    let all: Vec<String> = store
        .list_partners(true, None, 100)
        .await
        .expect("read")
        .iter()
        .map(|p| p.code.to_string())
        .collect();
    assert_eq!(all, sorted);
    let active: Vec<&str> = sorted
        .iter()
        .copied()
        .filter(|c| codes.iter().position(|x| x == c).is_some_and(|i| i % 3 != 2))
        .collect();
    let mut paged = Vec::new();
    let mut after: Option<PartnerCode> = None;
    loop {
        let page = store.list_partners(false, after.as_ref(), 2).await.expect("read");
        let Some(last) = page.last() else { break };
        assert!(page.iter().all(|p| p.active));
        after = Some(last.code.clone());
        paged.extend(page.iter().map(|p| p.code.to_string()));
    }
    assert_eq!(paged, active);
}

pub async fn idempotent_partner_writes(store: &dyn Store) {
    let key = idempotency("admin.rana", "partner-create-1", "fp-fr");
    let attempts =
        join_all((0..5).map(|_| store.create_partner(sample_partner("FR-MOJ", "Ministry"), Some(&key))))
            .await;
    let created: Vec<Partner> = attempts.into_iter().map(|r| r.expect("every retry succeeds")).collect();
    assert!(created.iter().all(|p| *p == created[0]));
    let mismatch = idempotency("admin.rana", "partner-create-1", "fp-de");
    let result = store.create_partner(sample_partner("DE-BJ", "Ministry"), Some(&mismatch)).await;
    assert!(matches!(result, Err(StoreError::IdempotencyMismatch)), "got {result:?}");
    assert_eq!(store.get_partner(&code("DE-BJ")).await.expect("read"), None);

    let update_key = idempotency("admin.rana", "partner-update-1", "fp-rename");
    let rename = Partner { name: short("Ministry of Justice"), ..created[0].clone() };
    let first = store.update_partner(rename.clone(), 1, Some(&update_key)).await.expect("stored");
    let again = store.update_partner(rename, 1, Some(&update_key)).await.expect("replayed");
    assert_eq!((first.version, again), (2, first.clone()));
    assert_eq!(store.get_partner(&first.code).await.expect("read"), Some(first));
}

pub async fn ping_answers(store: &dyn Store) {
    store.ping().await.expect("the database answers");
}

// ---------------------------------------------------------------------------------------------------
// Documents: custody writes, the reader's side in the query, and the content stores.

/// A document `by` adds to `request`, decided by the domain, with its custody event.
fn added_document(
    request: &Request,
    kind: DocumentKind,
    audience: Audience,
    by: &Principal,
    now: Timestamp,
) -> (Document, EventDraft) {
    let new = NewDocument {
        kind,
        title: short("Statement of witness W-17"),
        file_name: document::file_name("إفادة «W-17».pdf").expect("a file name"),
        media_type: "application/pdf".into(),
        language: "ar".into(),
        translation_of: None,
        audience,
    };
    let received = Received {
        sha256: Sha256::from_bytes([kind as u8; 32]),
        size_bytes: 1234,
        detected_media_type: "application/pdf".into(),
    };
    let id = DocumentId::from_uuid(uuid::Uuid::now_v7());
    document::add(request, id, new, received, None, by, now).expect("the domain accepts the document")
}

async fn save_document(store: &dyn Store, request: &Request, added: (Document, EventDraft)) -> Document {
    let (document, event) = added;
    let stored =
        store.save_custody(request, vec![document], event, None).await.expect("the document is stored");
    stored.into_iter().next().expect("one document")
}

async fn head_of(store: &dyn Store, id: RequestId) -> crate::RequestHead {
    let heads = store.request_heads(None, 1000).await.expect("the heads are read");
    heads.into_iter().find(|head| head.id == id).expect("the request has a head")
}

/// A document reads back exactly as stored; its custody event is chained with the request's events,
/// counted on the row beside the version (which custody leaves alone), and the audit holds.
pub async fn documents_round_trip_and_custody_leaves_the_version(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let request = received_incoming(store, &fr, "With documents", at(10)).await;
    let letter = added_document(
        &request,
        DocumentKind::LetterOfRequest,
        Audience::Shared,
        &partner_system(&fr),
        at(11),
    );
    let stored = save_document(store, &request, letter.clone()).await;
    assert_eq!(stored, letter.0);
    assert_eq!(store.get_document(stored.id).await.expect("read"), Some(letter.0.clone()));
    assert_eq!(store.get_document(DocumentId::from_uuid(uuid::Uuid::now_v7())).await.expect("read"), None);

    let after = store.get_request(request.id).await.expect("read").expect("the request");
    assert_eq!(after, request, "custody changes nothing of the request, its version included");
    let head = head_of(store, request.id).await;
    assert_eq!((head.version, head.custody_events), (request.version, 1));
    let trail = events_of(store, request.id).await;
    let last = trail.last().expect("events");
    assert_eq!((last.seq, last.action.as_str()), (request.version + 1, document::DOCUMENT_ADDED));
    assert!(last.details.contains(letter.0.sha256.as_str()));
    let report = verify_audit(store).await.expect("read").expect("the trail is sound");
    assert_eq!(report.events, trail.len());
}

/// Each side lists what it may see, filtered in the query: the NCIJC (the requested side of an
/// INCOMING request) sees everything; the partner its own and the shared documents not withheld,
/// and released evidence once its release is stored.
pub async fn documents_are_listed_to_the_sides_that_may_see_them(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let request = received_incoming(store, &fr, "Listed", at(10)).await;
    let partner = partner_system(&fr);
    let officer = Principal::staff("officer.huda", [Role::EvidenceOfficer]).expect("a valid principal");
    let letter = save_document(
        store,
        &request,
        added_document(&request, DocumentKind::LetterOfRequest, Audience::Shared, &partner, at(11)),
    )
    .await;
    let note = save_document(
        store,
        &request,
        added_document(&request, DocumentKind::Other, Audience::Internal, &registrar(), at(12)),
    )
    .await;
    let evidence = save_document(
        store,
        &request,
        added_document(&request, DocumentKind::Evidence, Audience::Shared, &officer, at(13)),
    )
    .await;
    assert_eq!(evidence.release_state, ReleaseState::Withheld);
    let listed = |side: Side| async move {
        let documents = store.list_documents(request.id, side, None, 100).await.expect("listed");
        documents.into_iter().map(|d| d.id).collect::<Vec<_>>()
    };
    assert_eq!(listed(Side::Requested).await, [letter.id, note.id, evidence.id]);
    assert_eq!(listed(Side::Requesting).await, [letter.id]);
    let page = store.list_documents(request.id, Side::Requested, Some(letter.id), 1).await.expect("listed");
    assert_eq!(page.iter().map(|d| d.id).collect::<Vec<_>>(), [note.id]);

    // The release rewrites what a release may change, and nothing else.
    let released = Document {
        release_state: ReleaseState::Released,
        use_restrictions: vec!["Use only in proceedings 17/2026".into()],
        title: short("A title a release may not change"),
        ..evidence.clone()
    };
    let event = mla_domain::audit::EventDraft {
        time: at(14),
        actor: mla_domain::audit::Actor::of(&judge()),
        action: document::DOCUMENTS_RELEASED.into(),
        from_state: Some(request.state),
        to_state: request.state,
        details: serde_json::json!({ "documents": [released.id] }),
        audience: mla_domain::audit::Audience::of(&request, false),
    };
    store.save_custody(&request, vec![released], event, None).await.expect("the release is stored");
    assert_eq!(listed(Side::Requesting).await, [letter.id, evidence.id]);
    let stored = store.get_document(evidence.id).await.expect("read").expect("the document");
    assert_eq!(stored.release_state, ReleaseState::Released);
    assert_eq!(stored.use_restrictions, ["Use only in proceedings 17/2026"]);
    assert_eq!(stored.title, evidence.title, "a release changes the release state and restrictions only");
    assert!(verify_audit(store).await.expect("read").is_ok());
}

/// A custody write decided on a version the request has left stores nothing.
pub async fn stale_custody_changes_nothing(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let request = received_incoming(store, &fr, "Stale custody", at(10)).await;
    let (document, event) =
        added_document(&request, DocumentKind::Other, Audience::Shared, &partner_system(&fr), at(11));
    store
        .save_change(request.version, assignment(&request, "huda", &fr, at(11)), None)
        .await
        .expect("stored");
    let stale = store.save_custody(&request, vec![document.clone()], event, None).await;
    assert!(matches!(stale, Err(StoreError::VersionConflict { current }) if current == request.version + 1));
    assert_eq!(store.get_document(document.id).await.expect("read"), None);
    assert_eq!(head_of(store, request.id).await.custody_events, 0);
    assert!(verify_audit(store).await.expect("read").is_ok());
}

/// A custody event removed from the end of a chain: the changes still match the version, but the row
/// counted one custody event more.
pub async fn removed_custody_event_is_named(store: &dyn Store, tamper: &dyn Tamper) {
    let fr = register_partner(store, "FR-MOJ").await;
    let request = received_incoming(store, &fr, "Custody removed", at(10)).await;
    let added = added_document(&request, DocumentKind::Other, Audience::Shared, &partner_system(&fr), at(11));
    save_document(store, &request, added).await;
    let delete = format!(
        "DELETE FROM events WHERE request_id = {} AND action = 'DOCUMENT_ADDED'",
        literal(&request.id.to_string())
    );
    assert_eq!(tamper.force(&delete).await, 1);
    let (finding, message) = only_finding(store).await;
    assert_eq!(
        finding,
        AuditFinding::CustodyEventsMismatch { request_id: request.id, events: 0, recorded: 1 }
    );
    assert!(message.contains("custody"), "{message}");
}

async fn read_all(content: &dyn ContentStore, sha256: &Sha256, offset: u64) -> Option<Vec<u8>> {
    let mut stream = content.read(sha256, offset).await.expect("the content store answers")?;
    let mut bytes = Vec::new();
    while let Some(piece) = stream.next().await {
        bytes.extend_from_slice(&piece.expect("a piece"));
    }
    Some(bytes)
}

fn digest_of(bytes: &[u8]) -> Sha256 {
    use sha2::Digest as _;
    Sha256::from_bytes(sha2::Sha256::digest(bytes).into())
}

/// Content reads back whole or from any offset, across the store's own chunk boundaries; the same
/// content committed twice is stored once and reads the same.
pub async fn content_is_stored_once_and_read_from_any_offset(content: &dyn ContentStore) {
    let bytes: Vec<u8> = (0..(2 * 1024 * 1024 + 4321)).map(|i| (i % 251) as u8).collect();
    let sha256 = digest_of(&bytes);
    assert!(read_all(content, &sha256, 0).await.is_none(), "nothing before the commit");
    for _ in 0..2 {
        let mut writer = content.writer().await.expect("a writer");
        for piece in bytes.chunks(300_000) {
            writer.write(piece).await.expect("written");
        }
        writer.commit(&sha256).await.expect("committed");
    }
    assert_eq!(read_all(content, &sha256, 0).await.as_deref(), Some(&bytes[..]));
    for offset in [1, 1024 * 1024, 1024 * 1024 + 1, bytes.len() as u64 - 1, bytes.len() as u64] {
        let tail = read_all(content, &sha256, offset).await.expect("stored");
        assert_eq!(tail, bytes[offset as usize..], "from offset {offset}");
    }
    let empty = digest_of(b"");
    content.writer().await.expect("a writer").commit(&empty).await.expect("committed");
    assert_eq!(read_all(content, &empty, 0).await, Some(Vec::new()));
}

/// A writer dropped before its commit (a broken upload) leaves nothing a reader could find.
pub async fn unfinished_content_is_never_visible(content: &dyn ContentStore) {
    let bytes = b"the beginning of a long file".to_vec();
    let sha256 = digest_of(&bytes);
    let mut writer = content.writer().await.expect("a writer");
    writer.write(&bytes).await.expect("written");
    drop(writer);
    assert!(read_all(content, &sha256, 0).await.is_none());
}

/// An upload session's partial content: what a writer synced is there for the next writer of the
/// session (the first one dropped, as a broken call drops it), reads back from its start, commits as
/// content like any other, and is gone once discarded; discarding after the commit keeps the content.
pub async fn an_upload_sessions_content_outlives_its_writers(content: &dyn ContentStore) {
    let bytes: Vec<u8> = (0..(1024 * 1024 + 77_777)).map(|i| (i % 253) as u8).collect();
    let (first, rest) = bytes.split_at(1024 * 1024 + 1000);
    let session = uuid::Uuid::now_v7();
    let mut writer = content.resume(session).await.expect("a writer");
    assert_eq!(writer.size(), 0, "a new session holds nothing");
    writer.write(first).await.expect("written");
    writer.sync().await.expect("synced");
    drop(writer);

    let mut writer = content.resume(session).await.expect("the session goes on");
    assert_eq!(writer.size(), first.len() as u64, "what was synced is the offset");
    let mut partial = Vec::new();
    let mut pieces = content.read_partial(session).await.expect("readable");
    while let Some(piece) = pieces.next().await {
        partial.extend_from_slice(&piece.expect("a piece"));
    }
    assert_eq!(partial, first);
    writer.write(rest).await.expect("written");
    assert_eq!(writer.size(), bytes.len() as u64);
    let sha256 = digest_of(&bytes);
    writer.commit(&sha256).await.expect("committed");
    content.discard(session).await.expect("discarded");
    assert_eq!(read_all(content, &sha256, 0).await.as_deref(), Some(&bytes[..]), "the content stays");

    let abandoned = uuid::Uuid::now_v7();
    let mut writer = content.resume(abandoned).await.expect("a writer");
    writer.write(b"half of a phone extraction").await.expect("written");
    writer.sync().await.expect("synced");
    drop(writer);
    content.discard(abandoned).await.expect("discarded");
    assert_eq!(content.resume(abandoned).await.expect("a writer").size(), 0, "nothing is left");
}

/// Upload sessions read back as recorded; a retry under the same idempotency key replays the first
/// session; they are listed once expired, oldest first, and deleted.
pub async fn upload_sessions_are_kept_replayed_and_expire(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let request = received_incoming(store, &fr, "With a large annex", at(10)).await;
    let (document, _) =
        added_document(&request, DocumentKind::Evidence, Audience::Shared, &partner_system(&fr), at(11));
    let session = |minutes: i64| UploadSession {
        id: uuid::Uuid::now_v7(),
        request_id: request.id,
        owner: r#"["partner","FR-MOJ","fr-system"]"#.into(),
        document: NewDocument {
            kind: document.kind,
            title: document.title.clone(),
            file_name: document.file_name.clone(),
            media_type: document.media_type.clone(),
            language: document.language.clone(),
            translation_of: None,
            audience: document.audience,
        },
        expected_sha256: Some(Sha256::from_bytes([7; 32])),
        size_bytes: 5 * 1024 * 1024 * 1024,
        create_time: at(12),
        expire_time: at(12) + Duration::minutes(minutes),
    };
    let key = idempotency(r#"["partner","FR-MOJ","fr-system"]"#, "annex-1", "start");
    let first = store.create_upload(session(60), Some(&key)).await.expect("recorded");
    let retried = store.create_upload(session(60), Some(&key)).await.expect("replayed");
    assert_eq!(retried, first, "the retry gets the first session");
    assert_eq!(store.get_upload(first.id).await.expect("read"), Some(first.clone()));
    assert_eq!(store.get_upload(retried.id).await.expect("read").map(|s| s.id), Some(first.id));
    let later = store.create_upload(session(120), None).await.expect("recorded");
    let unkeyed = UploadSession { expected_sha256: None, ..session(180) };
    let unkeyed = store.create_upload(unkeyed, None).await.expect("recorded");
    assert_eq!(store.get_upload(unkeyed.id).await.expect("read"), Some(unkeyed.clone()));

    assert!(store.expired_uploads(first.expire_time, 10).await.expect("read").is_empty());
    let expired = store.expired_uploads(later.expire_time + Duration::seconds(1), 10).await.expect("read");
    assert_eq!(expired, vec![first.id, later.id], "expired ones, oldest first");
    assert_eq!(store.expired_uploads(at(10_000), 1).await.expect("read"), vec![first.id], "a limit");
    store.delete_upload(first.id).await.expect("deleted");
    assert_eq!(store.get_upload(first.id).await.expect("read"), None);
    assert_eq!(store.get_upload(uuid::Uuid::now_v7()).await.expect("read"), None);
}

// Correspondence and the paper channel: messages beside the version, each side's thread filtered in
// the query, read receipts, and what a registration from paper stores.

/// A message `by` posts on `request`, decided by the domain, with its event.
fn posted(
    request: &Request,
    audience: Audience,
    body: &str,
    by: &Principal,
    now: Timestamp,
) -> (Message, EventDraft) {
    let new = NewMessage { audience, body: long(body), attachment_ids: Vec::new() };
    let id = MessageId::from_uuid(uuid::Uuid::now_v7());
    correspondence::post(request, id, new, &[], by, now).expect("the domain accepts the message")
}

async fn save_message(store: &dyn Store, request: &Request, posted: (Message, EventDraft)) -> Message {
    store.save_message(request, posted.0, posted.1, None).await.expect("the message is stored")
}

async fn thread(
    store: &dyn Store,
    id: RequestId,
    side: Side,
    after: Option<MessageId>,
    limit: u32,
) -> Vec<MessageId> {
    let messages = store.list_messages(id, side, after, limit).await.expect("listed");
    messages.into_iter().map(|m| m.id).collect()
}

/// Messages read back byte for byte; the partner's side lists the shared ones, the NCIJC all of
/// them; each is an event counted beside the version, which stays, and the audit holds.
pub async fn messages_round_trip_and_are_listed_to_their_sides(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let request = received_incoming(store, &fr, "Correspondence", at(10)).await;
    let question =
        posted(&request, Audience::Shared, "يرجى توضيح أرقام الحسابات.\nشكراً", &registrar(), at(11));
    let question = save_message(store, &request, question).await;
    let note = save_message(
        store,
        &request,
        posted(&request, Audience::Internal, "تێبینی ناوخۆیی", &judge(), at(12)),
    )
    .await;
    let answer = posted(
        &request,
        Audience::Shared,
        "Comptes n\u{b0} 1 et 2.\tCordialement",
        &partner_system(&fr),
        at(13),
    );
    let answer = save_message(store, &request, answer).await;
    for message in [&question, &note, &answer] {
        assert_eq!(store.get_message(message.id).await.expect("read").as_ref(), Some(message));
    }
    assert_eq!(store.get_message(MessageId::from_uuid(uuid::Uuid::now_v7())).await.expect("read"), None);
    assert_eq!(
        thread(store, request.id, Side::Requested, None, 100).await,
        [question.id, note.id, answer.id]
    );
    assert_eq!(thread(store, request.id, Side::Requesting, None, 100).await, [question.id, answer.id]);
    assert_eq!(thread(store, request.id, Side::Requested, Some(question.id), 1).await, [note.id]);
    assert_eq!(thread(store, request.id, Side::Requesting, Some(question.id), 1).await, [answer.id]);

    assert_eq!(store.get_request(request.id).await.expect("read"), Some(request.clone()));
    assert_eq!(head_of(store, request.id).await.custody_events, 3);
    let partner_reader = EventReader::Scope(Scope::of(&partner_system(&fr)));
    let seen = store.request_events(request.id, &partner_reader, 0, 100).await.expect("read");
    let posted: Vec<_> = seen.iter().filter(|e| e.action == correspondence::MESSAGE_POSTED).collect();
    assert_eq!(posted.len(), 2, "the partner's events leave the internal note out, in the query");
    let report = verify_audit(store).await.expect("read").expect("the trail is sound");
    assert_eq!(report.events, events_of(store, request.id).await.len());
}

/// A read receipt stamps the messages not read before with its event's time, once.
pub async fn read_receipts_stamp_unread_messages_once(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let request = received_incoming(store, &fr, "Receipts", at(10)).await;
    let first =
        save_message(store, &request, posted(&request, Audience::Shared, "One", &registrar(), at(11))).await;
    let second =
        save_message(store, &request, posted(&request, Audience::Shared, "Two", &registrar(), at(12))).await;
    let france = partner_system(&fr);
    let (ids, event) =
        correspondence::mark_read(&request, &first, std::slice::from_ref(&first), &france, at(13))
            .expect("the domain accepts the receipt")
            .expect("something was read");
    store.save_read_receipt(&request, ids, event).await.expect("stored");
    let read = |id| async move { store.get_message(id).await.expect("read").expect("the message").read_time };
    assert_eq!((read(first.id).await, read(second.id).await), (Some(at(13)), None));
    // A later receipt naming both stamps only the one still unread.
    let (ids, event) =
        correspondence::mark_read(&request, &second, std::slice::from_ref(&second), &france, at(14))
            .expect("the domain accepts the receipt")
            .expect("something was read");
    let mut both = ids;
    both.push(first.id);
    store.save_read_receipt(&request, both, event).await.expect("stored");
    assert_eq!((read(first.id).await, read(second.id).await), (Some(at(13)), Some(at(14))));
    assert_eq!(head_of(store, request.id).await.custody_events, 4);
    assert!(verify_audit(store).await.expect("read").is_ok());
}

/// Correspondence decided on a version the request has left stores nothing.
pub async fn stale_correspondence_changes_nothing(store: &dyn Store) {
    let fr = register_partner(store, "FR-MOJ").await;
    let request = received_incoming(store, &fr, "Stale message", at(10)).await;
    let (message, event) = posted(&request, Audience::Shared, "Late", &registrar(), at(11));
    store
        .save_change(request.version, assignment(&request, "huda", &fr, at(11)), None)
        .await
        .expect("stored");
    let stale = store.save_message(&request, message.clone(), event, None).await;
    assert!(matches!(stale, Err(StoreError::VersionConflict { current }) if current == request.version + 1));
    assert_eq!(store.get_message(message.id).await.expect("read"), None);
    assert_eq!(head_of(store, request.id).await.custody_events, 0);
    assert!(verify_audit(store).await.expect("read").is_ok());
}

/// A request registered from a paper partner's letter is stored SUBMITTED with its submit time, its
/// partner's channel and its event's partner acted for read back, and the audit holds.
pub async fn requests_registered_from_paper_round_trip(store: &dyn Store) {
    let jo = store
        .create_partner(Partner { channel: Channel::Paper, ..sample_partner("JO-MOJ", "وزارة العدل") }, None)
        .await
        .expect("registered");
    assert_eq!(store.get_partner(&jo.code).await.expect("read").map(|p| p.channel), Some(Channel::Paper));
    let record = PaperRecord {
        on_behalf_of: Some(jo.code.clone()),
        received_via: Some(ReceivedVia::DiplomaticNote),
        effective_time: Some(at(5)),
        letter_reference: short("NV 117/2026"),
        letter_document_id: None,
    };
    let ctx = Context { record: Some(&record), ..context(at(10), &jo) };
    let new = mla_domain::create(request_id(), None, sample_content("On paper"), &registrar(), &ctx)
        .expect("the domain accepts the registration");
    let stored = create(store, new).await;
    assert_eq!((stored.state, stored.direction), (State::Submitted, Direction::Incoming));
    assert_eq!((stored.create_time, stored.submit_time), (at(5), Some(at(5))));
    assert_eq!(store.get_request(stored.id).await.expect("read"), Some(stored.clone()));
    let trail = events_of(store, stored.id).await;
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].actor.on_behalf_of.as_deref(), Some("JO-MOJ"));
    assert_eq!(trail[0].actor.subject, "registrar.karim");
    assert_eq!(trail[0].time, at(5));
    assert!(verify_audit(store).await.expect("read").is_ok());
}
