//! The register in figures end to end, on both backends: GetStatistics over gRPC and
//! `GET /v1/statistics` over REST (JSON, and CSV by `format=csv` or `Accept: text/csv`) give the same
//! figures; a partner is refused; a period that does not run forward is INVALID_ARGUMENT (400)
//! naming the field.

use chrono::{DateTime, Duration, TimeZone, Utc};
use mla_domain::Role;
use mla_proto::v1 as pb;
use mla_tests::*;
use pb::Action as A;
use serde_json::Value;
use tonic::Code;

fn timestamp(instant: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds: instant.timestamp(), nanos: 0 })
}

fn close(actual: Option<f64>, expected: f64) {
    let actual = actual.expect("a value");
    assert!((actual - expected).abs() < 1e-9, "{actual}, expected {expected}");
}

async fn statistics_over_grpc_and_rest(backend: Backend) {
    let t0 = Utc.with_ymd_and_hms(2026, 5, 4, 8, 0, 0).unwrap();
    let Some((broker, clock)) = Broker::start_at(backend, t0).await else { return };
    broker.register_partners(&["FR-MOJ", "DE-BJ"]).await;
    let client = broker.requests().await;
    let registrar = broker.staff("registrar-1", &[Role::Registrar]);
    let legal = broker.staff("legal-1", &[Role::LegalOfficer]);
    let judge = broker.staff("judge-1", &[Role::Judge]);
    let supervisor = broker.staff("supervisor-1", &[Role::Supervisor]);
    let france = broker.partner("FR-MOJ");

    // Two from France, acknowledged after 2 and 3 days, decided after 5 and 6; one from Germany
    // waiting for acknowledgement.
    let accepted = broker.submitted_by("FR-MOJ", "Accepted").await.id;
    let refused = broker.submitted_by("FR-MOJ", "Refused").await.id;
    broker.submitted_by("DE-BJ", "Waiting").await;
    let act = |call: pb::TransitionRequestRequest, token: &str| {
        let mut client = client.clone();
        let call = authed(call, token);
        async move { client.transition_request(call).await.expect("the transition is taken") }
    };
    clock.advance(Duration::days(2));
    act(action(&accepted, A::Acknowledge), &registrar).await;
    clock.advance(Duration::days(1));
    act(action(&refused, A::Acknowledge), &registrar).await;
    act(action(&accepted, A::StartReview), &legal).await;
    act(action(&refused, A::StartReview), &legal).await;
    clock.advance(Duration::days(2));
    act(action(&accepted, A::Accept), &judge).await;
    clock.advance(Duration::days(1));
    let refuse = pb::TransitionRequestRequest {
        refusal_grounds: vec![pb::RefusalGround::InsufficientInformation as i32],
        ..action_with_reason(&refused, A::Refuse, "The facts are not stated")
    };
    act(refuse, &judge).await;

    // gRPC.
    let mut statistics = broker.statistics().await;
    let period = |start: DateTime<Utc>, end: DateTime<Utc>| pb::GetStatisticsRequest {
        period_start: timestamp(start),
        period_end: timestamp(end),
        direction: 0,
    };
    let month = period(t0 - Duration::days(1), t0 + Duration::days(30));
    let figures =
        statistics.get_statistics(authed(month, &supervisor)).await.expect("the figures").into_inner();
    assert_eq!(figures.requests, 3);
    let states: Vec<_> = figures.by_state.iter().map(|c| (c.state(), c.requests)).collect();
    assert_eq!(states, [(pb::State::Submitted, 1), (pb::State::Accepted, 1), (pb::State::Refused, 1)]);
    let partners: Vec<_> = figures.by_partner.iter().map(|c| (c.partner_code.as_str(), c.requests)).collect();
    assert_eq!(partners, [("DE-BJ", 1), ("FR-MOJ", 2)]);
    assert_eq!(figures.by_refusal_ground.len(), 1);
    assert_eq!(figures.by_refusal_ground[0].ground(), pb::RefusalGround::InsufficientInformation);
    let acknowledgement = figures.to_acknowledgement.expect("durations");
    assert_eq!(acknowledgement.requests, 2);
    close(acknowledgement.median_days, 2.5);
    close(acknowledgement.p90_days, 2.9);
    let buckets: Vec<_> =
        acknowledgement.distribution.iter().map(|b| (b.from_days, b.until_days, b.requests)).collect();
    assert_eq!(
        buckets,
        [
            (0.0, Some(1.0), 0),
            (1.0, Some(7.0), 2),
            (7.0, Some(30.0), 0),
            (30.0, Some(90.0), 0),
            (90.0, Some(180.0), 0),
            (180.0, Some(365.0), 0),
            (365.0, None, 0)
        ],
        "the 2 and 3 days to acknowledgement fall from a day to a week"
    );
    let decision = figures.to_decision.expect("durations");
    close(decision.median_days, 5.5);
    close(decision.p90_days, 5.9);
    let execution = figures.to_execution.expect("durations");
    assert_eq!((execution.requests, execution.median_days), (0, None));
    assert_eq!(figures.as_of_time, timestamp(t0 + Duration::days(6)));

    let refused = statistics.get_statistics(authed(month, &france)).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    let backwards = statistics.get_statistics(authed(period(t0, t0), &supervisor)).await.unwrap_err();
    assert_eq!(backwards.code(), Code::InvalidArgument);
    assert_eq!(fields_of(&backwards), ["period_end"]);
    let open = pb::GetStatisticsRequest { period_start: None, ..month };
    let open = statistics.get_statistics(authed(open, &supervisor)).await.unwrap_err();
    assert_eq!((open.code(), fields_of(&open)), (Code::InvalidArgument, vec!["period_start".to_owned()]));

    // REST: the same figures as JSON and as CSV.
    let http = http_client();
    let get = |query: String, token: &str, accept: Option<&str>| {
        get_text(&http, format!("{}/v1/statistics?{query}", broker.gateway_url()), token, accept)
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
    assert_eq!(json["requests"], 3);
    assert_eq!(json["by_state"][1], serde_json::json!({"state": "ACCEPTED", "requests": 1}));
    assert_eq!(json["by_refusal_ground"][0]["ground"], "INSUFFICIENT_INFORMATION");
    assert_eq!(json["to_acknowledgement"]["median_days"], 2.5);
    assert_eq!(json["to_execution"]["median_days"], Value::Null);
    let distribution = &json["to_acknowledgement"]["distribution"];
    assert_eq!(distribution[1], serde_json::json!({"from_days": 1.0, "until_days": 7.0, "requests": 2}));
    assert_eq!(distribution[6], serde_json::json!({"from_days": 365.0, "until_days": null, "requests": 0}));
    assert_eq!(json["direction"], Value::Null);

    let (status, kind, csv) = get(format!("{query}&format=csv"), &supervisor, None).await;
    assert_eq!((status, kind.as_str()), (200, "text/csv; charset=utf-8"), "{csv}");
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(lines[0], "figure,value,count,median_days,p90_days");
    for line in [
        "requests,,3,,",
        "overdue,,0,,",
        "state,SUBMITTED,1,,",
        "partner,FR-MOJ,2,,",
        "request_type,EVIDENCE,3,,",
        "direction,INCOMING,3,,",
        "refusal_ground,INSUFFICIENT_INFORMATION,1,,",
        "to_execution,,0,,",
        "to_acknowledgement_distribution,0-1,0,,",
        "to_acknowledgement_distribution,1-7,2,,",
        "to_acknowledgement_distribution,365-,0,,",
    ] {
        assert!(lines.contains(&line), "{line} in\n{csv}");
    }
    assert!(lines.iter().any(|l| l.starts_with("to_acknowledgement,,2,2.5,")), "{csv}");
    let (_, kind, negotiated) = get(query.clone(), &supervisor, Some("text/csv")).await;
    assert_eq!((kind.as_str(), negotiated.lines().count()), ("text/csv; charset=utf-8", csv.lines().count()));

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

on_both_backends!(statistics_over_grpc_and_rest);
