//! `/v1/reports/human-rights`: the human-rights report, one StatisticsService call, as JSON or as
//! CSV.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::HeaderValue;
use mla_proto::v1 as pb;

use super::Gateway;
use super::export::{csv_file, csv_text};
use super::statistics::{csv_time, period_asked};
use crate::dto::{Direction, HumanRightsReport, ReportQuery};
use crate::problem::ApiError;
use crate::upstream::Caller;

/// The columns of the CSV answer: one row per entry, its `section` first, and the columns the other
/// sections have left empty.
pub const COLUMNS: [&str; 20] = [
    "section",
    "request_id",
    "reference",
    "partner_code",
    "direction",
    "state",
    "kind",
    "text",
    "status",
    "given_by",
    "given_time",
    "refusal_grounds",
    "reason",
    "refused_time",
    "consultation_waived_reason",
    "consultations",
    "document_id",
    "title",
    "release_time",
    "use_restrictions",
];

/// The human-rights report of the requests submitted in a period (NCIJC staff).
///
/// For the NCIJC's answers to international mechanisms: each assurance of kind
/// DEATH_PENALTY_NON_IMPOSITION, NON_TORTURE or FAIR_TRIAL sought on the requests (PROPOSED),
/// given (ACCEPTED) or declined; each request refused on PERSECUTION_RISK, DEATH_PENALTY_RISK,
/// TORTURE_RISK or FAIR_TRIAL_RISK, with the conditions proposed before the refusal (the
/// consultation of UNTOC art. 18(26)) or the reason it was waived; and each document released, with
/// its use restrictions. Each list in the order of the requests' references. A request belongs to
/// the period by when it was submitted, as in `GET /v1/statistics`; a strictly confidential one
/// only for those who may see it. With `format=csv` or `Accept: text/csv`, one row per entry, its
/// `section` (`assurance`, `refusal`, `release`) first; a list in a cell has one item per line. A
/// partner is 403.
#[utoipa::path(
    get,
    path = "/v1/reports/human-rights",
    tag = "statistics",
    operation_id = "GetHumanRightsReport",
    params(ReportQuery),
    responses(
        (status = 200, description = "The report; or, with `format=csv` or `Accept: text/csv`, the same as CSV.",
            content(
                (HumanRightsReport = "application/json"),
                (String = "text/csv"),
            )),
    ),
)]
pub async fn get_human_rights_report(
    State(gateway): State<Gateway>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let asked = period_asked(&caller, raw.as_deref())?;
    let message = pb::GetHumanRightsReportRequest {
        period_start: asked.start,
        period_end: asked.end,
        direction: asked.direction,
    };
    let report = gateway
        .statistics()
        .get_human_rights_report(caller.call(message))
        .await
        .map_err(|s| caller.fail(s))?
        .into_inner();
    let report = HumanRightsReport::from(report);
    if !asked.csv {
        return Ok(axum::Json(report).into_response());
    }
    let csv = csv_text(Some(&COLUMNS[..]), rows(&report));
    Ok(csv_file(csv.into(), HeaderValue::from_static("attachment; filename=\"human-rights-report.csv\"")))
}

/// The entries as CSV rows: the assurances, then the refusals, then the releases.
fn rows(r: &HumanRightsReport) -> Vec<Vec<String>> {
    let named = |name: Option<&'static str>| name.unwrap_or("").to_owned();
    let direction = |d: Option<Direction>| named(d.map(Direction::name));
    // One row of COLUMNS' width, with the cells given by name.
    let row = |cells: &[(&str, String)]| {
        COLUMNS
            .iter()
            .map(|column| {
                cells.iter().find(|(name, _)| name == column).map(|(_, v)| v.clone()).unwrap_or_default()
            })
            .collect::<Vec<String>>()
    };
    let mut rows = Vec::new();
    for a in &r.assurances {
        rows.push(row(&[
            ("section", "assurance".into()),
            ("request_id", a.request_id.clone()),
            ("reference", a.reference.clone()),
            ("partner_code", a.partner_code.clone()),
            ("direction", direction(a.direction)),
            ("state", named(a.state.map(|v| v.name()))),
            ("kind", named(a.kind.map(|v| v.name()))),
            ("text", a.text.clone()),
            ("status", named(a.status.map(|v| v.name()))),
            ("given_by", a.given_by.clone()),
            ("given_time", csv_time(a.given_time)),
        ]));
    }
    for f in &r.refusals {
        let grounds: Vec<&str> = f.refusal_grounds.iter().map(|g| g.name()).collect();
        let consultations: Vec<String> = f
            .consultations
            .iter()
            .map(|c| {
                let kind = named(c.kind.map(|v| v.name()));
                format!("{kind} {}: {}", named(c.status.map(|v| v.name())), c.text)
            })
            .collect();
        rows.push(row(&[
            ("section", "refusal".into()),
            ("request_id", f.request_id.clone()),
            ("reference", f.reference.clone()),
            ("partner_code", f.partner_code.clone()),
            ("direction", direction(f.direction)),
            ("refusal_grounds", grounds.join("\n")),
            ("reason", f.reason.clone()),
            ("refused_time", csv_time(f.refused_time)),
            ("consultation_waived_reason", f.consultation_waived_reason.clone()),
            ("consultations", consultations.join("\n")),
        ]));
    }
    for d in &r.releases {
        rows.push(row(&[
            ("section", "release".into()),
            ("request_id", d.request_id.clone()),
            ("reference", d.reference.clone()),
            ("partner_code", d.partner_code.clone()),
            ("kind", named(d.kind.map(|v| v.name()))),
            ("document_id", d.document_id.clone()),
            ("title", d.title.clone()),
            ("release_time", csv_time(d.release_time)),
            ("use_restrictions", d.use_restrictions.join("\n")),
        ]));
    }
    rows
}
