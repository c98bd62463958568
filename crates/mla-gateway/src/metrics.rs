//! `/metrics`: the Prometheus page of the process, and the gateway's own figures on it (calls per
//! route, by method and status, and their durations).
//!
//! A route is labelled by its template (`/v1/requests/{id}`), never by the path asked for, so that the
//! number of series stays that of the routes; a path no route matches is `unmatched`, and a method
//! the gateway does not serve is `OTHER`. A call's duration runs to its response headers: for the
//! live feed and documents' content, that is the time to the start of the stream.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use futures::future::BoxFuture;
use http::Method;
use prometheus::{Encoder as _, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};

/// The page `/metrics` serves: a registry (the process's figures, which the gateway adds its own to)
/// and what brings the figures read at scrape time up to date first.
#[derive(Clone)]
pub struct MetricsPage {
    registry: Registry,
    http: HttpMetrics,
    refresh: Option<Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>>,
}

impl MetricsPage {
    /// Registers the gateway's figures in `registry`; fails if they are there already (one page per
    /// registry).
    pub fn new(registry: Registry) -> prometheus::Result<Self> {
        let http = HttpMetrics::new(&registry)?;
        Ok(Self { registry, http, refresh: None })
    }

    /// Runs `refresh` before each scrape: the figures that are read rather than counted (the
    /// register's, the pools'). It must not fail the page: what it cannot read, it leaves out.
    pub fn refreshing<F, Fut>(self, refresh: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self { refresh: Some(Arc::new(move || Box::pin(refresh()))), ..self }
    }

    pub(crate) fn http(&self) -> &HttpMetrics {
        &self.http
    }

    /// The page in the text exposition format.
    pub(crate) async fn render(&self) -> Result<String, prometheus::Error> {
        if let Some(refresh) = &self.refresh {
            refresh().await;
        }
        let mut page = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut page)?;
        String::from_utf8(page).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

impl fmt::Debug for MetricsPage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsPage").finish_non_exhaustive()
    }
}

/// The gateway's counters and histograms.
#[derive(Debug, Clone)]
pub(crate) struct HttpMetrics {
    calls: IntCounterVec,
    seconds: HistogramVec,
}

impl HttpMetrics {
    fn new(registry: &Registry) -> prometheus::Result<Self> {
        let calls = IntCounterVec::new(
            Opts::new("mla_http_requests_total", "REST gateway calls answered, by method, route and status."),
            &["method", "route", "status"],
        )?;
        let seconds = HistogramVec::new(
            HistogramOpts::new(
                "mla_http_request_duration_seconds",
                "Time from a REST call's arrival to its response headers (a stream's start).",
            ),
            &["method", "route"],
        )?;
        registry.register(Box::new(calls.clone()))?;
        registry.register(Box::new(seconds.clone()))?;
        Ok(Self { calls, seconds })
    }
}

/// The route a response answered, passed out from inside the router (where it is known) to
/// [`measure`] (outside, where errors of the middleware are answered too).
#[derive(Debug, Clone)]
struct Answered(MatchedPath);

/// Marks each routed response with its route's template (a route layer: routes only).
pub(crate) async fn mark_route(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(Answered(route));
    }
    response
}

/// Counts and times every call to the gateway.
pub(crate) async fn measure(State(metrics): State<HttpMetrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let response = next.run(request).await;
    let route = response.extensions().get::<Answered>().map_or("unmatched", |Answered(route)| route.as_str());
    let status = response.status();
    metrics.calls.with_label_values(&[method, route, status.as_str()]).inc();
    metrics.seconds.with_label_values(&[method, route]).observe(started.elapsed().as_secs_f64());
    response
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}
