//! `mla-broker demo`: a handful of partners and requests in various states, for trying the API and
//! the staff tools on something that looks like real work.
//!
//! Everything goes through the real use cases of [`App`] with principals of the roles the lifecycle
//! names, so the requests got where they are by legal transitions and their audit trail is genuine.
//! Every call carries a fixed idempotency key, which makes the whole load idempotent: running it again
//! replays the recorded outcomes instead of creating anything twice, and a run that was interrupted
//! half-way completes on the next one.

use anyhow::Context as _;
use mla_app::{App, PartnerFields};
use mla_domain::lifecycle::ProposedCondition;
use mla_domain::paper::{PaperRecord, ReceivedVia};
use mla_domain::partner::PartnerKind;
use mla_domain::request::{
    Action, ConditionKind, Confidentiality, Direction, Outcome, Person, PersonRole, Priority, RefusalGround,
    RequestType,
};
use mla_domain::{
    Channel, Command, LongText, PartnerCode, Principal, RequestContent, Role, ShortText, State,
};

/// The demonstration texts are literals known to be valid; a typo fails the demo's own test.
fn short(text: &str) -> ShortText {
    ShortText::parse(text).expect("a demo text is one line within the limit")
}

fn long(text: &str) -> LongText {
    LongText::parse(text).expect("a demo text is within the limit")
}

fn code(raw: &str) -> PartnerCode {
    PartnerCode::parse(raw).expect("a demo partner code is well formed")
}

/// One demonstration partner.
struct DemoPartner {
    code: &'static str,
    name: &'static str,
    country: &'static str,
    kind: PartnerKind,
    legal_bases: &'static [&'static str],
    channel: Channel,
}

const PARTNERS: &[DemoPartner] = &[
    DemoPartner {
        code: "JO-MOJ",
        name: "وزارة العدل الأردنية (Ministry of Justice, Jordan)",
        country: "JO",
        kind: PartnerKind::StateAuthority,
        legal_bases: &["Riyadh Arab Agreement for Judicial Cooperation", "UNTOC art. 18"],
        // No system of its own: its notes arrive through the ministries of foreign affairs.
        channel: Channel::Paper,
    },
    DemoPartner {
        code: "FR-MOJ",
        name: "Ministry of Justice (France), Bureau de l'entraide pénale internationale",
        country: "FR",
        kind: PartnerKind::StateAuthority,
        legal_bases: &["UNTOC art. 18", "UNCAC art. 46", "Reciprocity"],
        channel: Channel::System,
    },
    DemoPartner {
        code: "DE-BJ",
        name: "Federal Office of Justice (Bundesamt für Justiz), Germany",
        country: "DE",
        kind: PartnerKind::StateAuthority,
        legal_bases: &["UNTOC art. 18", "UNCAC art. 46"],
        channel: Channel::System,
    },
    DemoPartner {
        code: "UN-IIIM",
        name: "International, Impartial and Independent Mechanism (IIIM)",
        country: "",
        kind: PartnerKind::InternationalMechanism,
        legal_bases: &["UNGA res. 71/248", "Reciprocity"],
        channel: Channel::System,
    },
    DemoPartner {
        code: "NL-OM",
        name: "Public Prosecution Service (Openbaar Ministerie), Netherlands",
        country: "NL",
        kind: PartnerKind::StateAuthority,
        legal_bases: &["UNTOC art. 18", "UNCAC art. 46"],
        channel: Channel::System,
    },
];

/// Who takes a step: NCIJC staff of one role, or the system of the request's partner.
#[derive(Debug, Clone, Copy)]
enum Who {
    Partner,
    Registrar,
    LegalOfficer,
    Judge,
    EvidenceOfficer,
}

/// The demonstration principals. Fixed subjects, because idempotency keys belong to a principal: the
/// same subject on every run is what makes a second run replay the first.
struct Cast {
    admin: Principal,
    registrar: Principal,
    legal_officer: Principal,
    judge: Principal,
    evidence_officer: Principal,
    auditor: Principal,
}

