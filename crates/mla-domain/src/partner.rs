//! The partner registry's entries: the foreign authorities and international mechanisms the NCIJC
//! cooperates with.

use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::request::vocabulary;
use crate::text::{PartnerCode, ShortText};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PartnerKind {
    #[serde(rename = "STATE_AUTHORITY")]
    StateAuthority,
    #[serde(rename = "INTERNATIONAL_MECHANISM")]
    InternationalMechanism,
}

impl PartnerKind {
    pub const ALL: &'static [PartnerKind] =
        &[PartnerKind::StateAuthority, PartnerKind::InternationalMechanism];

    pub fn as_str(self) -> &'static str {
        match self {
            PartnerKind::StateAuthority => "STATE_AUTHORITY",
            PartnerKind::InternationalMechanism => "INTERNATIONAL_MECHANISM",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == raw)
    }
}

vocabulary!(
    /// How a partner exchanges requests: through the API (`SYSTEM`), or on paper (`PAPER`: diplomatic
    /// notes, post, e-mail, courier, INTERPOL), recorded by NCIJC staff on its behalf.
    Channel {
        System = "SYSTEM",
        Paper = "PAPER",
    }
);

/// A partner of the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partner {
    pub code: PartnerCode,
    pub name: ShortText,
    /// ISO 3166-1 alpha-2; empty for an international body.
    pub country: String,
    pub kind: PartnerKind,
    /// The legal bases it cooperates under (a bilateral treaty, UNTOC art. 18, UNCAC art. 46 ...).
    pub legal_bases: Vec<ShortText>,
    /// Requests may be submitted to or from active partners only.
    pub active: bool,
    /// Whether the partner calls the API itself or staff record its acts.
    pub channel: Channel,
    pub version: i64,
    pub create_time: Timestamp,
    pub update_time: Timestamp,
}

/// Parses an ISO 3166-1 alpha-2 country code (`IQ`, `FR`: an assigned code, not any two letters), or
/// the empty string for an international body or an unknown nationality.
pub fn parse_country(raw: &str) -> Result<String, crate::text::ParseError> {
    if raw.is_empty() || isocountry::CountryCode::for_alpha2(raw).is_ok() {
        Ok(raw.to_owned())
    } else {
        Err(crate::text::ParseError(format!(
            "{raw:?} is not an ISO 3166-1 alpha-2 country code (an assigned code such as IQ or FR, or empty)"
        )))
    }
}
