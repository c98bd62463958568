//! The CSV export of requests: streamed page by page through ListRequests, so that a large registry
//! is never held in memory, with every cell quoted as CSV needs and guarded against formula
//! injection when the file is opened in a spreadsheet.

use std::borrow::Cow;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderValue, header};
use mla_proto::v1 as pb;
use mla_proto::v1::request_service_client::RequestServiceClient;

use super::requests::list_message;
use super::{Gateway, query};
use crate::dto::{Direction, Priority, RequestFilter, RequestType, State as RequestState};
use crate::problem::ApiError;
use crate::upstream::{Caller, Upstream};

/// The columns of the export, in order.
pub const COLUMNS: [&str; 15] = [
    "id",
    "reference",
    "direction",
    "partner_code",
    "state",
    "request_type",
    "priority",
    "title",
    "assignee",
    "due_time",
    "overdue",
    "create_time",
    "update_time",
    "received_time",
    "close_time",
];

/// Requests fetched from the broker per page when the caller names no page size.
const EXPORT_PAGE: i32 = 200;

/// Exports every request the caller may see that matches the filters, as CSV.
///
/// The same filters as `GET /v1/requests`; `page_size` sets how many requests are fetched from the
/// broker at a time. Cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`,
/// `@`, tab or carriage return) are prefixed with a single quote. An error after the first page
/// ends the response early (the body is cut short, with no closing chunk).
#[utoipa::path(
    get,
    path = "/v1/requests.csv",
    tag = "requests",
    operation_id = "ExportRequests",
    params(RequestFilter),
    responses(
        (status = 200, description = "A header row, then one row per request, newest first.",
            content((String = "text/csv")),
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"requests.csv\"`"))),
    ),
)]
pub async fn export_requests(
    State(gateway): State<Gateway>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let filter: RequestFilter = query(&caller, raw.as_deref())?;
    export(gateway, caller, filter).await
}

/// Whether the `Accept` header prefers CSV to JSON (a tie, as with `*/*`, goes to JSON).
pub fn wants_csv(accept: Option<&HeaderValue>) -> bool {
    let Some(accept) = accept.and_then(|v| v.to_str().ok()) else { return false };
    let (mut csv, mut json) = (0.0_f32, 0.0_f32);
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()))
            .next()
            .unwrap_or(1.0);
        match media.as_str() {
            "text/csv" => csv = csv.max(q),
            "application/json" => json = json.max(q),
            "*/*" => {
                csv = csv.max(q * 0.5);
                json = json.max(q);
            }
            _ => {}
        }
    }
    csv > json
}

pub async fn export(gateway: Gateway, caller: Caller, filter: RequestFilter) -> Result<Response, ApiError> {
    let mut message = list_message(&caller, &filter)?;
    if message.page_size == 0 {
        message.page_size = EXPORT_PAGE;
    }
    // The first page is fetched before answering, so that a refusal (401, 403, 400) is an HTTP
    // status rather than a cut-off file.
    let mut client = gateway.requests();
    let first =
        client.list_requests(caller.call(message.clone())).await.map_err(|s| caller.fail(s))?.into_inner();
    let head = page_csv(true, &first.requests);
    let pager = Pager { token: first.next_page_token, message, client, caller };
    let rest = futures::stream::unfold(pager, next_page);
    let body: futures::stream::BoxStream<'static, Result<Bytes, std::io::Error>> =
        Box::pin(futures::stream::once(async move { Ok(head) }).chain(rest).fuse());
    Ok(csv_file(Body::from_stream(body), HeaderValue::from_static("attachment; filename=\"requests.csv\"")))
}

/// A CSV answer to save as a file (`disposition` names it).
pub fn csv_file(body: Body, disposition: HeaderValue) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    headers.insert(header::CONTENT_DISPOSITION, disposition);
    response
}

/// Where the export stands between two pages.
struct Pager {
    token: String,
    message: pb::ListRequestsRequest,
    client: RequestServiceClient<Upstream>,
    caller: Caller,
}

