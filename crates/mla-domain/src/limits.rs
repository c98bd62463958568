//! The limits of what the broker accepts, each written once: the domain enforces them and the REST
//! gateway's OpenAPI document states them. The gateway compiles this file as a module of its own (it
//! depends on the gRPC contract alone), so it holds plain constants and nothing else.

/// Most characters of a one-line text (`ShortText`): titles, names, references.
pub const SHORT_TEXT_MAX_CHARS: usize = 500;

/// Most characters of a text of several paragraphs (`LongText`): facts, reasons, message bodies.
pub const LONG_TEXT_MAX_CHARS: usize = 20_000;

/// Most entries of a request's lists (offences, measures, persons) and of a partner's legal bases.
pub const MAX_ENTRIES: usize = 100;

/// Most attachments one message carries.
pub const MAX_ATTACHMENTS: usize = 20;

/// Fewest and most characters of a partner's code.
pub const PARTNER_CODE_MIN_CHARS: usize = 2;
pub const PARTNER_CODE_MAX_CHARS: usize = 32;

/// Longest file name kept, in characters (what common file systems allow).
pub const MAX_FILE_NAME_CHARS: usize = 255;

/// Longest media type, parameters included (ASCII).
pub const MAX_MEDIA_TYPE_CHARS: usize = 255;

/// Longest language tag (ASCII), as BCP 47 advises an implementation to accept at least.
pub const MAX_LANGUAGE_TAG_CHARS: usize = 35;

/// Longest idempotency key, in bytes.
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 128;

/// Longest free-text search of the register.
pub const MAX_QUERY_CHARS: usize = 200;
