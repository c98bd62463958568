//! Every request message of RequestService, PartnerService, DocumentService and StatisticsService:
//! arbitrary bytes decoded as the message (the first byte picks which, see `mla_fuzz::MESSAGES`), then parsed the
//! way its RPC parses it before the application is called, with the functions of
//! `mla_grpc::convert` and `mla_grpc::upload_in`. The composition of each RPC is repeated here
//! (the services parse inline); the parsing itself is the services' own.
//!
//! Properties: nothing panics; a refusal is INVALID_ARGUMENT; an accepted value keeps the domain's
//! limits (text lengths, no control characters, entry counts, microsecond times, well-formed codes)
//! and keeps what the caller wrote (texts verbatim, enums by their number).

#![no_main]

use libfuzzer_sys::fuzz_target;
use mla_domain::request::RequestContent;
use mla_domain::{LongText, PartnerCode, ShortText, Timestamp};
use mla_grpc::convert::*;
use mla_proto::v1 as pb;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else { return };
    let name = mla_fuzz::MESSAGES[usize::from(selector) % mla_fuzz::MESSAGES.len()];
    match name {
        "CreateRequestRequest" => decoded(bytes, create_request),
        "GetRequestRequest" => decoded(bytes, |m: pb::GetRequestRequest| id_only(&m.id)),
        "ListRequestsRequest" => decoded(bytes, list_requests),
        "UpdateRequestRequest" => decoded(bytes, update_request),
        "TransitionRequestRequest" => decoded(bytes, transition_request),
        "ListRequestEventsRequest" => decoded(bytes, |m: pb::ListRequestEventsRequest| id_only(&m.id)),
        "PostMessageRequest" => decoded(bytes, post_message),
        "ListMessagesRequest" => decoded(bytes, |m: pb::ListMessagesRequest| id_only(&m.request_id)),
        "MarkMessagesReadRequest" => decoded(bytes, mark_messages_read),
        "PrintLetterRequest" => decoded(bytes, |m: pb::PrintLetterRequest| id_only(&m.id)),
        "ErasePersonalDataRequest" => decoded(bytes, erase_personal_data),
        "WatchEventsRequest" => decoded(bytes, watch_events),
        "CreatePartnerRequest" => decoded(bytes, create_partner),
        "GetPartnerRequest" => decoded(bytes, |m: pb::GetPartnerRequest| {
            let mut fields = Fields::default();
            let code = partner_code(&mut fields, "code", &m.code);
            outcome(fields.finish(code));
        }),
        // Its page token is the application's to read; nothing else is parsed.
        "ListPartnersRequest" => decoded(bytes, |_: pb::ListPartnersRequest| {}),
        "UpdatePartnerRequest" => decoded(bytes, update_partner),
        "UploadDocumentRequest" => decoded(bytes, upload_document),
        "StartUploadRequest" => decoded(bytes, start_upload),
        "AppendUploadRequest" => decoded(bytes, append_upload),
        "GetUploadRequest" => decoded(bytes, |m: pb::GetUploadRequest| upload_id(&m.id)),
        "CancelUploadRequest" => decoded(bytes, |m: pb::CancelUploadRequest| upload_id(&m.id)),
        "GetDocumentRequest" => decoded(bytes, |m: pb::GetDocumentRequest| document_id(&m.id)),
        "ListDocumentsRequest" => decoded(bytes, |m: pb::ListDocumentsRequest| id_only(&m.request_id)),
        "DownloadDocumentRequest" => decoded(bytes, |m: pb::DownloadDocumentRequest| {
            document_id(&m.id);
        }),
        "ReleaseDocumentsRequest" => decoded(bytes, release_documents),
        "DownloadEvidencePackageRequest" => {
            decoded(bytes, |m: pb::DownloadEvidencePackageRequest| id_only(&m.request_id))
        }
        "GetStatisticsRequest" => decoded(bytes, |m: pb::GetStatisticsRequest| period(&m)),
        "GetHumanRightsReportRequest" => decoded(bytes, |m: pb::GetHumanRightsReportRequest| period(&m)),
        other => unreachable!("{other} is in the table but not parsed"),
    }
});

