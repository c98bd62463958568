//! What the broker accepts, as the OpenAPI document states it: named schemas for the domain's value
//! types (a one-line text, a text of paragraphs, a partner code, a country ...), made from the
//! domain's [`limits`](crate::limits), so that every number is written once. The broker enforces
//! them; the document says them, so that a client (or a fuzzer) knows what is valid before it asks.
//!
//! Patterns are ECMA-262, as JSON Schema reads them, and written with `\uXXXX` escapes and plain
//! classes only, which Python's `re` (schemathesis) and Rust's `regex` (the tests) read alike.

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::limits;

/// The control characters (Unicode's Cc, Rust's `char::is_control`), refused in every text.
macro_rules! controls {
    () => {
        r"\u0000-\u001F\u007F-\u009F"
    };
}
/// The control characters but tab, line feed and carriage return, which a text of paragraphs keeps.
macro_rules! controls_but_breaks {
    () => {
        r"\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F"
    };
}
/// Unicode's White_Space (what Rust's `str::trim` removes), spelt out: `\s` differs between dialects.
macro_rules! white_space {
    () => {
        r"\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"
    };
}

/// A one-line text: no control characters.
pub const ONE_LINE: &str = concat!("^[^", controls!(), "]*$");
/// A one-line text that is not blank.
pub const ONE_LINE_NOT_BLANK: &str =
    concat!("^[^", controls!(), "]*[^", controls!(), white_space!(), "][^", controls!(), "]*$");
/// A text of paragraphs: no control characters but line breaks and tabs.
pub const PARAGRAPHS: &str = concat!("^[^", controls_but_breaks!(), "]*$");
/// A text of paragraphs that is not blank.
pub const PARAGRAPHS_NOT_BLANK: &str = concat!(
    "^[^",
    controls_but_breaks!(),
    "]*[^",
    controls_but_breaks!(),
    white_space!(),
    "][^",
    controls_but_breaks!(),
    "]*$"
);
/// A partner's code: groups of upper-case letters and digits joined by single hyphens.
pub const PARTNER_CODE: &str = "^[A-Z0-9]+(-[A-Z0-9]+)*$";
/// A media type's token (RFC 6838's restricted name characters).
macro_rules! token {
    () => {
        r"[A-Za-z0-9!#$&^_.+-]+"
    };
}
/// A media type: `type/subtype`, then parameters (ASCII), or empty.
pub const MEDIA_TYPE: &str = concat!(r"^(", token!(), "/", token!(), r"(;[\u0020-\u007E]*)?)?$");
/// A language tag: a primary subtag of 2-8 letters, then subtags of 1-8 letters and digits, or empty.
pub const LANGUAGE_TAG: &str = "^([A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*)?$";
/// A SHA-256: 64 hex digits, or empty.
pub const SHA256_OR_EMPTY: &str = "^([0-9A-Fa-f]{64})?$";
/// One strong entity tag (RFC 9110's etagc) in quotes, or `*`.
pub const IF_MATCH: &str = r#"^(\*|"[\u0021\u0023-\u007E]+")$"#;
/// A key of visible ASCII (spaces inside only: a header's value has no surrounding white space).
pub const VISIBLE_ASCII: &str = r"^[\u0021-\u007E]([\u0020-\u007E]*[\u0021-\u007E])?$";

fn text(max_chars: usize, pattern: &str) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).max_length(Some(max_chars)).pattern(Some(pattern))
}

/// Declares a named schema: a type that exists only to be named by `value_type`.
macro_rules! named_schema {
    ($(#[$doc:meta])* $name:ident => $schema:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $schema.into()
            }
        }

        impl ToSchema for $name {}
    };
}

named_schema!(
    /// Text on one line of a form (a title, a name, a reference): possibly empty.
    ShortText => text(limits::SHORT_TEXT_MAX_CHARS, ONE_LINE)
        .description(Some(format!("At most {} characters, no control characters.", limits::SHORT_TEXT_MAX_CHARS)))
);
named_schema!(
    /// Text of several paragraphs (facts, reasons, answers): possibly empty.
    LongText => text(limits::LONG_TEXT_MAX_CHARS, PARAGRAPHS).description(Some(format!(
        "At most {} characters; line breaks and tabs allowed, other control characters not.",
        limits::LONG_TEXT_MAX_CHARS
    )))
);
named_schema!(
    /// Text of several paragraphs that must say something (a message's body).
    RequiredLongText => text(limits::LONG_TEXT_MAX_CHARS, PARAGRAPHS_NOT_BLANK)
        .min_length(Some(1))
        .description(Some(format!(
            "At most {} characters, not blank; line breaks and tabs allowed, other control characters not.",
            limits::LONG_TEXT_MAX_CHARS
        )))
);
named_schema!(
    /// The entries of a list of one-line texts (offences, measures, legal bases).
    ShortTexts => ArrayBuilder::new()
        .items(Ref::from_schema_name("ShortText"))
        .max_items(Some(limits::MAX_ENTRIES))
);
named_schema!(
    /// A partner's code in the registry.
    PartnerCode => ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(limits::PARTNER_CODE_MIN_CHARS))
        .max_length(Some(limits::PARTNER_CODE_MAX_CHARS))
        .pattern(Some(PARTNER_CODE))
        .description(Some(format!(
            "{}-{} upper-case letters and digits in groups joined by hyphens, such as `FR-MOJ`.",
            limits::PARTNER_CODE_MIN_CHARS,
            limits::PARTNER_CODE_MAX_CHARS
        )))
);
named_schema!(
    /// An ISO 3166-1 alpha-2 code, or empty: the codes assigned, as the broker checks them.
    Country => ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(std::iter::once("").chain(isocountry::CountryCode::iter_alpha2().map(|c| c.alpha2()))))
        .description(Some("An assigned ISO 3166-1 alpha-2 code, such as `IQ`; empty if unknown."))
);
named_schema!(
    /// The id of a resource: a UUID.
    Id => ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::Custom("uuid".into())))
);
named_schema!(
    /// An `Idempotency-Key` header.
    IdempotencyKey => ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(limits::MAX_IDEMPOTENCY_KEY_BYTES))
        .pattern(Some(VISIBLE_ASCII))
        .description(Some(format!(
            "1-{} visible ASCII characters (a UUID serves well).",
            limits::MAX_IDEMPOTENCY_KEY_BYTES
        )))
);

