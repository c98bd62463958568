//! What a mutual legal-assistance request carries (UNCAC art. 46(15), UNTOC art. 18(15)) and the
//! vocabularies it is described in.

use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::clock::Clock;
use crate::text::{LongText, PartnerCode, Reference, RequestId, ShortText};

/// Declares a closed vocabulary whose names (UPPER_SNAKE) are its wire and storage form.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(raw: &str) -> Option<Self> {
                match raw {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

// The documents' vocabularies are declared the same way.
pub(crate) use vocabulary;

vocabulary!(
    /// Where a request stands. WITHDRAWN and CLOSED are terminal.
    State {
        Draft = "DRAFT",
        Submitted = "SUBMITTED",
        Received = "RECEIVED",
        UnderReview = "UNDER_REVIEW",
        ClarificationRequested = "CLARIFICATION_REQUESTED",
        ConditionsProposed = "CONDITIONS_PROPOSED",
        Accepted = "ACCEPTED",
        InExecution = "IN_EXECUTION",
        Postponed = "POSTPONED",
        Executed = "EXECUTED",
        Refused = "REFUSED",
        Withdrawn = "WITHDRAWN",
        Closed = "CLOSED",
    }
);

impl State {
    /// No action is accepted in a terminal state.
    pub fn is_terminal(self) -> bool {
        matches!(self, State::Withdrawn | State::Closed)
    }

    /// A request is active while the requested side still owes an answer: submitted and neither
    /// decided against, executed, withdrawn nor closed.
    pub fn is_active(self) -> bool {
        !matches!(self, State::Draft | State::Executed | State::Refused | State::Withdrawn | State::Closed)
    }

    /// The clock stops while the request waits on the requesting side, or is postponed.
    pub fn stops_clock(self) -> bool {
        matches!(self, State::ClarificationRequested | State::ConditionsProposed | State::Postponed)
    }
}

vocabulary!(
    /// Everything a party can do to move a request from one state to another.
    Action {
        Submit = "SUBMIT",
        Acknowledge = "ACKNOWLEDGE",
        StartReview = "START_REVIEW",
        RequestClarification = "REQUEST_CLARIFICATION",
        ProvideClarification = "PROVIDE_CLARIFICATION",
        ProposeConditions = "PROPOSE_CONDITIONS",
        AcceptConditions = "ACCEPT_CONDITIONS",
        DeclineConditions = "DECLINE_CONDITIONS",
        Accept = "ACCEPT",
        Refuse = "REFUSE",
        StartExecution = "START_EXECUTION",
        Postpone = "POSTPONE",
        Resume = "RESUME",
        CompleteExecution = "COMPLETE_EXECUTION",
        Close = "CLOSE",
        Withdraw = "WITHDRAW",
    }
);

vocabulary!(
    /// INCOMING: a partner asks Iraq. OUTGOING: Iraq asks a partner.
    Direction {
        Incoming = "INCOMING",
        Outgoing = "OUTGOING",
    }
);

vocabulary!(
    RequestType {
        Evidence = "EVIDENCE",
        SearchAndSeizure = "SEARCH_AND_SEIZURE",
        ServiceOfDocuments = "SERVICE_OF_DOCUMENTS",
        AssetFreeze = "ASSET_FREEZE",
        Extradition = "EXTRADITION",
        TransferOfProceedings = "TRANSFER_OF_PROCEEDINGS",
        TransferOfSentencedPerson = "TRANSFER_OF_SENTENCED_PERSON",
        SpontaneousInformation = "SPONTANEOUS_INFORMATION",
        DigitalEvidence = "DIGITAL_EVIDENCE",
        Other = "OTHER",
    }
);

vocabulary!(
    Priority {
        Normal = "NORMAL",
        Urgent = "URGENT",
    }
);

vocabulary!(
    Confidentiality {
        Standard = "STANDARD",
        Confidential = "CONFIDENTIAL",
        StrictlyConfidential = "STRICTLY_CONFIDENTIAL",
    }
);

vocabulary!(
    PersonRole {
        Suspect = "SUSPECT",
        Witness = "WITNESS",
        Victim = "VICTIM",
        Other = "OTHER",
    }
);

vocabulary!(
    /// The assurances the requested side may ask for before it assists.
    ConditionKind {
        DeathPenaltyNonImposition = "DEATH_PENALTY_NON_IMPOSITION",
        NonTorture = "NON_TORTURE",
        FairTrial = "FAIR_TRIAL",
        Speciality = "SPECIALITY",
        NoOnwardTransfer = "NO_ONWARD_TRANSFER",
        DataProtection = "DATA_PROTECTION",
        Confidentiality = "CONFIDENTIALITY",
        Other = "OTHER",
    }
);

impl ConditionKind {
    /// The assurances that protect the person concerned (no death penalty, no torture, a fair
    /// trial): what the NCIJC reports on to the human-rights mechanisms.
    pub fn is_human_rights_assurance(self) -> bool {
        matches!(
            self,
            ConditionKind::DeathPenaltyNonImposition | ConditionKind::NonTorture | ConditionKind::FairTrial
        )
    }
}

vocabulary!(
    ConditionStatus {
        Proposed = "PROPOSED",
        Accepted = "ACCEPTED",
        Declined = "DECLINED",
    }
);

vocabulary!(
    /// The grounds on which assistance may be refused.
    RefusalGround {
        SovereigntySecurityPublicOrder = "SOVEREIGNTY_SECURITY_PUBLIC_ORDER",
        PoliticalOffence = "POLITICAL_OFFENCE",
        PersecutionRisk = "PERSECUTION_RISK",
        DeathPenaltyRisk = "DEATH_PENALTY_RISK",
        TortureRisk = "TORTURE_RISK",
        FairTrialRisk = "FAIR_TRIAL_RISK",
        NeBisInIdem = "NE_BIS_IN_IDEM",
        NoDualCriminality = "NO_DUAL_CRIMINALITY",
        MilitaryOffence = "MILITARY_OFFENCE",
        ContraryToDomesticLaw = "CONTRARY_TO_DOMESTIC_LAW",
        InsufficientInformation = "INSUFFICIENT_INFORMATION",
        DataProtection = "DATA_PROTECTION",
        Other = "OTHER",
    }
);

impl RefusalGround {
    /// Grounds that assurances could cure, so that refusing on them calls for consultation first
    /// (UNTOC art. 18(26)).
    pub fn conditions_could_cure(self) -> bool {
        matches!(
            self,
            RefusalGround::DeathPenaltyRisk
                | RefusalGround::TortureRisk
                | RefusalGround::FairTrialRisk
                | RefusalGround::DataProtection
        )
    }

    /// Grounds that are a risk to the person's human rights (persecution, the death penalty,
    /// torture, an unfair trial): the refusals the human-rights report lists.
    pub fn is_human_rights_risk(self) -> bool {
        matches!(
            self,
            RefusalGround::PersecutionRisk
                | RefusalGround::DeathPenaltyRisk
                | RefusalGround::TortureRisk
                | RefusalGround::FairTrialRisk
        )
    }
}

vocabulary!(
    Outcome {
        Full = "FULL",
        Partial = "PARTIAL",
    }
);

/// A person the request concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub name: ShortText,
    pub role: PersonRole,
    pub nationality: ShortText,
    /// Under witness protection: handled with the strictest confidentiality.
    pub protected: bool,
    /// The random salt of the commitment that the audit trail holds instead of the identity
    /// (`crate::personal`); kept with the identity, erased with it, and never shown.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub salt: String,
}