fn decoded<M: Message + Default>(bytes: &[u8], parse: impl FnOnce(M)) {
    if let Ok(message) = M::decode(bytes) {
        parse(message);
    }
}

/// The parsed value if the message was accepted; a refusal must be INVALID_ARGUMENT.
fn outcome<T>(parsed: Result<T, tonic::Status>) -> Option<T> {
    match parsed {
        Ok(value) => Some(value),
        Err(status) => {
            assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
            None
        }
    }
}

// The domain's limits on accepted values.

fn short(text: &ShortText, raw: &str) {
    assert_eq!(text.as_str(), raw, "accepted text is kept as written");
    assert!(raw.chars().count() <= ShortText::MAX_CHARS);
    assert!(!raw.chars().any(char::is_control), "{raw:?}");
}

fn long(text: &LongText, raw: &str) {
    assert_eq!(text.as_str(), raw, "accepted text is kept as written");
    assert!(raw.chars().count() <= LongText::MAX_CHARS);
    assert!(!raw.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')), "{raw:?}");
}

fn short_list(texts: &[ShortText], raw: &[String]) {
    assert!(texts.len() <= RequestContent::MAX_ENTRIES);
    assert_eq!(texts.len(), raw.len());
    texts.iter().zip(raw).for_each(|(t, r)| short(t, r));
}

/// The period of a report (GetStatistics, GetHumanRightsReport): accepted ends are the times asked.
fn period(m: &impl PeriodMessage) {
    let mut fields = Fields::default();
    let parsed = period_in(&mut fields, m);
    if let Some(parsed) = outcome(fields.finish(parsed)).flatten() {
        let (start, end, _) = m.period();
        time(&parsed.start, start.expect("a start"));
        time(&parsed.end, end.expect("an end"));
    }
}

fn time(parsed: &Timestamp, raw: &prost_types::Timestamp) {
    assert_eq!(parsed.timestamp_subsec_nanos() % 1000, 0, "times keep microseconds");
    assert_eq!(parsed.timestamp(), raw.seconds);
    assert_eq!(i64::from(parsed.timestamp_subsec_nanos()), i64::from(raw.nanos) / 1000 * 1000);
}

fn optional_time(parsed: Option<&Timestamp>, raw: Option<&prost_types::Timestamp>) {
    assert_eq!(parsed.is_some(), raw.is_some());
    if let (Some(parsed), Some(raw)) = (parsed, raw) {
        time(parsed, raw);
    }
}

fn code(parsed: Option<&PartnerCode>, raw: &str) {
    match parsed {
        None => assert!(raw.is_empty()),
        Some(code) => {
            assert_eq!(code.as_str(), raw);
            assert!((2..=32).contains(&raw.len()));
            assert!(raw.split('-').all(|g| !g.is_empty()
                && g.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())));
        }
    }
}

fn country(parsed: &str, raw: &str) {
    assert_eq!(parsed, raw);
    assert!(raw.is_empty() || (raw.len() == 2 && raw.bytes().all(|b| b.is_ascii_uppercase())), "{raw:?}");
}

/// An enum that crossed by its number: `out(parsed)` gives the number back.
fn same<T: Copy>(parsed: Option<T>, raw: i32, out: fn(T) -> i32) {
    match parsed {
        None => assert_eq!(raw, 0, "only UNSPECIFIED parses to nothing"),
        Some(value) => assert_eq!(out(value), raw),
    }
}

// The RPCs, parsed as the services parse them.

fn id_only(raw: &str) {
    let mut fields = Fields::default();
    let id = request_id_in(&mut fields, "id", raw);
    if let Some(id) = outcome(fields.finish(id)) {
        assert_eq!(uuid::Uuid::parse_str(raw).ok(), Some(id.as_uuid()));
    }
}

fn upload_id(raw: &str) {
    let parsed = uuid::Uuid::parse_str(raw);
    let _ = parsed.map(|id| assert_eq!(uuid::Uuid::parse_str(&id.to_string()), Ok(id)));
}

