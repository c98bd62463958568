//! The register in figures: the requests a query selects counted by state, partner, type and
//! direction, by refusal ground and condition kind, how long each stage took, and the overdue ones.
//!
//! Four queries, each over the scope and filters the lists use ([`push_filters`]) and run side by
//! side on connections of their own: one GROUP BY over the four dimensions at once, whose rows the
//! breakdowns are folded from (with the overdue count beside); one each over the refused and the
//! conditioned requests' JSON (partial indexes hold those few); and one for the durations, whose
//! percentiles the backend computes as it can ([`Dialect::push_percentiles`]).

use std::collections::BTreeMap;

use mla_domain::request::{ConditionKind, Direction, RefusalGround, RequestType};
use mla_domain::{PartnerCode, Scope, State, Timestamp};
use mla_store::{ConditionTally, Durations, RequestQuery, RequestStatistics, StoreResult};
use sqlx::QueryBuilder;

use crate::SqlStore;
use crate::dialect::{Dialect, Driver};
use crate::errors::{corrupt, db_error};
use crate::requests::{RUNNING, push_filters};
use crate::rows::Fields;

/// The stages timed from submission, by the column that records when each was reached.
const STAGES: [(&str, &str); 3] =
    [("acknowledgement", "received_time"), ("decision", "decided_time"), ("execution", "executed_time")];

impl<D: Dialect> SqlStore<D> {
    pub async fn request_statistics(
        &self,
        query: &RequestQuery,
        now: Timestamp,
    ) -> StoreResult<RequestStatistics> {
        if query.scope == Scope::Nothing {
            return Ok(RequestStatistics::default());
        }
        let (
            mut figures,
            by_refusal_ground,
            by_condition_kind,
            [to_acknowledgement, to_decision, to_execution],
        ) = tokio::try_join!(
            self.counts(query, now),
            self.refusal_grounds(query),
            self.conditions(query),
            self.durations(query),
        )?;
        figures.by_refusal_ground = by_refusal_ground;
        figures.by_condition_kind = by_condition_kind;
        figures.to_acknowledgement = to_acknowledgement;
        figures.to_decision = to_decision;
        figures.to_execution = to_execution;
        Ok(figures)
    }

    /// The rows of a report's read, on a connection of its own (so that reads may run side by side),
    /// under the backend's settings for reading a whole period ([`Dialect::REPORT_SETTINGS`]).
    pub(crate) async fn fetch(&self, sql: QueryBuilder<D::Db>) -> StoreResult<Vec<crate::dialect::DbRow<D>>> {
        let Some(settings) = D::REPORT_SETTINGS else {
            let mut conn = self.reader.acquire().await.map_err(db_error::<D>)?;
            return D::Db::fetch_all(&mut conn, sql).await.map_err(db_error::<D>);
        };
        let mut tx = self.reader.begin().await.map_err(db_error::<D>)?;
        D::Db::execute(&mut tx, QueryBuilder::new(settings)).await.map_err(db_error::<D>)?;
        let rows = D::Db::fetch_all(&mut tx, sql).await.map_err(db_error::<D>)?;
        tx.commit().await.map_err(db_error::<D>)?;
        Ok(rows)
    }

    /// The counts by every dimension and the overdue ones, from one GROUP BY.
    async fn counts(&self, query: &RequestQuery, now: Timestamp) -> StoreResult<RequestStatistics> {
        let mut sql = QueryBuilder::new(format!(
            "SELECT direction, state, partner_code, request_type, COUNT(*) AS requests, \
             COUNT(CASE WHEN {RUNNING} AND due_at < "
        ));
        D::push_time(&mut sql, Some(now));
        sql.push(" THEN 1 END) AS overdue FROM requests WHERE ");
        push_filters::<D>(&mut sql, query);
        sql.push(" GROUP BY direction, state, partner_code, request_type");
        let mut by_state: BTreeMap<State, u64> = BTreeMap::new();
        let mut by_partner: BTreeMap<PartnerCode, u64> = BTreeMap::new();
        let mut by_request_type: BTreeMap<Option<RequestType>, u64> = BTreeMap::new();
        let mut by_direction: BTreeMap<Direction, u64> = BTreeMap::new();
        let mut figures = RequestStatistics::default();
        for row in self.fetch(sql).await? {
            let f = Fields::<D>::new(&row);
            let requests = f.count("requests")?;
            let direction = f.direction("direction")?;
            let request_type = f
                .opt_text("request_type")?
                .map(|raw| RequestType::parse(&raw).ok_or_else(|| corrupt("request type", raw)))
                .transpose()?;
            *by_state.entry(f.state("state")?).or_default() += requests;
            *by_partner.entry(f.partner_code("partner_code")?).or_default() += requests;
            *by_request_type.entry(request_type).or_default() += requests;
            *by_direction.entry(direction).or_default() += requests;
            figures.requests += requests;
            figures.overdue += f.count("overdue")?;
        }
        figures.by_state = by_state.into_iter().collect();
        figures.by_partner = by_partner.into_iter().collect();
        figures.by_request_type = by_request_type.into_iter().collect();
        figures.by_direction = by_direction.into_iter().collect();
        Ok(figures)
    }

