//! Resource limits per caller, so that one partner's system (or one staff tool) cannot starve the
//! others: a rate (a token bucket, `governor`'s GCRA), calls in flight, and open WatchEvents streams.
//! A call over a limit is RESOURCE_EXHAUSTED with its reason and a `RetryInfo`; the gateway's calls
//! pass the same layer in-process, so REST is held to the same limits.
//!
//! Limits are counted per partner (all of its systems and tokens together) and per staff member.
//! Open calls (health, reflection, the broker's public keys) carry no principal and are not limited.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use futures::future::BoxFuture;
use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota};
use http::{Request, Response};
use mla_domain::{PartnerCode, Principal};
use tonic::Status;
use tonic::body::Body;

use crate::error::limited;

/// The one long-lived call: a follower holds it open for hours, so it counts against the stream
/// limit, and against the concurrency limit only until its stream is set up.
const WATCH_EVENTS: &str = "/mla.v1.RequestService/WatchEvents";

/// What a caller refused for too many calls in flight is asked to wait: most calls end within it.
const CONCURRENCY_RETRY: Duration = Duration::from_millis(250);
/// What a caller refused for too many open streams is asked to wait: a stream frees its place only
/// when one of its followers goes away.
const STREAMS_RETRY: Duration = Duration::from_secs(5);

pub const DEFAULT_CALLS_PER_SECOND: u32 = 200;
pub const DEFAULT_BURST: u32 = 400;
pub const DEFAULT_CONCURRENT_CALLS: u32 = 64;
pub const DEFAULT_STREAMS: u32 = 32;

/// The limits each caller is held to; 0 turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSettings {
    /// Calls per second a caller may keep up.
    pub calls_per_second: u32,
    /// Calls a caller may make at once after a quiet spell (the bucket's size).
    pub burst: u32,
    /// Calls of one caller in flight at once (WatchEvents streams aside).
    pub concurrent_calls: u32,
    /// WatchEvents streams one caller may hold open.
    pub streams: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            calls_per_second: DEFAULT_CALLS_PER_SECOND,
            burst: DEFAULT_BURST,
            concurrent_calls: DEFAULT_CONCURRENT_CALLS,
            streams: DEFAULT_STREAMS,
        }
    }
}

impl LimitSettings {
    /// No limit at all: for load harnesses that measure the broker rather than a caller's share.
    pub fn off() -> Self {
        Self { calls_per_second: 0, burst: 0, concurrent_calls: 0, streams: 0 }
    }
}

/// Who a limit is counted for: a partner as a whole, however many systems and tokens it uses, and
/// a staff member by subject.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Caller {
    Partner(PartnerCode),
    Staff(String),
}

impl Caller {
    fn of(principal: &Principal) -> Self {
        match principal.partner_code() {
            Some(code) => Caller::Partner(code.clone()),
            None => Caller::Staff(principal.subject().to_owned()),
        }
    }
}

/// The limits and what each caller is using of them, shared by the gRPC server and the in-process
/// gateway so that a caller has one allowance whichever door it uses.
#[derive(Debug, Clone)]
pub struct Limits(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    settings: LimitSettings,
    /// One bucket per caller. Keys are authenticated callers, so the map stays as small as the
    /// registry of partners and staff.
    rate: Option<DefaultKeyedRateLimiter<Caller>>,
    calls: Option<Arc<Slots>>,
    streams: Option<Arc<Slots>>,
    /// Every WatchEvents stream open now, whoever holds it and whether or not streams are limited.
    open_streams: Arc<AtomicU64>,
}