fn document_id(raw: &str) {
    let mut fields = Fields::default();
    let id = fields.take("id", mla_domain::document::DocumentId::parse(raw).map(Some));
    if let Some(Some(id)) = outcome(fields.finish(id)) {
        assert_eq!(uuid::Uuid::parse_str(raw).ok(), Some(id.as_uuid()));
    }
}

fn partner_code(fields: &mut Fields, field: &str, raw: &str) -> PartnerCode {
    fields
        .take(field, PartnerCode::parse(raw).map(Some))
        .unwrap_or_else(|| PartnerCode::parse("XX").expect("a valid code"))
}

fn content(input: &RequestInput, r: &pb::Request) {
    let c = &input.content;
    same(c.request_type, r.request_type, request_type_out);
    same(c.priority, r.priority, priority_out);
    same(c.confidentiality, r.confidentiality, confidentiality_out);
    long(&c.urgency_reason, &r.urgency_reason);
    short(&c.requesting_authority, &r.requesting_authority);
    short(&c.partner_reference, &r.partner_reference);
    short(&c.title, &r.title);
    long(&c.summary_of_facts, &r.summary_of_facts);
    short_list(&c.offences, &r.offences);
    short_list(&c.measures, &r.measures);
    long(&c.purpose, &r.purpose);
    short(&c.legal_basis, &r.legal_basis);
    assert!(c.persons.len() <= RequestContent::MAX_ENTRIES);
    assert_eq!(c.persons.len(), r.persons.len());
    for (person, raw) in c.persons.iter().zip(&r.persons) {
        short(&person.name, &raw.name);
        // UNSPECIFIED is taken as OTHER.
        let role =
            if raw.role == 0 { person_role_out(mla_domain::request::PersonRole::Other) } else { raw.role };
        assert_eq!(person_role_out(person.role), role);
        country(person.nationality.as_str(), &raw.nationality);
        assert_eq!(person.protected, raw.protected);
    }
    short(&input.assignee, &r.assignee);
    optional_time(input.due_time.as_ref(), r.due_time.as_ref());
}

fn paper(
    record: Option<&mla_domain::paper::PaperRecord>,
    on_behalf: &str,
    received_via: i32,
    effective_time: Option<&prost_types::Timestamp>,
    letter_reference: &str,
    letter_document_id: &str,
) {
    let Some(record) = record else {
        // Nothing set is no record; zero values are nothing set.
        assert!(on_behalf.is_empty() && received_via == 0 && effective_time.is_none());
        assert!(letter_reference.is_empty() && letter_document_id.is_empty());
        return;
    };
    code(record.on_behalf_of.as_ref(), on_behalf);
    same(record.received_via, received_via, received_via_out);
    optional_time(record.effective_time.as_ref(), effective_time);
    short(&record.letter_reference, letter_reference);
    assert_eq!(record.letter_document_id.is_some(), !letter_document_id.is_empty());
}

fn create_request(m: pb::CreateRequestRequest) {
    let mut fields = Fields::default();
    let request = m.request.clone().unwrap_or_default();
    let input = request_in(&mut fields, &request);
    let record = paper_record_in(
        &mut fields,
        &m.on_behalf_of_partner,
        m.received_via,
        m.effective_time.as_ref(),
        &m.letter_reference,
        "",
    );
    if let Some((input, record)) = outcome(fields.finish((input, record))) {
        content(&input, &request);
        code(input.partner_code.as_ref(), &request.partner_code);
        paper(
            record.as_ref(),
            &m.on_behalf_of_partner,
            m.received_via,
            m.effective_time.as_ref(),
            &m.letter_reference,
            "",
        );
    }
}