impl Cast {
    fn new() -> anyhow::Result<Self> {
        let staff = |subject: &str, role: Role| {
            Principal::staff(subject, [role]).with_context(|| format!("the demo principal {subject}"))
        };
        Ok(Self {
            admin: staff("demo-admin", Role::Admin)?,
            registrar: staff("demo-registrar", Role::Registrar)?,
            legal_officer: staff("demo-legal-officer", Role::LegalOfficer)?,
            judge: staff("demo-judge", Role::Judge)?,
            evidence_officer: staff("demo-evidence-officer", Role::EvidenceOfficer)?,
            auditor: staff("demo-auditor", Role::Auditor)?,
        })
    }

    fn principal(&self, who: Who, partner: &PartnerCode) -> anyhow::Result<Principal> {
        Ok(match who {
            Who::Partner => partner_system(partner)?,
            Who::Registrar => self.registrar.clone(),
            Who::LegalOfficer => self.legal_officer.clone(),
            Who::Judge => self.judge.clone(),
            Who::EvidenceOfficer => self.evidence_officer.clone(),
        })
    }
}

/// A partner's case-management system, as its tokens would describe it.
fn partner_system(partner: &PartnerCode) -> anyhow::Result<Principal> {
    let subject = format!("{}-case-system", partner.as_str().to_lowercase());
    Principal::partner(&subject, partner.clone()).with_context(|| format!("the demo principal {subject}"))
}

/// One demonstration request: who drafts it, for which partner, and the steps that bring it to its
/// state. INCOMING requests are drafted by the partner's system, OUTGOING ones by NCIJC staff. For a
/// partner on paper, the partner's acts are recorded by the registrar on its behalf, as they arrived
/// (`on_paper`).
struct Script {
    key: &'static str,
    partner: &'static str,
    author: Who,
    content: RequestContent,
    steps: Vec<(Who, Command)>,
    on_paper: Option<ReceivedVia>,
}

/// The essentials of a demonstration request, named so that each literal says what it is.
struct Draft {
    request_type: RequestType,
    priority: Priority,
    authority: &'static str,
    title: &'static str,
    facts: &'static str,
    offences: &'static [&'static str],
    measures: &'static [&'static str],
    purpose: &'static str,
    legal_basis: &'static str,
}

impl Draft {
    fn content(self) -> RequestContent {
        RequestContent {
            request_type: Some(self.request_type),
            priority: Some(self.priority),
            urgency_reason: LongText::default(),
            requesting_authority: short(self.authority),
            partner_reference: ShortText::default(),
            title: short(self.title),
            summary_of_facts: long(self.facts),
            offences: self.offences.iter().map(|o| short(o)).collect(),
            measures: self.measures.iter().map(|m| short(m)).collect(),
            purpose: long(self.purpose),
            legal_basis: short(self.legal_basis),
            persons: Vec::new(),
            confidentiality: Some(Confidentiality::Standard),
        }
    }
}

fn step(action: Action) -> Command {
    Command::new(action)
}

fn with_reason(action: Action, reason: &str) -> Command {
    Command { reason: long(reason), ..Command::new(action) }
}