/// A condition proposed by the requested side; once accepted it is an assurance given by the
/// requesting side, and it stays on the request for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    pub kind: ConditionKind,
    pub text: LongText,
    pub status: ConditionStatus,
    /// Who gave the assurance (or declined it), and when.
    pub given_by: Option<String>,
    pub given_time: Option<Timestamp>,
}

/// What the requesting side writes: everything a request says, as opposed to where it stands.
/// Fields may be blank while the request is a draft; submission requires the essentials.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestContent {
    pub request_type: Option<RequestType>,
    pub priority: Option<Priority>,
    pub urgency_reason: LongText,
    pub requesting_authority: ShortText,
    pub partner_reference: ShortText,
    pub title: ShortText,
    pub summary_of_facts: LongText,
    pub offences: Vec<ShortText>,
    /// The assistance sought: one or more measures.
    pub measures: Vec<ShortText>,
    pub purpose: LongText,
    pub legal_basis: ShortText,
    pub persons: Vec<Person>,
    pub confidentiality: Option<Confidentiality>,
}

impl RequestContent {
    /// Most list entries a request may carry (offences, measures, persons).
    pub const MAX_ENTRIES: usize = crate::limits::MAX_ENTRIES;

    pub fn priority(&self) -> Priority {
        self.priority.unwrap_or(Priority::Normal)
    }