/// The next page as CSV, or the end of the export.
async fn next_page(mut pager: Pager) -> Option<(Result<Bytes, std::io::Error>, Pager)> {
    if pager.token.is_empty() {
        return None;
    }
    pager.message.page_token = std::mem::take(&mut pager.token);
    match pager.client.list_requests(pager.caller.call(pager.message.clone())).await {
        Ok(page) => {
            let page = page.into_inner();
            pager.token = page.next_page_token;
            Some((Ok(page_csv(false, &page.requests)), pager))
        }
        Err(status) => {
            // The status line is long gone: all the client can be told is that the body is cut short.
            tracing::warn!(code = ?status.code(), "the CSV export stopped: a page could not be read");
            let error = std::io::Error::other(format!("the export stopped: {}", status.message()));
            Some((Err(error), pager))
        }
    }
}

/// Rows as CSV text (CRLF line ends, cells quoted as needed and [`defused`]), after `header` when
/// given. Every row has the header's width.
pub fn csv_text(header: Option<&[&str]>, rows: impl IntoIterator<Item = Vec<String>>) -> Bytes {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    // Writing into a Vec cannot fail.
    if let Some(header) = header {
        writer.write_record(header).expect("writing to memory");
    }
    for row in rows {
        writer.write_record(row.iter().map(|cell| defused(cell).into_owned())).expect("writing to memory");
    }
    Bytes::from(writer.into_inner().expect("writing to memory"))
}

/// One page as CSV text, with the header row first when asked.
fn page_csv(header_row: bool, requests: &[pb::Request]) -> Bytes {
    let rows = requests.iter().map(|r| {
        let enum_name = |name: Option<&'static str>| name.unwrap_or("");
        let time = |t: &Option<prost_types::Timestamp>| {
            t.as_ref()
                .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
                .unwrap_or_default()
        };
        vec![
            r.id.clone(),
            r.reference.clone(),
            enum_name(Direction::from_wire(r.direction).map(Direction::name)).into(),
            r.partner_code.clone(),
            enum_name(RequestState::from_wire(r.state).map(RequestState::name)).into(),
            enum_name(RequestType::from_wire(r.request_type).map(RequestType::name)).into(),
            enum_name(Priority::from_wire(r.priority).map(Priority::name)).into(),
            r.title.clone(),
            r.assignee.clone(),
            time(&r.due_time),
            r.overdue.to_string(),
            time(&r.create_time),
            time(&r.update_time),
            time(&r.received_time),
            time(&r.close_time),
        ]
    });
    csv_text(header_row.then_some(&COLUMNS[..]), rows)
}

/// A cell that a spreadsheet will show as text, never run as a formula (OWASP's CSV injection
/// advice): text that starts with a formula trigger gets a leading single quote.
pub fn defused(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_cells_are_quoted_and_defused() {
        let request = pb::Request {
            title: "=HYPERLINK(\"http://x\",\"a, b\")".into(),
            state: pb::State::Draft as i32,
            ..Default::default()
        };
        let text = String::from_utf8(page_csv(true, &[request]).to_vec()).unwrap();
        let mut lines = text.split("\r\n");
        assert_eq!(lines.next().unwrap(), COLUMNS.join(","));
        let row = lines.next().unwrap();
        assert!(row.contains(r#""'=HYPERLINK(""http://x"",""a, b"")""#), "{row}");
        assert!(row.contains(",DRAFT,"), "{row}");
        assert_eq!(defused("-1"), "'-1");
        assert_eq!(defused("Bank records"), "Bank records");
    }

    #[test]
    fn csv_is_chosen_only_when_preferred() {
        let accept = |v: &'static str| wants_csv(Some(&HeaderValue::from_static(v)));
        assert!(accept("text/csv"));
        assert!(accept("text/csv, application/json;q=0.5"));
        assert!(!accept("application/json, text/csv"));
        assert!(!accept("*/*"));
        assert!(accept("text/csv, */*;q=0.1"));
        assert!(!wants_csv(None));
    }
}
