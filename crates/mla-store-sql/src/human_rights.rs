//! The human-rights report: the assurances sought on the requests a query selects, their refusals
//! on a human-rights ground with the consultation held before, and the documents released.
//!
//! Two queries, whatever the number of requests, each over the scope and filters the lists use
//! ([`push_filters`]) in a derived table (so that no column of the tables joined to it can stand in
//! for a request's): one for the requests with a human-rights condition or ground, with the reasons
//! their REFUSE event gave; one for the released documents, each with the time of the
//! DOCUMENTS_RELEASED event that names it (the documents table keeps no release time).

use mla_domain::Scope;
use mla_domain::document::DOCUMENTS_RELEASED;
use mla_domain::document::{DocumentId, DocumentKind};
use mla_domain::request::{Condition, ConditionKind, RefusalGround};
use mla_store::{
    HumanRightsEntries, ReportedAssurance, ReportedRefusal, ReportedRelease, ReportedRequest, RequestQuery,
    StoreResult,
};
use sqlx::QueryBuilder;

use crate::SqlStore;
use crate::dialect::Dialect;
use crate::errors::corrupt;
use crate::requests::push_filters;
use crate::rows::Fields;

/// The columns of a request that name it in the report; `r` is the derived table of the requests.
const REQUEST: &str = "r.id, r.direction, r.year, r.number, r.partner_code";

/// The report's order: the registry reference's (INCOMING before OUTGOING, then year and number),
/// read off the unique index on them.
const BY_REFERENCE: &str = "r.direction, r.year, r.number";

impl<D: Dialect> SqlStore<D> {
    pub async fn human_rights_report(&self, query: &RequestQuery) -> StoreResult<HumanRightsEntries> {
        if query.scope == Scope::Nothing {
            return Ok(HumanRightsEntries::default());
        }
        let ((assurances, refusals), releases) =
            tokio::try_join!(self.assurances_and_refusals(query), self.releases(query))?;
        Ok(HumanRightsEntries { assurances, refusals, releases })
    }

    /// The requests with a human-rights condition or refused on a human-rights ground, their
    /// conditions and grounds split into entries here (a condition's place on its request is its
    /// order), with the reasons of their refusal.
    async fn assurances_and_refusals(
        &self,
        query: &RequestQuery,
    ) -> StoreResult<(Vec<ReportedAssurance>, Vec<ReportedRefusal>)> {
        let kinds =
            listed(ConditionKind::ALL.iter().filter(|k| k.is_human_rights_assurance()).map(|k| k.as_str()));
        let grounds =
            listed(RefusalGround::ALL.iter().filter(|g| g.is_human_rights_risk()).map(|g| g.as_str()));
        let mut sql = QueryBuilder::new(format!(
            "SELECT {REQUEST}, r.state, r.conditions, r.refusal_grounds, r.decided_time, \
             {} AS reason, {} AS consultation_waived_reason \
             FROM (SELECT id, direction, year, number, partner_code, state, conditions, refusal_grounds, \
             decided_time FROM requests WHERE ",
            D::json_member("refusal.details", "reason"),
            D::json_member("refusal.details", "consultation_waived_reason"),
        ));
        push_filters::<D>(&mut sql, query);
        sql.push(format!(
            " AND ((conditions <> '[]' AND EXISTS (SELECT 1 FROM {} WHERE {} IN ({kinds}))) \
             OR (refusal_grounds <> '[]' AND EXISTS (SELECT 1 FROM {} WHERE ground.value IN ({grounds}))))) AS r \
             LEFT JOIN events AS refusal ON refusal.request_id = r.id AND refusal.action = 'REFUSE' \
             ORDER BY {BY_REFERENCE}",
            D::json_elements("requests.conditions", "item"),
            D::json_member("item.value", "kind"),
            D::json_elements("requests.refusal_grounds", "ground"),
        ));
        let (mut assurances, mut refusals) = (Vec::new(), Vec::new());
        for row in self.fetch(sql).await? {
            let f = Fields::<D>::new(&row);
            let request = reported_request(&f)?;
            let state = f.state("state")?;
            let conditions: Vec<Condition> = f.json("conditions")?;
            let refusal_grounds: Vec<RefusalGround> = f.json("refusal_grounds")?;
            assurances.extend(
                conditions.iter().filter(|c| c.kind.is_human_rights_assurance()).map(|c| ReportedAssurance {
                    request: request.clone(),
                    state,
                    condition: c.clone(),
                }),
            );
            if refusal_grounds.iter().any(|g| g.is_human_rights_risk()) {
                refusals.push(ReportedRefusal {
                    refused_time: f.time("decided_time")?,
                    reason: f.opt_text("reason")?.unwrap_or_default(),
                    consultation_waived_reason: f.opt_text("consultation_waived_reason")?.unwrap_or_default(),
                    request,
                    grounds: refusal_grounds,
                    // No condition can be proposed once a request is refused: all of them came before.
                    consultations: conditions,
                });
            }
        }
        Ok((assurances, refusals))
    }

    /// The released documents of the requests, in upload order within each.
    async fn releases(&self, query: &RequestQuery) -> StoreResult<Vec<ReportedRelease>> {
        // The release event names each document it released as `{"document_id", "sha256"}`, and
        // a document is released once (only a withheld one can be).
        let mut sql = QueryBuilder::new(format!(
            "SELECT {REQUEST}, CAST(documents.id AS TEXT) AS document_id, documents.kind, documents.title, \
             documents.use_restrictions, (SELECT MIN(custody.time) FROM events AS custody CROSS JOIN {} \
             WHERE custody.request_id = r.id AND custody.action = '{}' AND {} = CAST(documents.id AS TEXT)) \
             AS release_time FROM (SELECT id, direction, year, number, partner_code FROM requests WHERE ",
            D::json_member_elements("custody.details", "documents", "released"),
            DOCUMENTS_RELEASED,
            D::json_member("released.value", "document_id"),
        ));
        push_filters::<D>(&mut sql, query);
        sql.push(format!(
            ") AS r JOIN documents ON documents.request_id = r.id \
             WHERE documents.release_state = 'RELEASED' ORDER BY {BY_REFERENCE}, documents.id"
        ));
        let mut releases = Vec::new();
        for row in self.fetch(sql).await? {
            let f = Fields::<D>::new(&row);
            let kind = f.text("kind")?;
            releases.push(ReportedRelease {
                request: reported_request(&f)?,
                document_id: DocumentId::parse(&f.text("document_id")?)
                    .map_err(|e| corrupt("document id", e))?,
                title: f.short_text("title")?,
                kind: DocumentKind::parse(&kind).ok_or_else(|| corrupt("document kind", kind))?,
                release_time: f.opt_time("release_time")?,
                use_restrictions: f.text_list("use_restrictions")?,
            });
        }
        Ok(releases)
    }
}

/// Vocabulary values as a SQL list of literals (they are upper-case letters and underscores).
fn listed<'a>(values: impl Iterator<Item = &'a str>) -> String {
    values.map(|v| format!("'{v}'")).collect::<Vec<_>>().join(", ")
}

fn reported_request<D: Dialect>(f: &Fields<'_, D>) -> StoreResult<ReportedRequest> {
    let direction = f.direction("direction")?;
    Ok(ReportedRequest {
        id: f.id("id")?,
        reference: f.reference(direction)?,
        partner_code: f.partner_code("partner_code")?,
        direction,
    })
}
