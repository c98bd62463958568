//! The partner registry's use cases: administrators write it, every authenticated caller reads the
//! active partners.

use mla_domain::partner::{Channel, PartnerKind};
use mla_domain::{Partner, PartnerCode, Principal, Role, ShortText};
use serde::Serialize;

use crate::{App, AppError, AppResult, Page, decode_token, encode_token, next_token, page_limit};

/// A partner's entry as written by an administrator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartnerFields {
    pub name: ShortText,
    pub country: String,
    pub kind: PartnerKind,
    pub legal_bases: Vec<ShortText>,
    pub active: bool,
    pub channel: Channel,
}

fn require_admin(principal: &Principal) -> AppResult<()> {
    if principal.has_role(Role::Admin) {
        Ok(())
    } else {
        Err(AppError::PermissionDenied("only an administrator may change the partner registry"))
    }
}

impl App {
    pub async fn create_partner(
        &self,
        principal: &Principal,
        code: PartnerCode,
        fields: PartnerFields,
        request_id: Option<&str>,
    ) -> AppResult<Partner> {
        require_admin(principal)?;
        let (idempotency, replay) =
            self.idempotency(principal, request_id, "CreatePartner", &(&code, &fields)).await?;
        if let Some(partner) = replay {
            return Ok(partner);
        }
        if fields.name.is_blank() {
            return Err(AppError::invalid("partner.name", "a partner needs a name"));
        }
        let now = self.now();
        let partner = Partner {
            code,
            name: fields.name,
            country: fields.country,
            kind: fields.kind,
            legal_bases: fields.legal_bases,
            active: fields.active,
            channel: fields.channel,
            version: 1,
            create_time: now,
            update_time: now,
        };
        self.store().create_partner(partner, idempotency.as_ref()).await.map_err(|e| match e {
            mla_store::StoreError::AlreadyExists => AppError::AlreadyExists("partner"),
            other => other.into(),
        })
    }

    /// A partner's entry; an inactive one only for administrators.
    pub async fn get_partner(&self, principal: &Principal, code: &PartnerCode) -> AppResult<Partner> {
        match self.store().get_partner(code).await? {
            Some(p) if p.active || principal.has_role(Role::Admin) => Ok(p),
            _ => Err(AppError::NotFound("partner")),
        }
    }

    pub async fn list_partners(
        &self,
        principal: &Principal,
        include_inactive: bool,
        page_size: i32,
        page_token: &str,
    ) -> AppResult<Page<Partner>> {
        let limit = page_limit(page_size)?;
        let after = decode_token(page_token, "p")?
            .map(|t| PartnerCode::parse(&t))
            .transpose()
            .map_err(crate::bad_token)?;
        let include_inactive = include_inactive && principal.has_role(Role::Admin);
        let mut partners = self.store().list_partners(include_inactive, after.as_ref(), limit + 1).await?;
        let next = next_token(&mut partners, limit as usize, |p| encode_token("p", p.code.as_str()));
        Ok(Page { items: partners, next_page_token: next })
    }

    /// Replaces the fields of a partner's entry (the transport applies the field mask).
    pub async fn update_partner(
        &self,
        principal: &Principal,
        code: &PartnerCode,
        change: impl FnOnce(&mut PartnerFields),
        etag: &str,
        request_id: Option<&str>,
        fingerprint: &impl Serialize,
    ) -> AppResult<Partner> {
        require_admin(principal)?;
        let (idempotency, replay) =
            self.idempotency(principal, request_id, "UpdatePartner", &(code, fingerprint, etag)).await?;
        if let Some(partner) = replay {
            return Ok(partner);
        }
        let current = self.store().get_partner(code).await?.ok_or(AppError::NotFound("partner"))?;
        if !etag.is_empty() && etag != current.version.to_string() {
            return Err(AppError::EtagMismatch {
                given: etag.to_owned(),
                current: current.version.to_string(),
            });
        }
        let mut fields = PartnerFields {
            name: current.name.clone(),
            country: current.country.clone(),
            kind: current.kind,
            legal_bases: current.legal_bases.clone(),
            active: current.active,
            channel: current.channel,
        };
        change(&mut fields);
        if fields.name.is_blank() {
            return Err(AppError::invalid("partner.name", "a partner needs a name"));
        }
        let updated = Partner {
            name: fields.name,
            country: fields.country,
            kind: fields.kind,
            legal_bases: fields.legal_bases,
            active: fields.active,
            channel: fields.channel,
            update_time: self.now(),
            ..current.clone()
        };
        self.store().update_partner(updated, current.version, idempotency.as_ref()).await.map_err(|e| match e
        {
            mla_store::StoreError::VersionConflict { current: now } if !etag.is_empty() => {
                AppError::EtagMismatch { given: etag.to_owned(), current: now.to_string() }
            }
            other => other.into(),
        })
    }
}
