//! Who sees what (`casework.md`): strictly confidential requests among staff, and protected persons.

mod support;

use mla_domain::lifecycle::Patch;
use mla_domain::*;
use support::*;

fn strict(mut request: Request) -> Request {
    request.content.confidentiality = Some(Confidentiality::StrictlyConfidential);
    request
}

fn person(name: &str, protected: bool) -> Person {
    Person {
        name: ShortText::parse(name).unwrap(),
        role: PersonRole::Witness,
        nationality: ShortText::parse("IQ").unwrap(),
        protected,
        salt: String::new(),
    }
}

fn named(subject: &str, role: Role) -> Principal {
    Principal::staff(subject, [role]).unwrap()
}

#[test]
fn a_strictly_confidential_request_is_for_its_assignee_supervisors_and_auditors() {
    let mut request = strict(request_in(State::Received, Direction::Incoming, "FR-MOJ"));
    request.assignee = ShortText::parse("huda").unwrap();
    let sees = |p: &Principal| Scope::of(p).admits(&request);
    assert!(sees(&named("huda", Role::Registrar)), "the assignee");
    assert!(sees(&named("noor", Role::Supervisor)) && sees(&named("ali", Role::Auditor)));
    for role in
        [Role::Registrar, Role::LegalOfficer, Role::Judge, Role::EvidenceOfficer, Role::ProtectionOfficer]
    {
        assert!(!sees(&named("karim", role)), "{role} who does not handle it");
    }
    assert!(sees(&partner_principal("FR-MOJ")), "the partner's own request");
    assert!(!sees(&partner_principal("DE-BJ")));
    request.content.confidentiality = Some(Confidentiality::Confidential);
    assert!(Scope::of(&named("karim", Role::Judge)).admits(&request), "merely confidential: all staff");
}

#[test]
fn staff_who_write_a_strictly_confidential_request_keep_it_in_hand() {
    let fr = partner("FR-MOJ", true);
    let content =
        RequestContent { confidentiality: Some(Confidentiality::StrictlyConfidential), ..complete_content() };
    let id = RequestId::parse("0192f0c1-7a3e-7cc0-8000-000000000002").unwrap();
    let judge = named("amira", Role::Judge);
    let ours = create(id, Some(fr.code.clone()), content.clone(), &judge, &ctx(&fr, at(1))).unwrap();
    assert_eq!(ours.assignee.as_str(), "amira");
    let theirs = create(id, None, content.clone(), &partner_principal("FR-MOJ"), &ctx(&fr, at(1))).unwrap();
    assert!(theirs.assignee.is_blank(), "a partner assigns nobody: the NCIJC's supervisors do");

    let draft = request_in(State::Draft, Direction::Outgoing, "FR-MOJ");
    let patch = Patch { content: Some((content, vec!["confidentiality".into()])), ..Patch::default() };
    let made_strict = update(&draft, &patch, &judge, &ctx(&fr, at(2))).unwrap();
    assert_eq!(made_strict.request.assignee.as_str(), "amira");
}

#[test]
fn a_protected_person_is_a_pseudonym_for_those_who_may_not_see_the_identity() {
    let mut incoming = request_in(State::Received, Direction::Incoming, "FR-MOJ");
    incoming.content.persons =
        vec![person("Ahmed Saleh", true), person("Open Witness", false), person("سارة علي", true)];
    incoming.assignee = ShortText::parse("huda").unwrap();
    let names = |p: &Principal, r: &Request| -> Vec<String> {
        r.clone().as_seen_by(p).content.persons.iter().map(|p| p.name.as_str().to_owned()).collect()
    };
    let real = ["Ahmed Saleh", "Open Witness", "سارة علي"];
    let masked = ["Protected person 1", "Open Witness", "Protected person 2"];
    // The partner supplied the identities; on the NCIJC's side the assignee, judges and the
    // protection unit see them.
    for principal in [
        partner_principal("FR-MOJ"),
        named("huda", Role::Registrar),
        named("amira", Role::Judge),
        named("zainab", Role::ProtectionOfficer),
    ] {
        assert_eq!(names(&principal, &incoming), real, "{:?}", principal.party());
    }
    for principal in
        [named("karim", Role::Registrar), named("noor", Role::Supervisor), named("ali", Role::Auditor)]
    {
        assert_eq!(names(&principal, &incoming), masked, "{:?}", principal.party());
        let seen = incoming.clone().as_seen_by(&principal);
        assert!(seen.content.persons[0].nationality.is_blank() && seen.content.persons[0].protected);
    }

    // On an OUTGOING request the NCIJC supplied them, and the partner sees pseudonyms.
    let mut outgoing = incoming.clone();
    outgoing.direction = Direction::Outgoing;
    assert_eq!(names(&partner_principal("FR-MOJ"), &outgoing), masked);
    assert_eq!(names(&named("karim", Role::Registrar), &outgoing), real);
}

#[test]
fn the_protection_unit_decides_who_is_protected_after_submission() {
    let fr = partner("FR-MOJ", true);
    let mut request = request_in(State::Received, Direction::Incoming, "FR-MOJ");
    request.content.persons = vec![person("Ahmed Saleh", false), person("Open Witness", false)];
    let mut protected = request.content.clone();
    protected.persons[0].protected = true;
    let patch = Patch { content: Some((protected.clone(), vec!["persons".into()])), ..Patch::default() };

    let decided =
        update(&request, &patch, &named("zainab", Role::ProtectionOfficer), &ctx(&fr, at(2))).unwrap();
    assert!(decided.request.content.persons[0].protected);
    assert_eq!(decided.event.details["changed"]["protected_persons"], serde_json::json!([0]));
    assert!(!decided.event.details.to_string().contains("Ahmed"), "names stay out of the trail");

    let refused = update(&request, &patch, &named("amira", Role::Judge), &ctx(&fr, at(2))).unwrap_err();
    assert_eq!(refused, DomainError::MissingRole { action: "PROTECT", allowed: lifecycle::PROTECTING_ROLES });

    // Anything more than the flags is an edit of the content, which a received request refuses.
    let mut renamed = protected;
    renamed.persons[1].name = ShortText::parse("Someone Else").unwrap();
    let edit = Patch { content: Some((renamed, vec!["persons".into()])), ..Patch::default() };
    let refused = update(&request, &edit, &named("zainab", Role::ProtectionOfficer), &ctx(&fr, at(2)));
    assert_eq!(refused.unwrap_err().reason(), "NOT_EDITABLE");
}