    /// Each refused request once under each of its grounds.
    async fn refusal_grounds(&self, query: &RequestQuery) -> StoreResult<Vec<(RefusalGround, u64)>> {
        let mut sql = QueryBuilder::new(format!(
            "SELECT ground.value AS ground, COUNT(*) AS requests FROM requests CROSS JOIN {} WHERE ",
            D::json_elements("requests.refusal_grounds", "ground")
        ));
        push_filters::<D>(&mut sql, query);
        // As the partial index `requests_refused` is written, which holds the few refused ones
        // with their grounds and the scope's columns (an index-only scan).
        sql.push(" AND refusal_grounds <> '[]' GROUP BY ground.value");
        let mut grounds = Vec::new();
        for row in self.fetch(sql).await? {
            let f = Fields::<D>::new(&row);
            let raw = f.text("ground")?;
            let ground = RefusalGround::parse(&raw).ok_or_else(|| corrupt("refusal ground", raw))?;
            grounds.push((ground, f.count("requests")?));
        }
        grounds.sort();
        Ok(grounds)
    }

    /// The conditions proposed, by kind, and how many of them were accepted or declined.
    async fn conditions(&self, query: &RequestQuery) -> StoreResult<Vec<ConditionTally>> {
        let kind = D::json_member("item.value", "kind");
        let status = D::json_member("item.value", "status");
        let mut sql = QueryBuilder::new(format!(
            "SELECT {kind} AS kind, COUNT(*) AS requested, \
             COUNT(CASE WHEN {status} = 'ACCEPTED' THEN 1 END) AS accepted, \
             COUNT(CASE WHEN {status} = 'DECLINED' THEN 1 END) AS declined \
             FROM requests CROSS JOIN {} WHERE ",
            D::json_elements("requests.conditions", "item")
        ));
        push_filters::<D>(&mut sql, query);
        // As the partial index `requests_conditioned` is written.
        sql.push(" AND conditions <> '[]' GROUP BY 1");
        let mut tallies = Vec::new();
        for row in self.fetch(sql).await? {
            let f = Fields::<D>::new(&row);
            let raw = f.text("kind")?;
            tallies.push(ConditionTally {
                kind: ConditionKind::parse(&raw).ok_or_else(|| corrupt("condition kind", raw))?,
                requested: f.count("requested")?,
                accepted: f.count("accepted")?,
                declined: f.count("declined")?,
            });
        }
        tallies.sort_by_key(|t| t.kind);
        Ok(tallies)
    }

    /// The days from submission to each stage, over the requests that reached it.
    async fn durations(&self, query: &RequestQuery) -> StoreResult<[Durations; 3]> {
        let mut sql = QueryBuilder::new("");
        let stages = STAGES.map(|(stage, _)| stage);
        D::push_percentiles(&mut sql, &stages, |sql| {
            let days: Vec<String> = STAGES
                .iter()
                .map(|(stage, reached)| format!("{} AS {stage}", D::days_between("submit_time", reached)))
                .collect();
            sql.push(format!("SELECT {} FROM requests WHERE ", days.join(", ")));
            push_filters::<D>(sql, query);
        });
        let rows = self.fetch(sql).await?;
        let row = rows.first().ok_or_else(|| corrupt("durations", "the aggregate returned no row"))?;
        let f = Fields::<D>::new(row);
        let mut durations = [Durations::default(); 3];
        for (figures, stage) in durations.iter_mut().zip(stages) {
            let requests = f.count(&format!("{stage}_requests"))?;
            // Each bucket is the count below its upper edge less the count below its lower one.
            let mut below = Vec::with_capacity(Durations::EDGES.len() + 2);
            below.push(0);
            for edge in 0..Durations::EDGES.len() {
                below.push(f.count(&format!("{stage}_below{edge}"))?);
            }
            below.push(requests);
            let mut distribution = [0; Durations::EDGES.len() + 1];
            for (bucket, bounds) in distribution.iter_mut().zip(below.windows(2)) {
                *bucket = bounds[1].saturating_sub(bounds[0]);
            }
            *figures = Durations {
                requests,
                median_days: f.opt_float(&format!("{stage}_median"))?,
                p90_days: f.opt_float(&format!("{stage}_p90"))?,
                distribution,
            };
        }
        Ok(durations)
    }
}

/// The aggregate columns that count, for each edge of the distribution's scale
/// ([`Durations::EDGES`]), the `days` (a column of the stage's durations, NULL where it was not
/// reached) below it, named `{stage}_below{i}`: one comparison per edge and row, in the same pass as
/// the percentiles.
pub fn distribution_columns(days: &str, stage: &str) -> String {
    let columns: Vec<String> = Durations::EDGES
        .iter()
        .enumerate()
        .map(|(i, edge)| format!("COUNT(CASE WHEN {days} < {edge:?} THEN 1 END) AS {stage}_below{i}"))
        .collect();
    columns.join(", ")
}