fn scripts() -> Vec<Script> {
    use Action::*;
    use Who::*;

    let mut fr_evidence = Draft {
        request_type: RequestType::Evidence,
        priority: Priority::Normal,
        authority: "Parquet national antiterroriste, Paris",
        title: "Hearing of a witness on financing of a terrorist organisation",
        facts: "The French investigating judge is examining transfers made in 2019-2021 to members of a \
         terrorist organisation active in Nineveh. A witness residing in Mosul is believed to have \
         handled some of the transfers.",
        offences: &["Financing of terrorism (Code pénal art. 421-2-2)"],
        measures: &["Hearing of a witness", "Copies of money-transfer records"],
        purpose: "Evidence for the judicial investigation opened in Paris.",
        legal_basis: "UNTOC art. 18",
    }
    .content();
    fr_evidence.partner_reference = short("PNAT 2024/0117");
    fr_evidence.persons = vec![Person {
        name: short("Witness A"),
        role: PersonRole::Witness,
        nationality: short("IQ"),
        protected: true,
        salt: String::new(),
    }];
    fr_evidence.confidentiality = Some(Confidentiality::Confidential);

    let mut de_freeze = Draft {
        request_type: RequestType::AssetFreeze,
        priority: Priority::Urgent,
        authority: "Generalbundesanwalt beim Bundesgerichtshof",
        title: "Freezing of bank accounts linked to a money-laundering network",
        facts: "Funds traced in a German investigation were moved to two accounts held at a bank in Erbil.",
        offences: &["Money laundering (StGB § 261)"],
        measures: &["Freezing of two bank accounts", "Bank statements since 2022"],
        purpose: "Preventing the dissipation of assets pending confiscation proceedings in Germany.",
        legal_basis: "UNCAC art. 46",
    }
    .content();
    de_freeze.urgency_reason = long("The account holders are reported to be closing the accounts this week.");

    let iiim_digital = Draft {
        request_type: RequestType::DigitalEvidence,
        priority: Priority::Normal,
        authority: "IIIM, Evidence Management Unit",
        title: "Preservation and disclosure of seized mobile-phone extractions",
        facts: "Phones seized in 2017 in western Mosul may hold evidence of crimes against the Yazidi community.",
        offences: &["Crimes against humanity", "Genocide"],
        measures: &["Forensic copies of extractions", "Chain-of-custody records"],
        purpose: "Structural investigation and case files for national prosecutions.",
        legal_basis: "UNGA res. 71/248",
    }
    .content();

    let nl_service = Draft {
        request_type: RequestType::ServiceOfDocuments,
        priority: Priority::Normal,
        authority: "Landelijk Parket, Rotterdam",
        title: "Service of a summons on a defendant residing in Basra",
        facts: "A Dutch court has scheduled a hearing in fraud proceedings against a defendant now living in Basra.",
        offences: &["Fraud (Wetboek van Strafrecht art. 326)"],
        measures: &["Service of a summons with proof of service"],
        purpose: "Ensuring the defendant is summoned to the hearing.",
        legal_basis: "UNTOC art. 18",
    }
    .content();

    let out_fr_draft = Draft {
        request_type: RequestType::Evidence,
        priority: Priority::Normal,
        authority: "Investigative Court of Karkh, Baghdad",
        title: "Bank records of a suspect's account in Paris",
        facts: "A suspect in a corruption case is believed to hold an account at a bank in Paris.",
        offences: &["Embezzlement of public funds (Penal Code art. 315)"],
        measures: &["Account-opening documents", "Statements 2018-2023"],
        purpose: "Evidence for the investigation in Baghdad.",
        legal_basis: "UNCAC art. 46",
    }
    .content();

    let out_de_search = Draft {
        request_type: RequestType::SearchAndSeizure,
        priority: Priority::Normal,
        authority: "Central Criminal Court of Iraq",
        title: "Search of business premises in Hamburg",
        facts: "A trading company in Hamburg is suspected of shipping dual-use goods to an armed group.",
        offences: &["Financing of terrorism (Anti-Terrorism Law No. 13 of 2005)"],
        measures: &["Search of the premises", "Seizure of shipping documents"],
        purpose: "Evidence for the proceedings before the Central Criminal Court.",
        legal_basis: "UNTOC art. 18",
    }
    .content();

    let out_nl_refused = Draft {
        request_type: RequestType::TransferOfProceedings,
        priority: Priority::Normal,
        authority: "Investigative Court of Rusafa, Baghdad",
        title: "Transfer of proceedings against a Dutch national",
        facts: "A Dutch national is suspected of defamation of a public official in posts made from Amsterdam.",
        offences: &["Defamation of a public official (Penal Code art. 226)"],
        measures: &["Taking over of the proceedings"],
        purpose: "Prosecution in the suspect's state of residence.",
        legal_basis: "UNTOC art. 18",
    }
    .content();

    let fr_withdrawn = Draft {
        request_type: RequestType::Evidence,
        priority: Priority::Normal,
        authority: "Tribunal judiciaire de Lyon",
        title: "Copies of civil-registry records",
        facts: "Records are sought to establish the identity of a suspect in a trafficking case.",
        offences: &["Trafficking in human beings (Code pénal art. 225-4-1)"],
        measures: &["Certified copies of civil-registry records"],
        purpose: "Identification of a suspect.",
        legal_basis: "Reciprocity",
    }
    .content();

    let jo_note_verbale = Draft {
        request_type: RequestType::Evidence,
        priority: Priority::Normal,
        authority: "محكمة بداية عمّان (Amman Court of First Instance)",
        title: "طلب الحصول على سجلات مصرفية",
        facts: "تحقق النيابة العامة في عمّان في تحويلات مالية إلى أعضاء تنظيم إرهابي في نينوى بين عامي 2017 و2019.",
        offences: &["تمويل الإرهاب"],
        measures: &["سجلات الحسابات المصرفية"],
        purpose: "الإجراءات الجزائية أمام محكمة أمن الدولة.",
        legal_basis: "Riyadh Arab Agreement for Judicial Cooperation",
    }
    .content();

    vec![
        Script {
            key: "fr-evidence",
            partner: "FR-MOJ",
            author: Partner,
            content: fr_evidence,
            steps: vec![
                (Partner, step(Submit)),
                (Registrar, step(Acknowledge)),
                (LegalOfficer, step(StartReview)),
            ],
            on_paper: None,
        },
        Script {
            key: "de-freeze",
            partner: "DE-BJ",
            author: Partner,
            content: de_freeze,
            steps: vec![
                (Partner, step(Submit)),
                (Registrar, step(Acknowledge)),
                (LegalOfficer, step(StartReview)),
                (
                    LegalOfficer,
                    with_reason(
                        RequestClarification,
                        "Please provide the account numbers and the German freezing order.",
                    ),
                ),
            ],
            on_paper: None,
        },
        Script {
            key: "iiim-digital",
            partner: "UN-IIIM",
            author: Partner,
            content: iiim_digital,
            steps: vec![
                (Partner, step(Submit)),
                (Registrar, step(Acknowledge)),
                (Judge, step(StartReview)),
                (
                    Judge,
                    Command {
                        conditions: vec![
                            ProposedCondition {
                                kind: ConditionKind::Speciality,
                                text: long("Use only for the investigations named in the request."),
                            },
                            ProposedCondition {
                                kind: ConditionKind::DataProtection,
                                text: long(
                                    "Personal data of victims is kept under the Mechanism's protocol.",
                                ),
                            },
                        ],
                        ..Command::new(ProposeConditions)
                    },
                ),
                (Partner, step(AcceptConditions)),
                (EvidenceOfficer, step(StartExecution)),
            ],
            on_paper: None,
        },
        Script {
            key: "nl-service",
            partner: "NL-OM",
            author: Partner,
            content: nl_service,
            steps: vec![
                (Partner, step(Submit)),
                (Registrar, step(Acknowledge)),
                (LegalOfficer, step(StartReview)),
                (Judge, step(Accept)),
                (EvidenceOfficer, step(StartExecution)),
                (
                    EvidenceOfficer,
                    Command { outcome: Some(Outcome::Full), ..Command::new(CompleteExecution) },
                ),
                (Partner, step(Close)),
            ],
            on_paper: None,
        },
        Script {
            key: "out-fr-draft",
            partner: "FR-MOJ",
            author: Registrar,
            content: out_fr_draft,
            steps: vec![],
            on_paper: None,
        },
        Script {
            key: "out-de-search",
            partner: "DE-BJ",
            author: LegalOfficer,
            content: out_de_search,
            steps: vec![(Judge, step(Submit)), (Partner, step(Acknowledge))],
            on_paper: None,
        },
        Script {
            key: "out-nl-refused",
            partner: "NL-OM",
            author: Judge,
            content: out_nl_refused,
            steps: vec![
                (Judge, step(Submit)),
                (Partner, step(Acknowledge)),
                (Partner, step(StartReview)),
                (
                    Partner,
                    Command {
                        refusal_grounds: vec![RefusalGround::NoDualCriminality],
                        ..with_reason(
                            Refuse,
                            "Defamation of a public official is not an offence in the Netherlands.",
                        )
                    },
                ),
            ],
            on_paper: None,
        },
        Script {
            key: "fr-withdrawn",
            partner: "FR-MOJ",
            author: Partner,
            content: fr_withdrawn,
            steps: vec![
                (Partner, step(Submit)),
                (Partner, with_reason(Withdraw, "The suspect has been identified by other means.")),
            ],
            on_paper: None,
        },
        Script {
            key: "jo-note-verbale",
            partner: "JO-MOJ",
            author: Partner,
            content: jo_note_verbale,
            steps: vec![
                (Registrar, step(Acknowledge)),
                (LegalOfficer, step(StartReview)),
                (LegalOfficer, with_reason(RequestClarification, "يرجى تحديد أرقام الحسابات المصرفية.")),
                (Partner, with_reason(ProvideClarification, "الحسابان 1 و 2 لدى المصرف المذكور.")),
            ],
            on_paper: Some(ReceivedVia::DiplomaticNote),
        },
    ]
}

