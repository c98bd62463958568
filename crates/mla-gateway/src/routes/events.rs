//! `GET /v1/events`: the WatchEvents stream as server-sent events, resumable by cursor.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use mla_proto::v1 as pb;

use super::{Gateway, query};
use crate::dto::{Event, WatchQuery};
use crate::problem::{ApiError, Problem};
use crate::upstream::Caller;

/// Ends every live feed when the server begins to shut down, put in the request extensions by
/// [`crate::serve`]: a feed never ends by itself, and a graceful shutdown waits for open responses.
#[derive(Debug, Clone)]
pub struct Closing(pub tokio_util::sync::CancellationToken);

/// Streams events as server-sent events: first every event the caller may see after the cursor,
/// then new ones live.
///
/// Each event's SSE `id` is its cursor, and its `data` the Event as JSON. A client that loses the
/// stream reconnects with `Last-Event-ID` (browsers' EventSource does so by itself) or `?after=`,
/// which wins when both are given, and misses nothing. Comments keep idle connections open. An error
/// after the stream started arrives as an SSE event named `error` whose data is a problem, and the
/// stream ends.
#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "events",
    operation_id = "WatchEvents",
    params(
        WatchQuery,
        ("Last-Event-ID" = Option<i64>, Header, nullable = false, minimum = 0, description = "The cursor of the last event received, as EventSource sends it on reconnection; `after` wins over it."),
    ),
    responses(
        (status = 200, description = "An endless `text/event-stream` of events; each `id:` is the event's cursor and each `data:` an Event.",
            content((StreamItem = "text/event-stream"))),
    ),
)]
pub async fn watch_events(
    State(gateway): State<Gateway>,
    caller: Caller,
    closing: Option<axum::Extension<Closing>>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q: WatchQuery = query(&caller, raw.as_deref())?;
    let after = match q.after {
        Some(after) => after,
        None => match caller.header("last-event-id") {
            None => String::new(),
            Some(value) => value
                .to_str()
                .map_err(|_| caller.invalid("Last-Event-ID", "an event cursor"))?
                .trim()
                .to_owned(),
        },
    };
    let message = pb::WatchEventsRequest { after_cursor: after };
    // The first answer (a refusal, or the stream's headers) comes before any event: a refusal is a
    // plain HTTP error, not a stream.
    let stream =
        gateway.requests().watch_events(caller.stream_call(message)).await.map_err(|s| caller.fail(s))?;
    let events = sse_events(stream.into_inner(), caller);
    let events: std::pin::Pin<Box<dyn Stream<Item = Result<SseEvent, Infallible>> + Send>> = match closing {
        Some(axum::Extension(Closing(token))) => Box::pin(events.take_until(token.cancelled_owned())),
        None => Box::pin(events),
    };
    let keep_alive = KeepAlive::new().interval(gateway.config.keep_alive.max(Duration::from_millis(100)));
    Ok(Sse::new(events).keep_alive(keep_alive).into_response())
}

fn sse_events(
    stream: tonic::Streaming<pb::Event>,
    caller: Caller,
) -> impl Stream<Item = Result<SseEvent, Infallible>> + Send {
    futures::stream::unfold(Some(stream), move |state| {
        let caller = caller.clone();
        async move {
            let mut stream = state?;
            match stream.message().await {
                Ok(Some(event)) => {
                    let id = event.cursor.to_string();
                    let sse = SseEvent::default()
                        .id(id)
                        .json_data(StreamItem::Event(Box::new(Event::from(event))))
                        .unwrap_or_else(|_| SseEvent::default().comment("an event could not be encoded"));
                    Some((Ok(sse), Some(stream)))
                }
                Ok(None) => None,
                Err(status) => {
                    let problem = caller.fail(status).problem;
                    let sse = SseEvent::default()
                        .event("error")
                        .json_data(StreamItem::Error(problem))
                        .unwrap_or_else(|_| SseEvent::default().event("error"));
                    Some((Ok(sse), None))
                }
            }
        }
    })
}

/// The data of one item of the event stream: an Event, or, in the last item (named `error`), the
/// problem that ended the stream.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum StreamItem {
    Event(Box<Event>),
    Error(Box<Problem>),
}
