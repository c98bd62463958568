//! `/v1/statistics`: the register in figures, one StatisticsService call, as JSON or as CSV.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use http::{HeaderValue, header};
use mla_proto::v1 as pb;

use super::export::{csv_file, csv_text, wants_csv};
use super::{Gateway, Params, query};
use crate::dto::{Direction, ReportQuery, Statistics};
use crate::problem::ApiError;
use crate::upstream::Caller;

/// The columns of the CSV answer: one row per figure, `value` naming what is counted.
pub const COLUMNS: [&str; 5] = ["figure", "value", "count", "median_days", "p90_days"];

/// The figures of the requests submitted in a period (NCIJC staff).
///
/// Counts by state, partner, request type, direction, refusal ground and condition kind; median
/// and 90th-percentile days from submission to acknowledgement, decision and execution, with each
/// stage's distribution over a fixed scale of days; and how many are overdue now. A request counts in the period by when it was submitted (an INCOMING one
/// when it reached the NCIJC, an OUTGOING one when the NCIJC sent it); a strictly confidential one
/// only for those who may see it. With `format=csv` or `Accept: text/csv`, the same figures as CSV,
/// one row each (`figure,value,count,median_days,p90_days`; a bucket of a distribution is named by
/// its span, as `to_decision_distribution,7-30,12,,`). A partner is 403.
#[utoipa::path(
    get,
    path = "/v1/statistics",
    tag = "statistics",
    operation_id = "GetStatistics",
    params(ReportQuery),
    responses(
        (status = 200, description = "The figures; or, with `format=csv` or `Accept: text/csv`, the same as CSV.",
            content(
                (Statistics = "application/json"),
                (String = "text/csv"),
            )),
    ),
)]
pub async fn get_statistics(
    State(gateway): State<Gateway>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let asked = period_asked(&caller, raw.as_deref())?;
    let message = pb::GetStatisticsRequest {
        period_start: asked.start,
        period_end: asked.end,
        direction: asked.direction,
    };
    let statistics = gateway
        .statistics()
        .get_statistics(caller.call(message))
        .await
        .map_err(|s| caller.fail(s))?
        .into_inner();
    let statistics = Statistics::from(statistics);
    if !asked.csv {
        return Ok(axum::Json(statistics).into_response());
    }
    let csv = csv_text(Some(&COLUMNS[..]), rows(&statistics));
    Ok(csv_file(csv.into(), HeaderValue::from_static("attachment; filename=\"statistics.csv\"")))
}

/// The period a report asks for (its ends and direction as the wire carries them), and whether the
/// answer is CSV: `format=csv`, or `Accept: text/csv` without a `format`.
#[derive(Debug)]
pub struct PeriodAsked {
    pub start: Option<prost_types::Timestamp>,
    pub end: Option<prost_types::Timestamp>,
    pub direction: i32,
    pub csv: bool,
}

/// Reads a report's query string ([`ReportQuery`]), every violation named.
pub fn period_asked(caller: &Caller, raw: Option<&str>) -> Result<PeriodAsked, ApiError> {
    let q: ReportQuery = query(caller, raw)?;
    let mut params = Params(Vec::new());
    let start = params.time("period_start", &q.period_start);
    let end = params.time("period_end", &q.period_end);
    let direction = params.enumeration::<Direction>("direction", &q.direction).map_or(0, |d| d.to_wire());
    let csv = match q.format.as_deref() {
        None => wants_csv(caller.header(header::ACCEPT)),
        Some("csv") => true,
        Some("json") => false,
        Some(other) => {
            params.0.push(crate::problem::Violation {
                field: "format".into(),
                description: format!("`{other}` is not csv or json"),
            });
            false
        }
    };
    params.finish(caller, PeriodAsked { start, end, direction, csv })
}

/// An instant as the CSV answers write it (RFC 3339, UTC); empty when absent.
pub fn csv_time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true)).unwrap_or_default()
}

/// The figures as CSV rows: what was asked first, then each count, then the durations.
fn rows(s: &Statistics) -> Vec<Vec<String>> {
    let time = csv_time;
    let named = |name: Option<&'static str>| name.unwrap_or("").to_owned();
    let row =
        |figure: &str, value: String, count: String| vec![figure.into(), value, count, "".into(), "".into()];
    let count = |figure: &str, value: String, n: i64| row(figure, value, n.to_string());
    let mut rows = vec![
        row("period_start", time(s.period_start), String::new()),
        row("period_end", time(s.period_end), String::new()),
        row("direction_asked", named(s.direction.map(Direction::name)), String::new()),
        row("as_of_time", time(s.as_of_time), String::new()),
        count("requests", String::new(), s.requests),
        count("overdue", String::new(), s.overdue),
    ];
    rows.extend(s.by_state.iter().map(|c| count("state", named(c.state.map(|v| v.name())), c.requests)));
    rows.extend(s.by_partner.iter().map(|c| count("partner", c.partner_code.clone(), c.requests)));
    rows.extend(
        s.by_request_type
            .iter()
            .map(|c| count("request_type", named(c.request_type.map(|v| v.name())), c.requests)),
    );
    rows.extend(
        s.by_direction.iter().map(|c| count("direction", named(c.direction.map(|v| v.name())), c.requests)),
    );
    rows.extend(
        s.by_refusal_ground
            .iter()
            .map(|c| count("refusal_ground", named(c.ground.map(|v| v.name())), c.requests)),
    );
    for c in &s.by_condition_kind {
        let kind = named(c.kind.map(|v| v.name()));
        rows.push(count("condition_requested", kind.clone(), c.requested));
        rows.push(count("condition_accepted", kind.clone(), c.accepted));
        rows.push(count("condition_declined", kind, c.declined));
    }
    let days = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    for (figure, d) in [
        ("to_acknowledgement", &s.to_acknowledgement),
        ("to_decision", &s.to_decision),
        ("to_execution", &s.to_execution),
    ] {
        rows.push(vec![
            figure.into(),
            String::new(),
            d.requests.to_string(),
            days(d.median_days),
            days(d.p90_days),
        ]);
        // The histogram's buckets, each named by its span of days (`365-` for a year or more).
        for b in &d.distribution {
            let span = format!("{}-{}", b.from_days, days(b.until_days));
            rows.push(count(&format!("{figure}_distribution"), span, b.requests));
        }
    }
    rows
}