fn list_requests(m: pb::ListRequestsRequest) {
    let mut fields = Fields::default();
    let filter = mla_app::RequestFilter {
        state: fields.take("state", state_in(m.state)),
        direction: fields.take("direction", direction_in(m.direction)),
        partner_code: fields.take("partner_code", partner_code_in(&m.partner_code)),
        request_type: fields.take("request_type", request_type_in(m.request_type)),
        overdue: m.overdue,
        assignee: Some(m.assignee.clone()).filter(|a| !a.is_empty()),
        query: Some(m.query.clone()).filter(|q| !q.is_empty()),
        awaiting_role: fields.take("awaiting_role", awaiting_role_in(&m.awaiting_role)),
        received_from: m
            .received_after
            .and_then(|t| fields.take("received_after", timestamp_in(&t).map(Some))),
        received_until: m
            .received_before
            .and_then(|t| fields.take("received_before", timestamp_in(&t).map(Some))),
        closed_from: m.closed_after.and_then(|t| fields.take("closed_after", timestamp_in(&t).map(Some))),
        closed_until: m.closed_before.and_then(|t| fields.take("closed_before", timestamp_in(&t).map(Some))),
        due_first: fields.take("order_by", due_first_in(&m.order_by)),
    };
    if filter.query.as_ref().is_some_and(|q| q.chars().count() > 200) {
        fields.refuse("query", "at most 200 characters");
    }
    let Some(filter) = outcome(fields.finish(filter)) else { return };
    same(filter.state, m.state, state_out);
    same(filter.direction, m.direction, direction_out);
    same(filter.request_type, m.request_type, request_type_out);
    code(filter.partner_code.as_ref(), &m.partner_code);
    assert!(filter.query.as_ref().is_none_or(|q| q.chars().count() <= 200));
    match filter.awaiting_role {
        None => assert!(m.awaiting_role.is_empty()),
        Some(role) => {
            assert_eq!(role.as_str(), m.awaiting_role);
            assert_ne!(role, mla_domain::Role::Partner, "a partner has no work queue");
        }
    }
    assert_eq!(filter.due_first, m.order_by.trim() == "due_time");
    optional_time(filter.received_from.as_ref(), m.received_after.as_ref());
    optional_time(filter.received_until.as_ref(), m.received_before.as_ref());
    optional_time(filter.closed_from.as_ref(), m.closed_after.as_ref());
    optional_time(filter.closed_until.as_ref(), m.closed_before.as_ref());
}

fn update_request(m: pb::UpdateRequestRequest) {
    let incoming = m.request.clone().unwrap_or_default();
    let mut fields = Fields::default();
    let id = request_id_in(&mut fields, "request.id", &incoming.id);
    let input = request_in(&mut fields, &incoming);
    let reason = fields.take("reason", LongText::parse(m.reason.clone()));
    if let Some((id, input, reason)) = outcome(fields.finish((id, input, reason))) {
        assert_eq!(uuid::Uuid::parse_str(&incoming.id).ok(), Some(id.as_uuid()));
        content(&input, &incoming);
        long(&reason, &m.reason);
    }
}

fn transition_request(m: pb::TransitionRequestRequest) {
    let mut fields = Fields::default();
    let id = request_id_in(&mut fields, "id", &m.id);
    let command = command_in(&mut fields, &m);
    let record = paper_record_in(
        &mut fields,
        &m.on_behalf_of_partner,
        m.received_via,
        m.effective_time.as_ref(),
        &m.letter_reference,
        &m.letter_document_id,
    );
    let Some((_, command, record)) = outcome(fields.finish((id, command, record))) else { return };
    let command = command.expect("an accepted transition names its action");
    assert_eq!(action_out(command.action), m.action);
    long(&command.reason, &m.reason);
    long(&command.consultation_waived_reason, &m.consultation_waived_reason);
    let grounds: Vec<i32> = command.refusal_grounds.iter().map(|g| refusal_ground_out(*g)).collect();
    assert_eq!(grounds, m.refusal_grounds);
    assert_eq!(command.conditions.len(), m.conditions.len());
    for (condition, raw) in command.conditions.iter().zip(&m.conditions) {
        assert_eq!(condition_kind_out(condition.kind), raw.kind);
        long(&condition.text, &raw.text);
    }
    same(command.outcome, m.outcome, outcome_out);
    paper(
        record.as_ref(),
        &m.on_behalf_of_partner,
        m.received_via,
        m.effective_time.as_ref(),
        &m.letter_reference,
        &m.letter_document_id,
    );
}

