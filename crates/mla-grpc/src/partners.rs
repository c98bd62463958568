//! PartnerService: the partner registry over gRPC.

use mla_app::App;
use mla_domain::PartnerCode;
use mla_proto::v1 as pb;
use pb::partner_service_server::PartnerService;
use tonic::{Request, Response, Status};

use crate::auth::principal;
use crate::convert::*;
use crate::error::status_of;

#[derive(Debug, Clone)]
pub struct Partners {
    pub app: App,
}

/// Fields of a partner an administrator may change.
pub(crate) const MUTABLE: [&str; 6] = ["name", "country", "kind", "legal_bases", "active", "channel"];

/// Without a mask, an update changes the fields set in the message (AIP-134) and nothing else. An
/// unset field and its zero value look alike on the wire, so clearing a field or setting `active` to
/// false needs the field named in the mask.
fn fields_set(partner: &pb::Partner) -> Vec<String> {
    let set = [
        ("name", !partner.name.is_empty()),
        ("country", !partner.country.is_empty()),
        ("kind", partner.kind != 0),
        ("legal_bases", !partner.legal_bases.is_empty()),
        ("active", partner.active),
        ("channel", partner.channel != 0),
    ];
    set.into_iter().filter(|(_, is_set)| *is_set).map(|(path, _)| path.to_owned()).collect()
}

fn code_in(fields: &mut Fields, field: &str, raw: &str) -> PartnerCode {
    fields
        .take(field, PartnerCode::parse(raw).map(Some))
        .unwrap_or_else(|| PartnerCode::parse("XX").expect("a valid code"))
}

#[tonic::async_trait]
impl PartnerService for Partners {
    async fn create_partner(
        &self,
        call: Request<pb::CreatePartnerRequest>,
    ) -> Result<Response<pb::Partner>, Status> {
        let principal = principal(&call)?;
        let m = call.into_inner();
        let partner = m.partner.unwrap_or_default();
        let mut fields = Fields::default();
        let code = code_in(&mut fields, "partner.code", &partner.code);
        if partner.kind == 0 {
            fields.refuse("partner.kind", "a partner is a STATE_AUTHORITY or an INTERNATIONAL_MECHANISM");
        }
        let input = partner_fields_in(&mut fields, &partner);
        let input = fields.finish(input)?;
        let key = Some(m.request_id.as_str()).filter(|k| !k.is_empty());
        let created = self.app.create_partner(&principal, code, input, key).await.map_err(status_of)?;
        Ok(Response::new(partner_out(created)))
    }

    async fn get_partner(
        &self,
        call: Request<pb::GetPartnerRequest>,
    ) -> Result<Response<pb::Partner>, Status> {
        let principal = principal(&call)?;
        let mut fields = Fields::default();
        let code = code_in(&mut fields, "code", &call.get_ref().code);
        let code = fields.finish(code)?;
        let partner = self.app.get_partner(&principal, &code).await.map_err(status_of)?;
        Ok(Response::new(partner_out(partner)))
    }

    async fn list_partners(
        &self,
        call: Request<pb::ListPartnersRequest>,
    ) -> Result<Response<pb::ListPartnersResponse>, Status> {
        let principal = principal(&call)?;
        let m = call.into_inner();
        let page = self
            .app
            .list_partners(&principal, m.include_inactive, m.page_size, &m.page_token)
            .await
            .map_err(status_of)?;
        Ok(Response::new(pb::ListPartnersResponse {
            partners: page.items.into_iter().map(partner_out).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn update_partner(
        &self,
        call: Request<pb::UpdatePartnerRequest>,
    ) -> Result<Response<pb::Partner>, Status> {
        let principal = principal(&call)?;
        let m = call.into_inner();
        let incoming = m.partner.unwrap_or_default();
        let mut fields = Fields::default();
        let code = code_in(&mut fields, "partner.code", &incoming.code);
        let paths: Vec<String> = match m.update_mask {
            Some(mask) if !mask.paths.is_empty() => mask.paths,
            _ => fields_set(&incoming),
        };
        if paths.is_empty() {
            fields.refuse("update_mask", "names no field to change, and the partner sets none");
        }
        for path in paths.iter().filter(|p| !MUTABLE.contains(&p.as_str())) {
            fields.refuse(format!("update_mask.paths[{path}]"), format!("{path} cannot be changed"));
        }
        if paths.iter().any(|p| p == "kind") && incoming.kind == 0 {
            fields.refuse("partner.kind", "a partner is a STATE_AUTHORITY or an INTERNATIONAL_MECHANISM");
        }
        let new = partner_fields_in(&mut fields, &incoming);
        let new = fields.finish(new)?;
        let fingerprint = (&new, &paths);
        let apply = |current: &mut mla_app::PartnerFields| {
            for path in &paths {
                match path.as_str() {
                    "name" => current.name = new.name.clone(),
                    "country" => current.country = new.country.clone(),
                    "kind" => current.kind = new.kind,
                    "legal_bases" => current.legal_bases = new.legal_bases.clone(),
                    "active" => current.active = new.active,
                    "channel" => current.channel = new.channel,
                    _ => {}
                }
            }
        };
        let key = Some(m.request_id.as_str()).filter(|k| !k.is_empty());
        let updated = self
            .app
            .update_partner(&principal, &code, apply, &m.etag, key, &fingerprint)
            .await
            .map_err(status_of)?;
        Ok(Response::new(partner_out(updated)))
    }
}
