//! Value types that parse rather than validate: once one exists, it is well formed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::limits::{
    LONG_TEXT_MAX_CHARS, PARTNER_CODE_MAX_CHARS, PARTNER_CODE_MIN_CHARS, SHORT_TEXT_MAX_CHARS,
};
use crate::request::Direction;

/// Why a piece of text was refused, in words a partner's engineer can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

/// A partner's code in the registry, such as `FR-MOJ` or `UN-IIIM`: 2 to 32 characters of upper-case
/// ASCII letters and digits, in groups joined by single hyphens.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PartnerCode(String);

impl PartnerCode {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let well_formed = (PARTNER_CODE_MIN_CHARS..=PARTNER_CODE_MAX_CHARS).contains(&raw.len())
            && raw.split('-').all(|group| {
                !group.is_empty() && group.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            });
        if well_formed {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ParseError(format!(
                "{raw:?} is not a partner code: use 2-32 upper-case letters and digits in groups joined by hyphens, such as FR-MOJ"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PartnerCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for PartnerCode {
    type Error = ParseError;
    fn try_from(raw: String) -> Result<Self, ParseError> {
        Self::parse(&raw)
    }
}

impl From<PartnerCode> for String {
    fn from(code: PartnerCode) -> String {
        code.0
    }
}

impl FromStr for PartnerCode {
    type Err = ParseError;
    fn from_str(raw: &str) -> Result<Self, ParseError> {
        Self::parse(raw)
    }
}

/// Declares an identifier that is a UUID (version 7, so that identifiers sort by creation time),
/// named `what` in parse errors.
macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        pub struct $name(uuid::Uuid);

        impl $name {
            pub fn from_uuid(uuid: uuid::Uuid) -> Self {
                Self(uuid)
            }

            pub fn parse(raw: &str) -> Result<Self, $crate::text::ParseError> {
                uuid::Uuid::parse_str(raw)
                    .map(Self)
                    .map_err(|_| $crate::text::ParseError(format!("{raw:?} is not {} (a UUID)", $what)))
            }

            pub fn as_uuid(&self) -> uuid::Uuid {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

pub(crate) use uuid_id;

uuid_id!(
    /// A request's identifier, sorting by creation time.
    RequestId,
    "a request id"
);

/// A registry reference such as `IN-2026-000042`: the direction, the year of registration and a
/// sequence number that has no gaps within that direction and year.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Reference {
    pub direction: Direction,
    pub year: i32,
    pub number: u32,
}

impl Reference {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let refuse = || ParseError(format!("{raw:?} is not a registry reference such as IN-2026-000042"));
        let mut parts = raw.splitn(3, '-');
        let direction = match parts.next() {
            Some("IN") => Direction::Incoming,
            Some("OUT") => Direction::Outgoing,
            _ => return Err(refuse()),
        };
        let (year, number) = (parts.next().ok_or_else(refuse)?, parts.next().ok_or_else(refuse)?);
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(year, 4) || !digits(number, 6) {
            return Err(refuse());
        }
        Ok(Self {
            direction,
            year: year.parse().map_err(|_| refuse())?,
            number: number.parse().map_err(|_| refuse())?,
        })
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = match self.direction {
            Direction::Incoming => "IN",
            Direction::Outgoing => "OUT",
        };
        write!(f, "{prefix}-{:04}-{:06}", self.year, self.number)
    }
}

/// Text that fits on one line of a form: at most [`ShortText::MAX_CHARS`] characters and no control
/// characters. It may be empty (a draft fills its fields over time); see [`ShortText::is_blank`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ShortText(String);

/// Text of several paragraphs (facts, reasons, answers): at most [`LongText::MAX_CHARS`] characters;
/// line breaks and tabs are kept, other control characters are refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LongText(String);

macro_rules! text_type {
    ($name:ident, $max:expr, $allowed:expr, $what:expr) => {
        impl $name {
            pub const MAX_CHARS: usize = $max;

            pub fn parse(raw: impl Into<String>) -> Result<Self, ParseError> {
                let raw = raw.into();
                let chars = raw.chars().count();
                if chars > Self::MAX_CHARS {
                    return Err(ParseError(format!(
                        "{} is {chars} characters long; the limit is {}",
                        $what,
                        Self::MAX_CHARS
                    )));
                }
                let allowed: fn(char) -> bool = $allowed;
                if let Some(c) = raw.chars().find(|&c| c.is_control() && !allowed(c)) {
                    return Err(ParseError(format!(
                        "{} contains the control character U+{:04X}",
                        $what, c as u32
                    )));
                }
                Ok(Self(raw))
            }

            /// True when the text has nothing but white space: a required field left unfilled.
            pub fn is_blank(&self) -> bool {
                self.0.trim().is_empty()
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ParseError;
            fn try_from(raw: String) -> Result<Self, ParseError> {
                Self::parse(raw)
            }
        }

        impl From<$name> for String {
            fn from(text: $name) -> String {
                text.0
            }
        }
    };
}

text_type!(ShortText, SHORT_TEXT_MAX_CHARS, |_| false, "a one-line text");
text_type!(LongText, LONG_TEXT_MAX_CHARS, |c| matches!(c, '\n' | '\r' | '\t'), "a text");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partner_codes_are_upper_case_groups_joined_by_hyphens() {
        for good in ["FR-MOJ", "UN-IIIM", "DE-BJ2", "EUROJUST"] {
            assert_eq!(PartnerCode::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", "F", "fr-moj", "FR--MOJ", "-FR", "FR-", "FR MOJ", "FR-MOJ'; DROP", "ФР-МОЙ"] {
            assert!(PartnerCode::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(PartnerCode::parse(&"A".repeat(33)).is_err());
    }

    #[test]
    fn references_round_trip_and_refuse_anything_else() {
        let r = Reference::parse("IN-2026-000042").unwrap();
        assert_eq!((r.direction, r.year, r.number), (Direction::Incoming, 2026, 42));
        assert_eq!(r.to_string(), "IN-2026-000042");
        assert_eq!(Reference::parse("OUT-2026-000007").unwrap().to_string(), "OUT-2026-000007");
        for bad in ["IN-26-000042", "IN-2026-42", "X-2026-000001", "IN-2026-00004a", "IN-2026-000042-1"] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn request_ids_are_uuids() {
        assert!(RequestId::parse("0192f0c1-7a3e-7cc0-8000-000000000001").is_ok());
        assert!(RequestId::parse("42").is_err());
    }

    #[test]
    fn texts_keep_hostile_but_printable_content_and_refuse_control_characters() {
        let hostile = "Robert'); DROP TABLE requests;-- «الطلب» داواکاری \"quoted\"";
        assert_eq!(ShortText::parse(hostile).unwrap().as_str(), hostile);
        assert!(ShortText::parse("line\nbreak").is_err());
        assert!(ShortText::parse("nul\0").is_err());
        assert_eq!(LongText::parse("para\n\tgraph").unwrap().as_str(), "para\n\tgraph");
        assert!(LongText::parse("bell\u{7}").is_err());
        assert!(ShortText::parse("x".repeat(ShortText::MAX_CHARS + 1)).is_err());
        assert!(ShortText::parse("ع".repeat(ShortText::MAX_CHARS)).is_ok());
        assert!(ShortText::parse("  ").unwrap().is_blank());
    }
}