    /// The fields that submission requires and this content lacks, by their contract names.
    pub fn missing_for_submission(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if self.request_type.is_none() {
            missing.push("request_type");
        }
        if self.requesting_authority.is_blank() {
            missing.push("requesting_authority");
        }
        if self.title.is_blank() {
            missing.push("title");
        }
        if self.summary_of_facts.is_blank() {
            missing.push("summary_of_facts");
        }
        if self.legal_basis.is_blank() {
            missing.push("legal_basis");
        }
        if self.purpose.is_blank() {
            missing.push("purpose");
        }
        if self.measures.iter().all(ShortText::is_blank) {
            missing.push("measures");
        }
        if self.priority() == Priority::Urgent && self.urgency_reason.is_blank() {
            missing.push("urgency_reason");
        }
        missing
    }
}

/// A request as the register holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub id: RequestId,
    pub reference: Reference,
    pub direction: Direction,
    pub partner_code: PartnerCode,
    pub state: State,
    /// Incremented by every stored change; the request's etag.
    pub version: i64,
    pub content: RequestContent,
    pub conditions: Vec<Condition>,
    /// The NCIJC staff member handling the request (internal).
    pub assignee: ShortText,
    pub clock: Clock,
    pub create_time: Timestamp,
    pub update_time: Timestamp,
    pub submit_time: Option<Timestamp>,
    pub received_time: Option<Timestamp>,
    /// When the request reached its end: closed, or withdrawn.
    pub close_time: Option<Timestamp>,
    /// When the requested side's decision was reached: the request became ACCEPTED or REFUSED.
    #[serde(default)]
    pub decided_time: Option<Timestamp>,
    /// The grounds it was refused on; empty unless it was refused.
    #[serde(default)]
    pub refusal_grounds: Vec<RefusalGround>,
    /// When its execution was completed: the request became EXECUTED.
    #[serde(default)]
    pub executed_time: Option<Timestamp>,
}

impl Request {
    /// The etag a caller sends back to say which version it last saw.
    pub fn etag(&self) -> String {
        self.version.to_string()
    }

    /// Handled only by the staff assigned (and overseen by supervisors and auditors).
    pub fn is_strictly_confidential(&self) -> bool {
        self.content.confidentiality == Some(Confidentiality::StrictlyConfidential)
    }

    /// Overdue: active, the clock running, and the due date passed.
    pub fn is_overdue(&self, now: Timestamp) -> bool {
        self.state.is_active() && self.clock.is_overdue(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabularies_round_trip_through_their_names() {
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(*s));
        }
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(*a));
        }
        assert_eq!(RefusalGround::ALL.len(), 13);
        assert_eq!(ConditionKind::ALL.len(), 8);
        assert_eq!(State::ALL.len(), 13);
        assert_eq!(Action::ALL.len(), 16);
        assert_eq!(State::parse("draft"), None);
    }

    #[test]
    fn only_withdrawn_and_closed_are_terminal() {
        let terminal: Vec<_> = State::ALL.iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(terminal, [&State::Withdrawn, &State::Closed]);
    }

    #[test]
    fn the_human_rights_report_reads_three_assurances_and_four_grounds() {
        let assurances: Vec<_> =
            ConditionKind::ALL.iter().filter(|k| k.is_human_rights_assurance()).map(|k| k.as_str()).collect();
        assert_eq!(assurances, ["DEATH_PENALTY_NON_IMPOSITION", "NON_TORTURE", "FAIR_TRIAL"]);
        let risks: Vec<_> =
            RefusalGround::ALL.iter().filter(|g| g.is_human_rights_risk()).map(|g| g.as_str()).collect();
        assert_eq!(risks, ["PERSECUTION_RISK", "DEATH_PENALTY_RISK", "TORTURE_RISK", "FAIR_TRIAL_RISK"]);
    }

    #[test]
    fn only_death_penalty_torture_fair_trial_and_data_protection_call_for_consultation() {
        let curable: Vec<_> = RefusalGround::ALL.iter().filter(|g| g.conditions_could_cure()).collect();
        assert_eq!(
            curable,
            [
                &RefusalGround::DeathPenaltyRisk,
                &RefusalGround::TortureRisk,
                &RefusalGround::FairTrialRisk,
                &RefusalGround::DataProtection
            ]
        );
    }
}