/// What the demo left in the register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    /// Partners this run registered (0 on a second run).
    pub partners_created: usize,
    /// Every demonstration request as it stands now.
    pub requests: Vec<DemoRequest>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoRequest {
    pub reference: String,
    pub direction: Direction,
    pub partner_code: String,
    pub state: State,
    pub title: String,
}

/// Loads the demonstration partners and requests (see the module docs); safe to run again.
pub async fn load(app: &App) -> anyhow::Result<DemoSummary> {
    let cast = Cast::new()?;
    let mut partners_created = 0;
    for partner in PARTNERS {
        let partner_code = code(partner.code);
        // A partner registered by hand before the demo ran is left as it is.
        if app.store().get_partner(&partner_code).await.context("cannot read the partner registry")?.is_some()
        {
            continue;
        }
        let fields = PartnerFields {
            name: short(partner.name),
            country: partner.country.to_owned(),
            kind: partner.kind,
            legal_bases: partner.legal_bases.iter().map(|b| short(b)).collect(),
            active: true,
            channel: partner.channel,
        };
        let key = format!("demo-partner-{}", partner.code);
        app.create_partner(&cast.admin, partner_code, fields, Some(&key))
            .await
            .with_context(|| format!("cannot register the demo partner {}", partner.code))?;
        partners_created += 1;
    }

    let mut requests = Vec::new();
    for script in scripts() {
        let partner = code(script.partner);
        // A paper partner's acts are the registrar's to record, on its behalf.
        let acting = |who: Who| match (who, script.on_paper) {
            (Who::Partner, Some(via)) => {
                let record = PaperRecord {
                    on_behalf_of: Some(partner.clone()),
                    received_via: Some(via),
                    ..PaperRecord::default()
                };
                Ok((cast.registrar.clone(), Some(record)))
            }
            _ => cast.principal(who, &partner).map(|p| (p, None)),
        };
        let (author, record) = acting(script.author)?;
        // Staff name the partner they write to; a partner's system writes under its own code.
        let named_partner = (author.is_ncijc() && record.is_none()).then(|| partner.clone());
        let create_key = format!("demo-{}-create", script.key);
        let created = app
            .create_request(&author, named_partner, script.content, record, Some(&create_key))
            .await
            .with_context(|| format!("cannot create the demo request {}", script.key))?;
        let id = created.request.id;
        for (index, (who, command)) in script.steps.into_iter().enumerate() {
            let (actor, record) = acting(who)?;
            let action = command.action;
            let key = format!("demo-{}-{}-{}", script.key, index + 1, action.as_str());
            app.transition_request(&actor, id, command, record, "", Some(&key))
                .await
                .with_context(|| format!("cannot {action} the demo request {}", script.key))?;
        }
        // Read it back as it stands now: on a second run the replies above are replays of the first.
        // The author's side sees its own drafts, so it reads; the auditor cannot see a partner's draft.
        let reader = if author.is_ncijc() { &cast.auditor } else { &author };
        let current = app
            .get_request(reader, id)
            .await
            .with_context(|| format!("cannot read back the demo request {}", script.key))?
            .request;
        requests.push(DemoRequest {
            reference: current.reference.to_string(),
            direction: current.direction,
            partner_code: current.partner_code.to_string(),
            state: current.state,
            title: current.content.title.to_string(),
        });
    }
    Ok(DemoSummary { partners_created, requests })
}