impl Limits {
    pub fn new(settings: LimitSettings) -> Self {
        let rate = NonZeroU32::new(settings.calls_per_second).map(|per_second| {
            // No burst configured: a second's worth of calls.
            let burst = NonZeroU32::new(settings.burst).unwrap_or(per_second);
            DefaultKeyedRateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst))
        });
        let slots = |max: u32| NonZeroU32::new(max).map(|max| Arc::new(Slots::new(max)));
        Limits(Arc::new(Shared {
            settings,
            rate,
            calls: slots(settings.concurrent_calls),
            streams: slots(settings.streams),
            open_streams: Arc::default(),
        }))
    }

    /// The WatchEvents streams open now, all callers together.
    pub fn open_streams(&self) -> u64 {
        self.0.open_streams.load(Ordering::Relaxed)
    }

    /// Admits one call of `caller`: a place among its calls in flight, then a token of its rate. A
    /// call refused for concurrency spends no token.
    fn admit(&self, caller: &Caller) -> Result<Option<Slot>, Status> {
        let slot = match &self.0.calls {
            Some(calls) => Some(calls.take(caller).ok_or_else(|| {
                limited(
                    "TOO_MANY_CONCURRENT_CALLS",
                    calls.max,
                    &format!(
                        "{} calls of this caller are in flight already; retry when one has ended",
                        calls.max
                    ),
                    CONCURRENCY_RETRY,
                )
            })?),
            None => None,
        };
        if let Some(rate) = &self.0.rate
            && let Err(not_until) = rate.check_key(caller)
        {
            let wait = not_until.wait_time_from(rate.clock().now()).max(Duration::from_millis(1));
            return Err(limited(
                "RATE_LIMITED",
                self.0.settings.calls_per_second,
                &format!(
                    "more than {} calls per second (bursts of {}) from this caller; retry in {} ms",
                    self.0.settings.calls_per_second,
                    not_until.quota().burst_size(),
                    wait.as_millis().max(1)
                ),
                wait,
            ));
        }
        Ok(slot)
    }

    /// Opens a WatchEvents stream for `principal`: its place is held until the stream is dropped,
    /// whether it ended or its follower went away.
    pub(crate) fn open_stream(&self, principal: &Principal) -> Result<StreamPlace, Status> {
        let slot = match &self.0.streams {
            None => None,
            Some(streams) => Some(streams.take(&Caller::of(principal)).ok_or_else(|| {
                limited(
                    "TOO_MANY_STREAMS",
                    streams.max,
                    &format!(
                        "{} event streams of this caller are open already; close one first",
                        streams.max
                    ),
                    STREAMS_RETRY,
                )
            })?),
        };
        self.0.open_streams.fetch_add(1, Ordering::Relaxed);
        Ok(StreamPlace { _slot: slot, open: Arc::clone(&self.0.open_streams) })
    }
}

/// Counted places per caller, up to `max` each.
#[derive(Debug)]
struct Slots {
    max: u32,
    taken: Mutex<HashMap<Caller, u32>>,
}

impl Slots {
    fn new(max: NonZeroU32) -> Self {
        Self { max: max.get(), taken: Mutex::default() }
    }

    fn take(self: &Arc<Self>, caller: &Caller) -> Option<Slot> {
        // The count stays right whatever panicked while it was held: every change is one statement.
        let mut taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        let count = taken.entry(caller.clone()).or_default();
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Slot { slots: Arc::clone(self), caller: caller.clone() })
    }
}

/// One place taken, given back when dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    slots: Arc<Slots>,
    caller: Caller,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut taken = self.slots.taken.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = taken.get_mut(&self.caller) {
            *count = count.saturating_sub(1);
            // Callers that hold nothing leave the map, which then holds only the callers busy now.
            if *count == 0 {
                taken.remove(&self.caller);
            }
        }
    }
}

/// An open WatchEvents stream's place: its caller's slot when streams are limited, and its part of
/// the count of open streams, both given back when dropped.
#[derive(Debug)]
pub(crate) struct StreamPlace {
    _slot: Option<Slot>,
    open: Arc<AtomicU64>,
}

impl Drop for StreamPlace {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A stream holding a place until it is dropped.
#[derive(Debug)]
pub(crate) struct Holding<S> {
    stream: S,
    _place: StreamPlace,
}

impl<S> Holding<S> {
    pub(crate) fn new(stream: S, place: StreamPlace) -> Self {
        Self { stream, _place: place }
    }
}

impl<S: Stream + Unpin> Stream for Holding<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        Pin::new(&mut self.stream).poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.stream.size_hint()
    }
}

