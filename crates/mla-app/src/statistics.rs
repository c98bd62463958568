//! The register in figures, and the human-rights report: what the NCIJC reports.

use mla_domain::request::Direction;
use mla_domain::{Principal, Scope, Timestamp};
use mla_store::{HumanRightsEntries, RequestQuery, RequestStatistics};

use crate::{App, AppError, AppResult};

/// What a report covers: the requests submitted at or after `start` and before `end` (an INCOMING
/// request when it reached the NCIJC, an OUTGOING one when the NCIJC sent it), in one direction or
/// both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: Timestamp,
    pub end: Timestamp,
    pub direction: Option<Direction>,
}

/// The figures of a period, and the instant they were computed at (what "overdue" is measured
/// against).
#[derive(Debug, Clone, PartialEq)]
pub struct Statistics {
    pub figures: RequestStatistics,
    pub as_of: Timestamp,
}

/// The human-rights report of a period, and the instant it was read at (the requests' states, the
/// assurances' answers and the releases are as of then).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HumanRightsReport {
    pub entries: HumanRightsEntries,
    pub as_of: Timestamp,
}

impl App {
    /// The figures of `period` as the principal's scope sees the register: a strictly confidential
    /// request counts only for those who may see it. NCIJC staff who read the register only.
    pub async fn statistics(&self, principal: &Principal, period: Period) -> AppResult<Statistics> {
        let query = period_query(principal, period)?;
        let as_of = self.now();
        let figures = self.store.request_statistics(&query, as_of).await?;
        Ok(Statistics { figures, as_of })
    }

    /// The human-rights report of `period` (assurances, refusals on human-rights grounds with the
    /// consultation held, releases), with the same audience and scope as [`App::statistics`].
    pub async fn human_rights_report(
        &self,
        principal: &Principal,
        period: Period,
    ) -> AppResult<HumanRightsReport> {
        let query = period_query(principal, period)?;
        let as_of = self.now();
        let entries = self.store.human_rights_report(&query).await?;
        Ok(HumanRightsReport { entries, as_of })
    }
}

/// The requests of `period` in the principal's scope; reports are for NCIJC staff who read the
/// register, and a period runs forward.
fn period_query(principal: &Principal, period: Period) -> AppResult<RequestQuery> {
    let scope = Scope::of(principal);
    if !scope.sees_internal_fields() {
        return Err(AppError::PermissionDenied("reports are for NCIJC staff who read the register"));
    }
    if period.end <= period.start {
        return Err(AppError::invalid("period_end", "must be after period_start"));
    }
    let mut query = RequestQuery::new(scope, 0);
    query.direction = period.direction;
    query.submitted_from = Some(period.start);
    query.submitted_until = Some(period.end);
    Ok(query)
}