fn post_message(m: pb::PostMessageRequest) {
    let mut fields = Fields::default();
    let request_id = request_id_in(&mut fields, "request_id", &m.request_id);
    let raw = m.message.clone().unwrap_or_default();
    let message = new_message_in(&mut fields, &raw);
    let Some((_, message)) = outcome(fields.finish((request_id, message))) else { return };
    assert_eq!(audience_out(message.audience), raw.audience);
    long(&message.body, &raw.body);
    assert!(message.attachment_ids.len() <= mla_domain::correspondence::MAX_ATTACHMENTS);
    assert_eq!(message.attachment_ids.len(), raw.attachment_ids.len());
}

fn mark_messages_read(m: pb::MarkMessagesReadRequest) {
    let mut fields = Fields::default();
    let request_id = request_id_in(&mut fields, "request_id", &m.request_id);
    let up_to = fields.take(
        "up_to_message_id",
        mla_domain::correspondence::MessageId::parse(&m.up_to_message_id).map(Some),
    );
    if let Some((_, up_to)) = outcome(fields.finish((request_id, up_to))) {
        assert!(up_to.is_some(), "an accepted id parsed");
    }
}

fn erase_personal_data(m: pb::ErasePersonalDataRequest) {
    let mut fields = Fields::default();
    let id = request_id_in(&mut fields, "id", &m.id);
    let person = usize::try_from(m.person).unwrap_or_else(|_| {
        fields.refuse("person", "a place in the request's persons, from 0");
        0
    });
    let legal_reference = fields.take("legal_reference", LongText::parse(m.legal_reference.clone()));
    if let Some((_, person, legal_reference)) = outcome(fields.finish((id, person, legal_reference))) {
        assert_eq!(i64::try_from(person).ok(), Some(i64::from(m.person)));
        long(&legal_reference, &m.legal_reference);
    }
}

fn watch_events(m: pb::WatchEventsRequest) {
    let raw = &m.after_cursor;
    let after = if raw.is_empty() { Ok(0) } else { raw.parse::<i64>() };
    if let Ok(cursor) = after
        && cursor >= 0
    {
        assert_eq!(cursor.to_string().parse::<i64>(), Ok(cursor));
    }
}

fn create_partner(m: pb::CreatePartnerRequest) {
    let partner = m.partner.unwrap_or_default();
    let mut fields = Fields::default();
    let code_value = partner_code(&mut fields, "partner.code", &partner.code);
    if partner.kind == 0 {
        fields.refuse("partner.kind", "a partner is a STATE_AUTHORITY or an INTERNATIONAL_MECHANISM");
    }
    let input = partner_fields_in(&mut fields, &partner);
    if let Some((code_value, input)) = outcome(fields.finish((code_value, input))) {
        code(Some(&code_value), &partner.code);
        partner_fields(&input, &partner);
        assert_eq!(partner_kind_out(input.kind), partner.kind);
    }
}

fn partner_fields(input: &mla_app::PartnerFields, raw: &pb::Partner) {
    short(&input.name, &raw.name);
    country(&input.country, &raw.country);
    short_list(&input.legal_bases, &raw.legal_bases);
    assert_eq!(input.active, raw.active);
    if raw.kind != 0 {
        assert_eq!(partner_kind_out(input.kind), raw.kind);
    }
    if raw.channel != 0 {
        assert_eq!(channel_out(input.channel), raw.channel);
    }
}

