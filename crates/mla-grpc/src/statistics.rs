//! StatisticsService: the period parsed, the figures (or the human-rights report) asked of the
//! application, and mapped.

use mla_app::{App, Durations, Period, ReportedRequest};
use mla_proto::v1 as pb;
use pb::statistics_service_server::StatisticsService;
use tonic::{Request, Response, Status};

use crate::auth::principal;
use crate::convert::*;
use crate::error::status_of;

#[derive(Debug, Clone)]
pub struct Statistics {
    pub app: App,
}

/// A count as the wire carries it.
fn wire(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn durations_out(d: Durations) -> pb::StageDurations {
    // Bucket i spans from the edge before it (0 for the first) to its own edge (none for the last).
    let distribution = d
        .distribution
        .iter()
        .enumerate()
        .map(|(i, &requests)| pb::DurationBucket {
            from_days: i.checked_sub(1).map_or(0.0, |before| Durations::EDGES[before]),
            until_days: Durations::EDGES.get(i).copied(),
            requests: wire(requests),
        })
        .collect();
    pb::StageDurations {
        requests: wire(d.requests),
        median_days: d.median_days,
        p90_days: d.p90_days,
        distribution,
    }
}

/// The names of a request in the report's entries: its id, reference, partner and direction.
fn named(r: ReportedRequest) -> (String, String, String, i32) {
    (r.id.to_string(), r.reference.to_string(), r.partner_code.to_string(), direction_out(r.direction))
}

#[tonic::async_trait]
impl StatisticsService for Statistics {
    async fn get_statistics(
        &self,
        call: Request<pb::GetStatisticsRequest>,
    ) -> Result<Response<pb::Statistics>, Status> {
        let principal = principal(&call)?;
        let m = call.into_inner();
        let period = period_of(&m)?;
        let Period { start, end, direction } = period;
        let statistics = self.app.statistics(&principal, period).await.map_err(status_of)?;
        let f = statistics.figures;
        Ok(Response::new(pb::Statistics {
            period_start: Some(timestamp_out(start)),
            period_end: Some(timestamp_out(end)),
            direction: direction.map_or(0, direction_out),
            as_of_time: Some(timestamp_out(statistics.as_of)),
            requests: wire(f.requests),
            by_state: f
                .by_state
                .into_iter()
                .map(|(state, n)| pb::StateCount { state: state_out(state), requests: wire(n) })
                .collect(),
            by_partner: f
                .by_partner
                .into_iter()
                .map(|(code, n)| pb::PartnerCount { partner_code: code.to_string(), requests: wire(n) })
                .collect(),
            by_request_type: f
                .by_request_type
                .into_iter()
                .map(|(t, n)| pb::RequestTypeCount {
                    request_type: t.map_or(0, request_type_out),
                    requests: wire(n),
                })
                .collect(),
            by_direction: f
                .by_direction
                .into_iter()
                .map(|(d, n)| pb::DirectionCount { direction: direction_out(d), requests: wire(n) })
                .collect(),
            by_refusal_ground: f
                .by_refusal_ground
                .into_iter()
                .map(|(g, n)| pb::RefusalGroundCount { ground: refusal_ground_out(g), requests: wire(n) })
                .collect(),
            by_condition_kind: f
                .by_condition_kind
                .into_iter()
                .map(|c| pb::ConditionKindCount {
                    kind: condition_kind_out(c.kind),
                    requested: wire(c.requested),
                    accepted: wire(c.accepted),
                    declined: wire(c.declined),
                })
                .collect(),
            to_acknowledgement: Some(durations_out(f.to_acknowledgement)),
            to_decision: Some(durations_out(f.to_decision)),
            to_execution: Some(durations_out(f.to_execution)),
            overdue: wire(f.overdue),
        }))
    }

    async fn get_human_rights_report(
        &self,
        call: Request<pb::GetHumanRightsReportRequest>,
    ) -> Result<Response<pb::HumanRightsReport>, Status> {
        let principal = principal(&call)?;
        let m = call.into_inner();
        let period = period_of(&m)?;
        let Period { start, end, direction } = period;
        let report = self.app.human_rights_report(&principal, period).await.map_err(status_of)?;
        let entries = report.entries;
        Ok(Response::new(pb::HumanRightsReport {
            period_start: Some(timestamp_out(start)),
            period_end: Some(timestamp_out(end)),
            direction: direction.map_or(0, direction_out),
            as_of_time: Some(timestamp_out(report.as_of)),
            assurances: entries
                .assurances
                .into_iter()
                .map(|a| {
                    let (request_id, reference, partner_code, direction) = named(a.request);
                    pb::HumanRightsAssurance {
                        request_id,
                        reference,
                        partner_code,
                        direction,
                        state: state_out(a.state),
                        kind: condition_kind_out(a.condition.kind),
                        text: a.condition.text.into(),
                        status: condition_status_out(a.condition.status),
                        given_by: a.condition.given_by.unwrap_or_default(),
                        given_time: a.condition.given_time.map(timestamp_out),
                    }
                })
                .collect(),
            refusals: entries
                .refusals
                .into_iter()
                .map(|r| {
                    let (request_id, reference, partner_code, direction) = named(r.request);
                    pb::HumanRightsRefusal {
                        request_id,
                        reference,
                        partner_code,
                        direction,
                        refusal_grounds: r.grounds.into_iter().map(refusal_ground_out).collect(),
                        reason: r.reason,
                        refused_time: Some(timestamp_out(r.refused_time)),
                        consultation_waived_reason: r.consultation_waived_reason,
                        consultations: r
                            .consultations
                            .into_iter()
                            .map(|c| pb::Consultation {
                                kind: condition_kind_out(c.kind),
                                text: c.text.into(),
                                status: condition_status_out(c.status),
                            })
                            .collect(),
                    }
                })
                .collect(),
            releases: entries
                .releases
                .into_iter()
                .map(|r| {
                    let (request_id, reference, partner_code, _) = named(r.request);
                    pb::DocumentRelease {
                        request_id,
                        reference,
                        partner_code,
                        document_id: r.document_id.to_string(),
                        title: r.title.into(),
                        kind: document_kind_out(r.kind),
                        release_time: r.release_time.map(timestamp_out),
                        use_restrictions: r.use_restrictions,
                    }
                })
                .collect(),
        }))
    }
}

/// The period a report asks for, or INVALID_ARGUMENT naming each field that is wrong.
fn period_of(m: &impl PeriodMessage) -> Result<Period, Status> {
    let mut fields = Fields::default();
    let period = period_in(&mut fields, m);
    fields.finish(period)?.ok_or_else(|| Status::invalid_argument("a period is required"))
}