/// A response body holding its call's place until the last byte is sent or the caller goes away:
/// a download or an evidence package is in flight until then, not when its first message is ready.
#[derive(Debug)]
struct HoldingBody {
    body: Body,
    _slot: Slot,
}

impl http_body::Body for HoldingBody {
    type Data = bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, Status>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The layer that holds each authenticated call to its caller's limits; it goes inside the
/// authentication layer, which attaches the principal it counts by.
#[derive(Debug, Clone)]
pub struct LimitLayer(Limits);

pub fn layer(limits: Limits) -> LimitLayer {
    LimitLayer(limits)
}

impl<S> tower::Layer<S> for LimitLayer {
    type Service = Limited<S>;

    fn layer(&self, inner: S) -> Limited<S> {
        Limited { inner, limits: self.0.clone() }
    }
}

/// A service behind [`LimitLayer`].
#[derive(Debug, Clone)]
pub struct Limited<S> {
    inner: S,
    limits: Limits,
}

impl<S> tower::Service<Request<Body>> for Limited<S>
where
    S: tower::Service<Request<Body>, Response = Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let Some(caller) = request.extensions().get::<Principal>().map(Caller::of) else {
            return Box::pin(self.inner.call(request));
        };
        let slot = match self.limits.admit(&caller) {
            Ok(slot) => slot,
            Err(status) => return Box::pin(futures::future::ready(Ok(status.into_http()))),
        };
        let long_lived = request.uri().path() == WATCH_EVENTS;
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await?;
            // A stream being followed counts against the stream limit instead (`open_stream`).
            match slot {
                Some(slot) if !long_lived => {
                    Ok(response.map(|body| Body::new(HoldingBody { body, _slot: slot })))
                }
                _ => Ok(response),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partner(code: &str) -> Caller {
        Caller::Partner(PartnerCode::parse(code).expect("a partner code"))
    }

    #[test]
    fn places_are_counted_per_caller_and_given_back_when_dropped() {
        let slots = Arc::new(Slots::new(NonZeroU32::new(2).unwrap()));
        let (france, germany) = (partner("FR-MOJ"), partner("DE-BJ"));
        let first = slots.take(&france).expect("a first place");
        let _second = slots.take(&france).expect("a second place");
        assert!(slots.take(&france).is_none(), "a third place is over the limit");
        assert!(slots.take(&germany).is_some(), "another caller has places of its own");
        drop(first);
        assert!(slots.take(&france).is_some(), "a dropped place is given back");
    }

    #[test]
    fn a_partners_systems_share_one_allowance_and_staff_have_their_own() {
        let code = PartnerCode::parse("FR-MOJ").unwrap();
        let one = Principal::partner("fr-system-1", code.clone()).unwrap();
        let two = Principal::partner("fr-system-2", code).unwrap();
        assert_eq!(Caller::of(&one), Caller::of(&two));
        let alice = Principal::staff("alice", [mla_domain::Role::Registrar]).unwrap();
        let bob = Principal::staff("bob", [mla_domain::Role::Registrar]).unwrap();
        assert_ne!(Caller::of(&alice), Caller::of(&bob));
    }

    #[test]
    fn over_its_rate_a_caller_is_told_how_long_to_wait() {
        let limits = Limits::new(LimitSettings { calls_per_second: 2, burst: 2, ..LimitSettings::off() });
        let france = partner("FR-MOJ");
        assert!(limits.admit(&france).is_ok() && limits.admit(&france).is_ok());
        let refused = limits.admit(&france).expect_err("the third call in a burst of two is refused");
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        use tonic_types::StatusExt as _;
        assert_eq!(refused.get_details_error_info().unwrap().reason, "RATE_LIMITED");
        let wait = refused.get_details_retry_info().and_then(|r| r.retry_delay).unwrap();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(500), "{wait:?}");
        assert!(limits.admit(&partner("DE-BJ")).is_ok(), "another partner has its own bucket");
    }
}
