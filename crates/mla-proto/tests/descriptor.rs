//! Checks that the embedded descriptor set describes the contract that reflection clients and the
//! other crates rely on: both services with every method, the error-model messages, and the enum
//! names that prost derives from the proto values.

use std::collections::BTreeSet;

use mla_proto::FILE_DESCRIPTOR_SET;
use prost::Message as _;
use prost_types::{FileDescriptorSet, ServiceDescriptorProto};

fn descriptor_set() -> FileDescriptorSet {
    FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("FILE_DESCRIPTOR_SET decodes")
}

/// Finds a service by its fully qualified name, such as `mla.v1.RequestService`.
fn service<'a>(set: &'a FileDescriptorSet, full_name: &str) -> &'a ServiceDescriptorProto {
    set.file
        .iter()
        .flat_map(|file| {
            file.service
                .iter()
                .map(move |service| (format!("{}.{}", file.package(), service.name()), service))
        })
        .find(|(name, _)| name == full_name)
        .map(|(_, service)| service)
        .unwrap_or_else(|| panic!("service {full_name} is in the descriptor set"))
}

fn method_names(service: &ServiceDescriptorProto) -> BTreeSet<&str> {
    service.method.iter().map(|method| method.name()).collect()
}

#[test]
fn request_service_has_every_method() {
    let set = descriptor_set();
    let service = service(&set, "mla.v1.RequestService");
    let expected = BTreeSet::from([
        "CreateRequest",
        "GetRequest",
        "ListRequests",
        "UpdateRequest",
        "TransitionRequest",
        "ListRequestEvents",
        "PostMessage",
        "ListMessages",
        "MarkMessagesRead",
        "PrintLetter",
        "ErasePersonalData",
        "WatchEvents",
    ]);
    assert_eq!(method_names(service), expected);

    let watch =
        service.method.iter().find(|method| method.name() == "WatchEvents").expect("WatchEvents exists");
    assert!(watch.server_streaming(), "WatchEvents streams events to the client");
    assert!(!watch.client_streaming());
    assert_eq!(watch.output_type(), ".mla.v1.Event");
}

#[test]
fn partner_service_has_every_method() {
    let set = descriptor_set();
    let service = service(&set, "mla.v1.PartnerService");
    let expected = BTreeSet::from(["CreatePartner", "GetPartner", "ListPartners", "UpdatePartner"]);
    assert_eq!(method_names(service), expected);
}

#[test]
fn statistics_service_has_every_method() {
    let set = descriptor_set();
    let service = service(&set, "mla.v1.StatisticsService");
    assert_eq!(method_names(service), BTreeSet::from(["GetStatistics", "GetHumanRightsReport"]));
    let report = service
        .method
        .iter()
        .find(|method| method.name() == "GetHumanRightsReport")
        .expect("GetHumanRightsReport exists");
    assert_eq!(report.output_type(), ".mla.v1.HumanRightsReport");
}

#[test]
fn document_service_has_every_method_and_streams_the_content() {
    let set = descriptor_set();
    let service = service(&set, "mla.v1.DocumentService");
    let expected = BTreeSet::from([
        "UploadDocument",
        "GetDocument",
        "ListDocuments",
        "DownloadDocument",
        "ReleaseDocuments",
        "DownloadEvidencePackage",
        "ListSigningKeys",
        "StartUpload",
        "AppendUpload",
        "GetUpload",
        "CancelUpload",
    ]);
    assert_eq!(method_names(service), expected);
    let method = |name: &str| service.method.iter().find(|m| m.name() == name).expect("the method exists");
    assert!(method("UploadDocument").client_streaming() && !method("UploadDocument").server_streaming());
    assert!(method("DownloadDocument").server_streaming() && !method("DownloadDocument").client_streaming());
    assert!(method("AppendUpload").client_streaming() && !method("AppendUpload").server_streaming());
    let package = method("DownloadEvidencePackage");
    assert!(package.server_streaming() && !package.client_streaming());
    assert_eq!(package.output_type(), ".mla.v1.DownloadDocumentResponse", "the same chunks as a download");
}

#[test]
fn descriptor_set_is_self_contained_for_reflection() {
    let set = descriptor_set();
    let names: BTreeSet<&str> = set.file.iter().map(|file| file.name()).collect();

    // Every import must be in the set, or reflection clients cannot resolve the contract's files.
    for file in &set.file {
        for dependency in &file.dependency {
            assert!(
                names.contains(dependency.as_str()),
                "{} imports {dependency}, which is missing",
                file.name()
            );
        }
    }

    // The error details are described too, so grpcurl can print them.
    let error_details = set
        .file
        .iter()
        .find(|file| file.name() == "google/rpc/error_details.proto")
        .expect("google/rpc/error_details.proto is in the set");
    for message in ["ErrorInfo", "BadRequest"] {
        assert!(
            error_details.message_type.iter().any(|m| m.name() == message),
            "google.rpc.{message} is described"
        );
    }
}

#[test]
fn generated_enums_use_unprefixed_rust_names_and_prefixed_proto_names() {
    use mla_proto::v1::{Action, RefusalGround, State};

    assert_eq!(State::Draft.as_str_name(), "STATE_DRAFT");
    assert_eq!(State::from_str_name("STATE_UNDER_REVIEW"), Some(State::UnderReview));
    assert_eq!(Action::Submit as i32, 1);
    assert_eq!(RefusalGround::DeathPenaltyRisk.as_str_name(), "REFUSAL_GROUND_DEATH_PENALTY_RISK");
    assert_eq!(State::default(), State::Unspecified);
}
