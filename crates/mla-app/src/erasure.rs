//! Erasing personal data under a deletion order (`mla_domain::personal`).

use mla_domain::personal::{self, ERASE, ERASING_ROLES};
use mla_domain::{DomainError, LongText, Principal, Request, RequestId};

use crate::{App, AppResult, Lookup, Target};

impl App {
    /// Erases the identity of the request's person at place `person` (from 0) under the order
    /// `legal_reference`, and answers the request's new etag. An administrator reads no requests, so
    /// the request is found by its id alone, and the answer shows nothing of it.
    pub async fn erase_personal_data(
        &self,
        principal: &Principal,
        id: RequestId,
        person: usize,
        legal_reference: LongText,
        etag: &str,
        request_id: Option<&str>,
    ) -> AppResult<String> {
        // The role first: nobody else learns whether the request exists.
        if !principal.has_any_role(ERASING_ROLES) {
            return Err(DomainError::MissingRole { action: ERASE, allowed: ERASING_ROLES }.into());
        }
        let payload = (id, person, &legal_reference, etag);
        let (idempotency, replay) =
            self.idempotency::<Request>(principal, request_id, "ErasePersonalData", &payload).await?;
        if let Some(request) = replay {
            return Ok(request.etag());
        }
        let saved = self
            .decide_and_save(
                principal,
                Target { id, etag, lookup: Lookup::ById },
                idempotency,
                false,
                |request, ctx| Ok(personal::erase(request, person, &legal_reference, principal, ctx.now)?),
            )
            .await?;
        Ok(saved.request.etag())
    }
}