fn update_partner(m: pb::UpdatePartnerRequest) {
    const MUTABLE: [&str; 6] = ["name", "country", "kind", "legal_bases", "active", "channel"];
    let incoming = m.partner.unwrap_or_default();
    let mut fields = Fields::default();
    let code_value = partner_code(&mut fields, "partner.code", &incoming.code);
    let set = [
        ("name", !incoming.name.is_empty()),
        ("country", !incoming.country.is_empty()),
        ("kind", incoming.kind != 0),
        ("legal_bases", !incoming.legal_bases.is_empty()),
        ("active", incoming.active),
        ("channel", incoming.channel != 0),
    ];
    let paths: Vec<String> = match m.update_mask {
        Some(mask) if !mask.paths.is_empty() => mask.paths,
        _ => set.into_iter().filter(|(_, is_set)| *is_set).map(|(path, _)| path.to_owned()).collect(),
    };
    if paths.is_empty() {
        fields.refuse("update_mask", "names no field to change, and the partner sets none");
    }
    for path in paths.iter().filter(|p| !MUTABLE.contains(&p.as_str())) {
        fields.refuse(format!("update_mask.paths[{path}]"), format!("{path} cannot be changed"));
    }
    if paths.iter().any(|p| p == "kind") && incoming.kind == 0 {
        fields.refuse("partner.kind", "a partner is a STATE_AUTHORITY or an INTERNATIONAL_MECHANISM");
    }
    let new = partner_fields_in(&mut fields, &incoming);
    if let Some((code_value, new)) = outcome(fields.finish((code_value, new))) {
        code(Some(&code_value), &incoming.code);
        partner_fields(&new, &incoming);
        assert!(!paths.is_empty() && paths.iter().all(|p| MUTABLE.contains(&p.as_str())));
    }
}

fn metadata(m: &pb::DocumentMetadata) {
    let Some(upload) = outcome(mla_grpc::upload_in(m)) else { return };
    let d = &upload.document;
    assert_eq!(document_kind_out(d.kind), m.kind);
    short(&d.title, &m.title);
    assert!(!d.title.is_blank(), "a title is required");
    assert!(d.file_name.as_str().chars().count() <= mla_domain::document::MAX_FILE_NAME_CHARS);
    assert!(!d.file_name.is_blank() && !d.file_name.as_str().chars().any(char::is_control));
    assert!(d.media_type.contains('/') && d.media_type.is_ascii() && d.media_type.len() <= 255);
    assert_eq!(d.media_type, d.media_type.to_ascii_lowercase());
    assert!(d.language.len() <= 35 && d.language.is_ascii(), "{:?}", d.language);
    assert_eq!(d.translation_of.is_some(), !m.translation_of.is_empty());
    if m.audience != 0 {
        assert_eq!(audience_out(d.audience), m.audience);
    }
    match &upload.expected_sha256 {
        None => assert!(m.expected_sha256.is_empty()),
        Some(digest) => {
            let hex = digest.to_string();
            assert!(hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()), "{hex}");
        }
    }
}

fn upload_document(m: pb::UploadDocumentRequest) {
    if let Some(pb::upload_document_request::Part::Metadata(metadata_message)) = &m.part {
        metadata(metadata_message);
    }
}

fn start_upload(m: pb::StartUploadRequest) {
    let Some(metadata_message) = &m.metadata else { return };
    metadata(metadata_message);
    let mut fields = Fields::default();
    let size = fields.take(
        "size_bytes",
        u64::try_from(m.size_bytes).map_err(|_| mla_domain::text::ParseError("must not be negative".into())),
    );
    if let Some(size) = outcome(fields.finish(size)) {
        assert_eq!(i64::try_from(size).ok(), Some(m.size_bytes));
    }
}

fn append_upload(m: pb::AppendUploadRequest) {
    if let Some(pb::append_upload_request::Part::Position(position)) = &m.part {
        upload_id(&position.upload_id);
        assert_eq!(u64::try_from(position.offset).is_ok(), position.offset >= 0);
    }
}

fn release_documents(m: pb::ReleaseDocumentsRequest) {
    let mut fields = Fields::default();
    let request_id = request_id_in(&mut fields, "request_id", &m.request_id);
    let ids: Vec<Option<mla_domain::document::DocumentId>> = m
        .document_ids
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            fields.take(format!("document_ids[{i}]"), mla_domain::document::DocumentId::parse(raw).map(Some))
        })
        .collect();
    if let Some((_, ids)) = outcome(fields.finish((request_id, ids))) {
        assert_eq!(ids.len(), m.document_ids.len());
        assert!(ids.iter().all(Option::is_some));
    }
}
