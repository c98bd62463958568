//! The `partners` table: the registry of partner authorities, written through the same template as
//! requests (without an audit event), read by code and listed in code order.

use mla_domain::{Partner, PartnerCode};
use mla_store::{Idempotency, StoreError, StoreResult};
use sqlx::QueryBuilder;

use crate::SqlStore;
use crate::dialect::{Dialect, Driver};
use crate::errors::{db_error, insert_error};
use crate::rows::{
    Fields, PARTNER_COLUMNS, partner_changes, partner_from_row, partner_row, push_assignments, push_insert,
    truncated,
};
use crate::write::Begun;

impl<D: Dialect> SqlStore<D> {
    pub async fn create_partner(&self, partner: Partner, key: Option<&Idempotency>) -> StoreResult<Partner> {
        let partner = Partner {
            version: 1,
            create_time: truncated(partner.create_time),
            update_time: truncated(partner.update_time),
            ..partner
        };
        let mut tx = match self.begin(key, partner.update_time).await? {
            Begun::Fresh(tx) => tx,
            Begun::Recorded(outcome) => return Ok(outcome),
        };
        let mut sql = QueryBuilder::new("INSERT INTO partners");
        push_insert::<D>(&mut sql, partner_row(&partner)?);
        D::Db::execute(&mut tx, sql).await.map_err(insert_error::<D>)?;
        self.finish(tx, key, &partner, None).await?;
        Ok(partner)
    }

    pub async fn update_partner(
        &self,
        partner: Partner,
        expected_version: i64,
        key: Option<&Idempotency>,
    ) -> StoreResult<Partner> {
        let partner = Partner { update_time: truncated(partner.update_time), ..partner };
        let mut tx = match self.begin(key, partner.update_time).await? {
            Begun::Fresh(tx) => tx,
            Begun::Recorded(outcome) => return Ok(outcome),
        };
        let mut sql = QueryBuilder::new("UPDATE partners SET version = version + 1, ");
        push_assignments::<D>(&mut sql, partner_changes(&partner)?);
        sql.push(" WHERE code = ");
        D::Db::bind_text(&mut sql, Some(partner.code.as_str()));
        sql.push(" AND version = ");
        D::Db::bind_int(&mut sql, expected_version);
        sql.push(" RETURNING create_time");
        let created = D::Db::fetch_optional(&mut tx, sql).await.map_err(db_error::<D>)?;
        let Some(created) = created else {
            let mut sql = QueryBuilder::new("SELECT version FROM partners WHERE code = ");
            D::Db::bind_text(&mut sql, Some(partner.code.as_str()));
            let current = D::Db::fetch_optional(&mut tx, sql).await.map_err(db_error::<D>)?;
            let current = current.map(|row| Fields::<D>::new(&row).int("version")).transpose()?;
            tx.rollback().await.map_err(db_error::<D>)?;
            return Err(match current {
                Some(current) => StoreError::VersionConflict { current },
                None => StoreError::NotFound,
            });
        };
        let partner = Partner {
            version: expected_version + 1,
            create_time: Fields::<D>::new(&created).time("create_time")?,
            ..partner
        };
        self.finish(tx, key, &partner, None).await?;
        Ok(partner)
    }

    pub async fn get_partner(&self, code: &PartnerCode) -> StoreResult<Option<Partner>> {
        let mut sql = QueryBuilder::new(format!("SELECT {PARTNER_COLUMNS} FROM partners WHERE code = "));
        D::Db::bind_text(&mut sql, Some(code.as_str()));
        let mut conn = self.reader.acquire().await.map_err(db_error::<D>)?;
        let row = D::Db::fetch_optional(&mut conn, sql).await.map_err(db_error::<D>)?;
        row.as_ref().map(partner_from_row::<D>).transpose()
    }

    /// Partners in code order after `after`; inactive ones only when asked.
    pub async fn list_partners(
        &self,
        include_inactive: bool,
        after: Option<&PartnerCode>,
        limit: u32,
    ) -> StoreResult<Vec<Partner>> {
        let mut sql = QueryBuilder::new(format!("SELECT {PARTNER_COLUMNS} FROM partners WHERE ("));
        D::Db::bind_flag(&mut sql, include_inactive);
        sql.push(" OR active").push(D::IS_TRUE).push(") AND code > ");
        // Every code is non-empty, so "after the empty string" is the first page.
        D::Db::bind_text(&mut sql, Some(after.map_or("", PartnerCode::as_str)));
        sql.push(" ORDER BY code LIMIT ");
        D::Db::bind_int(&mut sql, i64::from(limit));
        let mut conn = self.reader.acquire().await.map_err(db_error::<D>)?;
        let rows = D::Db::fetch_all(&mut conn, sql).await.map_err(db_error::<D>)?;
        rows.iter().map(partner_from_row::<D>).collect()
    }
}
