//! The human-rights report end to end, on both backends: GetHumanRightsReport over gRPC and
//! `GET /v1/reports/human-rights` over REST (JSON, and CSV by `format=csv` or `Accept: text/csv`)
//! list the assurances, the refusals on human-rights grounds with their consultation, and the
//! released evidence; a partner is refused; a period that does not run forward is
//! INVALID_ARGUMENT (400) naming the field.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use mla_domain::Role;
use mla_proto::v1 as pb;
use mla_tests::*;
use pb::Action as A;
use pb::upload_document_request::Part;
use serde_json::{Value, json};
use tonic::Code;

fn timestamp(instant: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds: instant.timestamp(), nanos: 0 })
}

fn condition(kind: pb::ConditionKind, text: &str) -> pb::Condition {
    pb::Condition { kind: kind as i32, text: text.into(), ..Default::default() }
}

/// The members of a JSON object, by name.
fn members(value: &Value) -> BTreeSet<&str> {
    value.as_object().expect("an object").keys().map(String::as_str).collect()
}

async fn human_rights_report_over_grpc_and_rest(backend: Backend) {
    let t0 = Utc.with_ymd_and_hms(2026, 5, 4, 8, 0, 0).unwrap();
    let Some((broker, clock)) = Broker::start_at(backend, t0).await else { return };
    broker.register_partners(&["FR-MOJ", "DE-BJ"]).await;
    let client = broker.requests().await;
    let registrar = broker.staff("registrar-1", &[Role::Registrar]);
    let legal = broker.staff("legal-1", &[Role::LegalOfficer]);
    let judge = broker.staff("judge-1", &[Role::Judge]);
    let officer = broker.staff("officer-1", &[Role::EvidenceOfficer]);
    let supervisor = broker.staff("supervisor-1", &[Role::Supervisor]);
    let france = broker.partner("FR-MOJ");
    let act = |call: pb::TransitionRequestRequest, token: &str| {
        let mut client = client.clone();
        let call = authed(call, token);
        async move { client.transition_request(call).await.expect("the transition is taken").into_inner() }
    };
    let under_review = |title: &'static str| {
        let (broker, registrar, legal) = (&broker, registrar.clone(), legal.clone());
        async move {
            let id = broker.submitted_by("FR-MOJ", title).await.id;
            act(action(&id, A::Acknowledge), &registrar).await;
            act(action(&id, A::StartReview), &legal).await;
            id
        }
    };

    // IN-1: a death-penalty assurance given (and a speciality one), evidence released under both.
    let assured = under_review("Assured").await;
    let conditions = vec![
        condition(pb::ConditionKind::DeathPenaltyNonImposition, "No death penalty"),
        condition(pb::ConditionKind::Speciality, "Use only in proceedings 9/2026"),
    ];
    act(pb::TransitionRequestRequest { conditions, ..action(&assured, A::ProposeConditions) }, &judge).await;
    clock.advance(Duration::days(1));
    act(action(&assured, A::AcceptConditions), &france).await;
    act(action(&assured, A::StartExecution), &officer).await;
    let metadata = pb::DocumentMetadata {
        request_id: assured.clone(),
        kind: pb::DocumentKind::Evidence as i32,
        title: "Phone extraction".into(),
        file_name: "extraction.pdf".into(),
        media_type: "application/pdf".into(),
        ..Default::default()
    };
    let upload = futures::stream::iter([
        pb::UploadDocumentRequest { part: Some(Part::Metadata(metadata)) },
        pb::UploadDocumentRequest { part: Some(Part::Chunk(b"%PDF-1.7\nDevice 3\n%%EOF\n".to_vec())) },
    ]);
    let evidence = broker
        .documents()
        .await
        .upload_document(authed(upload, &officer))
        .await
        .expect("uploaded")
        .into_inner();
    clock.advance(Duration::days(1));
    let release = pb::ReleaseDocumentsRequest {
        request_id: assured.clone(),
        document_ids: vec![evidence.id.clone()],
        ..Default::default()
    };
    broker.documents().await.release_documents(authed(release, &judge)).await.expect("released");
    // IN-2: a fair-trial assurance declined, then refused on the death penalty after that consultation.
    let consulted = under_review("Consulted").await;
    let conditions = vec![condition(pb::ConditionKind::FairTrial, "A public hearing")];
    act(pb::TransitionRequestRequest { conditions, ..action(&consulted, A::ProposeConditions) }, &judge)
        .await;
    act(action(&consulted, A::DeclineConditions), &france).await;
    let refuse = pb::TransitionRequestRequest {
        refusal_grounds: vec![pb::RefusalGround::DeathPenaltyRisk as i32],
        ..action_with_reason(&consulted, A::Refuse, "The offence carries the death penalty")
    };
    act(refuse, &judge).await;
    // IN-3: refused on torture with the consultation waived.
    let waived = under_review("Waived").await;
    let refuse = pb::TransitionRequestRequest {
        refusal_grounds: vec![pb::RefusalGround::TortureRisk as i32],
        consultation_waived_reason: "No assurance from this authority has been kept".into(),
        ..action_with_reason(&waived, A::Refuse, "Torture in custody is documented")
    };
    act(refuse, &judge).await;
    // IN-4: refused on another ground: not in the report.
    let other = under_review("Other ground").await;
    let refuse = pb::TransitionRequestRequest {
        refusal_grounds: vec![pb::RefusalGround::InsufficientInformation as i32],
        ..action_with_reason(&other, A::Refuse, "The facts are not stated")
    };
    act(refuse, &judge).await;

    // gRPC.
    let mut reports = broker.statistics().await;
    let period = |start: DateTime<Utc>, end: DateTime<Utc>| pb::GetHumanRightsReportRequest {
        period_start: timestamp(start),
        period_end: timestamp(end),
        direction: 0,
    };
    let month = period(t0 - Duration::days(1), t0 + Duration::days(30));
    let report =
        reports.get_human_rights_report(authed(month, &supervisor)).await.expect("the report").into_inner();
    assert_eq!(report.as_of_time, timestamp(t0 + Duration::days(2)));
    let assurances: Vec<_> =
        report.assurances.iter().map(|a| (a.reference.as_str(), a.kind(), a.status(), a.state())).collect();
    assert_eq!(
        assurances,
        [
            (
                "IN-2026-000001",
                pb::ConditionKind::DeathPenaltyNonImposition,
                pb::ConditionStatus::Accepted,
                pb::State::InExecution
            ),
            (
                "IN-2026-000002",
                pb::ConditionKind::FairTrial,
                pb::ConditionStatus::Declined,
                pb::State::Refused
            ),
        ],
        "the human-rights assurances only: {report:#?}"
    );
    assert_eq!(report.assurances[0].given_by, "FR-MOJ-system");
    assert_eq!(report.assurances[0].given_time, timestamp(t0 + Duration::days(1)));
    let refusals: Vec<_> = report.refusals.iter().map(|r| r.request_id.as_str()).collect();
    assert_eq!(refusals, [consulted.as_str(), waived.as_str()], "not the refusal on another ground");
    let after_consultation = &report.refusals[0];
    let grounds: Vec<_> = after_consultation.refusal_grounds().collect();
    assert_eq!(grounds, [pb::RefusalGround::DeathPenaltyRisk]);
    assert_eq!(after_consultation.reason, "The offence carries the death penalty");
    assert_eq!(after_consultation.consultation_waived_reason, "");
    assert_eq!(
        after_consultation.consultations,
        [pb::Consultation {
            kind: pb::ConditionKind::FairTrial as i32,
            text: "A public hearing".into(),
            status: pb::ConditionStatus::Declined as i32,
        }]
    );
    assert_eq!(after_consultation.refused_time, timestamp(t0 + Duration::days(2)));
    assert!(report.refusals[1].consultations.is_empty());
    assert_eq!(
        report.refusals[1].consultation_waived_reason,
        "No assurance from this authority has been kept"
    );
    assert_eq!(report.releases.len(), 1);
    let released = &report.releases[0];
    assert_eq!(
        (released.request_id.as_str(), released.document_id.as_str()),
        (assured.as_str(), evidence.id.as_str())
    );
    assert_eq!((released.title.as_str(), released.kind()), ("Phone extraction", pb::DocumentKind::Evidence));
    assert_eq!(released.use_restrictions, ["No death penalty", "Use only in proceedings 9/2026"]);
    assert_eq!(released.release_time, timestamp(t0 + Duration::days(2)));

    let later = period(t0 + Duration::days(3), t0 + Duration::days(30));
    let later =
        reports.get_human_rights_report(authed(later, &supervisor)).await.expect("the report").into_inner();
    assert!(
        later.assurances.is_empty() && later.refusals.is_empty() && later.releases.is_empty(),
        "{later:?}"
    );
    let refused = reports.get_human_rights_report(authed(month, &france)).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    let backwards = reports.get_human_rights_report(authed(period(t0, t0), &supervisor)).await.unwrap_err();
    assert_eq!(
        (backwards.code(), fields_of(&backwards)),
        (Code::InvalidArgument, vec!["period_end".to_owned()])
    );
    let open = pb::GetHumanRightsReportRequest { period_start: None, ..month };
    let open = reports.get_human_rights_report(authed(open, &supervisor)).await.unwrap_err();
    assert_eq!((open.code(), fields_of(&open)), (Code::InvalidArgument, vec!["period_start".to_owned()]));

    // REST: the same report as JSON, in the documented shape, and as CSV.
    let http = http_client();
    let get = |query: String, token: &str, accept: Option<&str>| {
        get_text(&http, format!("{}/v1/reports/human-rights?{query}", broker.gateway_url()), token, accept)
    };
    let rfc3339 = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let query = format!(
        "period_start={}&period_end={}",
        rfc3339(t0 - Duration::days(1)),
        rfc3339(t0 + Duration::days(30))
    );
    let (status, kind, body) = get(query.clone(), &supervisor, None).await;
    assert_eq!((status, kind.as_str()), (200, "application/json"), "{body}");
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        members(&json),
        BTreeSet::from([
            "period_start",
            "period_end",
            "direction",
            "as_of_time",
            "assurances",
            "refusals",
            "releases"
        ])
    );
    assert_eq!(json["direction"], Value::Null);
    assert_eq!(json["as_of_time"], rfc3339(t0 + Duration::days(2)));
    assert_eq!(
        json["assurances"][0],
        json!({
            "request_id": assured,
            "reference": "IN-2026-000001",
            "partner_code": "FR-MOJ",
            "direction": "INCOMING",
            "state": "IN_EXECUTION",
            "kind": "DEATH_PENALTY_NON_IMPOSITION",
            "text": "No death penalty",
            "status": "ACCEPTED",
            "given_by": "FR-MOJ-system",
            "given_time": rfc3339(t0 + Duration::days(1)),
        })
    );
    assert_eq!(
        json["refusals"][0],
        json!({
            "request_id": consulted,
            "reference": "IN-2026-000002",
            "partner_code": "FR-MOJ",
            "direction": "INCOMING",
            "refusal_grounds": ["DEATH_PENALTY_RISK"],
            "reason": "The offence carries the death penalty",
            "refused_time": rfc3339(t0 + Duration::days(2)),
            "consultation_waived_reason": "",
            "consultations": [{"kind": "FAIR_TRIAL", "text": "A public hearing", "status": "DECLINED"}],
        })
    );
    assert_eq!(json["refusals"][1]["consultations"], json!([]));
    assert_eq!(
        json["releases"],
        json!([{
            "request_id": assured,
            "reference": "IN-2026-000001",
            "partner_code": "FR-MOJ",
            "document_id": evidence.id,
            "title": "Phone extraction",
            "kind": "EVIDENCE",
            "release_time": rfc3339(t0 + Duration::days(2)),
            "use_restrictions": ["No death penalty", "Use only in proceedings 9/2026"],
        }])
    );

    let (status, kind, csv) = get(format!("{query}&format=csv"), &supervisor, None).await;
    assert_eq!((status, kind.as_str()), (200, "text/csv; charset=utf-8"), "{csv}");
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "section,request_id,reference,partner_code,direction,state,kind,text,status,given_by,given_time,\
         refusal_grounds,reason,refused_time,consultation_waived_reason,consultations,document_id,title,\
         release_time,use_restrictions"
    );
    let sections: Vec<&str> =
        lines[1..].iter().filter(|l| !l.is_empty()).map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(sections, ["assurance", "assurance", "refusal", "refusal", "release"], "{csv}");
    let day = |d: i64| rfc3339(t0 + Duration::days(d));
    for line in [
        format!(
            "assurance,{assured},IN-2026-000001,FR-MOJ,INCOMING,IN_EXECUTION,DEATH_PENALTY_NON_IMPOSITION,\
             No death penalty,ACCEPTED,FR-MOJ-system,{},,,,,,,,,",
            day(1)
        ),
        format!(
            "refusal,{consulted},IN-2026-000002,FR-MOJ,INCOMING,,,,,,,DEATH_PENALTY_RISK,\
             The offence carries the death penalty,{},,FAIR_TRIAL DECLINED: A public hearing,,,,",
            day(2)
        ),
        format!(
            "release,{assured},IN-2026-000001,FR-MOJ,,,EVIDENCE,,,,,,,,,,{},Phone extraction,{},\
             \"No death penalty\nUse only in proceedings 9/2026\"",
            evidence.id,
            day(2)
        ),
    ] {
        assert!(csv.contains(&format!("\r\n{line}\r\n")), "{line} in\n{csv}");
    }
    let (_, kind, negotiated) = get(query.clone(), &supervisor, Some("text/csv")).await;
    assert_eq!((kind.as_str(), negotiated), ("text/csv; charset=utf-8", csv));

    let (status, _, body) = get(query.clone(), &france, None).await;
    assert_eq!(status, 403, "{body}");
    let backwards = format!("period_start={0}&period_end={0}", rfc3339(t0));
    let (status, kind, body) = get(backwards, &supervisor, None).await;
    assert!(status == 400 && kind.starts_with("application/problem+json"), "{status} {kind}: {body}");
    let problem: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["violations"][0]["field"], "period_end", "{problem:#}");
    let (status, _, body) =
        get(format!("period_start=yesterday&period_end={}", rfc3339(t0)), &supervisor, None).await;
    assert_eq!(status, 400);
    let problem: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["violations"][0]["field"], "period_start", "{problem:#}");
    broker.stop().await;
}

on_both_backends!(human_rights_report_over_grpc_and_rest);