named_schema!(
    /// Text on one line that must say something (a document's title).
    RequiredShortText => text(limits::SHORT_TEXT_MAX_CHARS, ONE_LINE_NOT_BLANK)
        .min_length(Some(1))
        .description(Some(format!("At most {} characters, not blank, no control characters.", limits::SHORT_TEXT_MAX_CHARS)))
);
named_schema!(
    /// A file name as the uploader gave it: any script, not blank.
    FileName => text(limits::MAX_FILE_NAME_CHARS, ONE_LINE_NOT_BLANK)
        .min_length(Some(1))
        .description(Some(format!("At most {} characters, not blank, no control characters.", limits::MAX_FILE_NAME_CHARS)))
);
named_schema!(
    /// A partner's code, or empty for none.
    PartnerCodeOrEmpty => OneOfBuilder::new().item(Ref::from_schema_name("PartnerCode")).item(empty())
);
named_schema!(
    /// The id of a resource, or empty for none.
    IdOrEmpty => OneOfBuilder::new().item(Ref::from_schema_name("Id")).item(empty())
);
named_schema!(
    /// A request's persons.
    Persons => ArrayBuilder::new().items(Ref::from_schema_name("Person")).max_items(Some(limits::MAX_ENTRIES))
);
named_schema!(
    /// The documents that go with a message.
    AttachmentIds => ArrayBuilder::new().items(Ref::from_schema_name("Id")).max_items(Some(limits::MAX_ATTACHMENTS))
);
named_schema!(
    /// A media type `type/subtype`, parameters allowed; empty: `application/octet-stream`.
    MediaType => ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(limits::MAX_MEDIA_TYPE_CHARS))
        .pattern(Some(MEDIA_TYPE))
);
named_schema!(
    /// A BCP 47 language tag in its common shape (`ar`, `ckb`, `en-GB`, `sr-Latn`), or empty.
    LanguageTag => ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(limits::MAX_LANGUAGE_TAG_CHARS))
        .pattern(Some(LANGUAGE_TAG))
);
named_schema!(
    /// A SHA-256 in hex (either case), or empty.
    Sha256OrEmpty => ObjectBuilder::new().schema_type(Type::String).pattern(Some(SHA256_OR_EMPTY))
);
named_schema!(
    /// Free text searched for in the register.
    SearchText => ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(limits::MAX_QUERY_CHARS))
        .description(Some(format!("At most {} characters.", limits::MAX_QUERY_CHARS)))
);
named_schema!(
    /// An `If-Match` header: one strong entity tag, quoted, or `*`.
    IfMatch => ObjectBuilder::new().schema_type(Type::String).pattern(Some(IF_MATCH))
);

named_schema!(
    /// The orders of the request list besides the default (newest first).
    OrderBy => ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["due_time"]))
);
named_schema!(
    /// The languages a letter of request is printed in.
    LetterLanguage => ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["en", "ar"]))
);

/// The empty string, which stands for "none" where a value is optional.
fn empty() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some([""]))
}

/// The named schemas, for the document's components (parameters do not register what they name).
pub fn all() -> Vec<(String, RefOr<Schema>)> {
    fn named<T: ToSchema>() -> (String, RefOr<Schema>) {
        (T::name().into_owned(), T::schema())
    }
    vec![
        named::<ShortText>(),
        named::<LongText>(),
        named::<RequiredLongText>(),
        named::<ShortTexts>(),
        named::<PartnerCode>(),
        named::<Country>(),
        named::<Id>(),
        named::<IdempotencyKey>(),
        named::<RequiredShortText>(),
        named::<FileName>(),
        named::<PartnerCodeOrEmpty>(),
        named::<IdOrEmpty>(),
        named::<Persons>(),
        named::<AttachmentIds>(),
        named::<MediaType>(),
        named::<LanguageTag>(),
        named::<Sha256OrEmpty>(),
        named::<SearchText>(),
        named::<IfMatch>(),
        named::<OrderBy>(),
        named::<LetterLanguage>(),
    ]
}
