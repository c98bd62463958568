//! The contract's smaller promises, checked over the wire: what an update without a mask changes,
//! how idempotency keys are scoped, and which values the content fields accept.

use mla_domain::{PartnerCode, Role};
use mla_proto::v1 as pb;
use mla_tests::*;
use tonic::Code;
use tonic_types::StatusExt;

/// UpdatePartner without a mask changes the fields set in the message and leaves the others alone
/// (AIP-134), as its documentation says: it is not a replacement of the whole entry.
async fn an_update_without_a_mask_changes_only_the_fields_set(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    broker.register_partners(&["FR-MOJ"]).await;
    let admin = broker.staff("admin", &[Role::Admin]);
    let mut partners = broker.partners().await;
    let renamed =
        pb::Partner { code: "FR-MOJ".into(), name: "Ministère de la Justice".into(), ..Default::default() };
    let update = pb::UpdatePartnerRequest { partner: Some(renamed), ..Default::default() };
    let updated = partners.update_partner(authed(update, &admin)).await.expect("a rename alone").into_inner();
    assert_eq!(updated.name, "Ministère de la Justice");
    assert_eq!(updated.country, "FR", "kept");
    assert_eq!(updated.kind, pb::PartnerKind::StateAuthority as i32, "kept");
    assert_eq!(updated.legal_bases, ["UNTOC art. 18"], "kept");
    assert!(updated.active, "kept: deactivating takes an explicit mask path");

    let nothing = pb::UpdatePartnerRequest {
        partner: Some(pb::Partner { code: "FR-MOJ".into(), ..Default::default() }),
        ..Default::default()
    };
    let refused = partners.update_partner(authed(nothing, &admin)).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "an update that changes nothing says so");

    let deactivate = pb::UpdatePartnerRequest {
        partner: Some(pb::Partner { code: "FR-MOJ".into(), active: false, ..Default::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["active".into()] }),
        ..Default::default()
    };
    let inactive = partners.update_partner(authed(deactivate, &admin)).await.unwrap().into_inner();
    assert!(!inactive.active);
    assert_eq!(inactive.name, "Ministère de la Justice");
    broker.stop().await;
}

/// Idempotency keys belong to one principal: a partner registered under the code `NCIJC`, whose
/// system has the same subject as a staff member, does not share that staff member's keys.
async fn idempotency_keys_are_per_principal_whatever_the_partner_code(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    broker.register_partners(&["FR-MOJ", "NCIJC"]).await;
    let judge = broker.mint("judge-1", &[Role::Judge], None);
    let lookalike = broker.mint("judge-1", &[Role::Partner], Some(&PartnerCode::parse("NCIJC").unwrap()));
    let mut client = broker.requests().await;
    let key = "0b3f5a4e-shared-key".to_owned();
    let by_judge = pb::CreateRequestRequest {
        request: Some(complete_request("FR-MOJ", "Staff's")),
        request_id: key.clone(),
        ..Default::default()
    };
    let staff = client.create_request(authed(by_judge, &judge)).await.unwrap().into_inner();
    let by_partner = pb::CreateRequestRequest {
        request: Some(complete_request("", "Partner's")),
        request_id: key,
        ..Default::default()
    };
    let partner =
        client.create_request(authed(by_partner, &lookalike)).await.expect("its own key, not the judge's");
    let partner = partner.into_inner();
    assert_ne!(partner.id, staff.id);
    assert_eq!((partner.title.as_str(), partner.partner_code.as_str()), ("Partner's", "NCIJC"));
    broker.stop().await;
}

/// A person's nationality is an assigned ISO 3166-1 alpha-2 code, as the contract documents.
async fn nationalities_are_iso_country_codes(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    broker.register_partners(&["FR-MOJ"]).await;
    let judge = broker.staff("judge-1", &[Role::Judge]);
    let mut client = broker.requests().await;
    let with_nationality = |nationality: &str| pb::CreateRequestRequest {
        request: Some(pb::Request {
            persons: vec![pb::Person {
                name: "A. B.".into(),
                role: pb::PersonRole::Witness as i32,
                nationality: nationality.into(),
                protected: false,
            }],
            ..complete_request("FR-MOJ", "Nationality")
        }),
        ..Default::default()
    };
    for accepted in ["IQ", "FR", ""] {
        client.create_request(authed(with_nationality(accepted), &judge)).await.expect(accepted);
    }
    for refused in ["XX", "iq", "Iraqi", "IRQ"] {
        let status = client.create_request(authed(with_nationality(refused), &judge)).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{refused}");
        let fields: Vec<_> = status
            .get_details_bad_request()
            .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
            .unwrap_or_default();
        assert_eq!(fields, ["request.persons[0].nationality"], "{refused}");
    }
    broker.stop().await;
}

on_both_backends!(
    an_update_without_a_mask_changes_only_the_fields_set,
    idempotency_keys_are_per_principal_whatever_the_partner_code,
    nationalities_are_iso_country_codes,
);
