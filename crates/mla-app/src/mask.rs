//! Field masks for UpdateRequest (AIP-134): which of the incoming fields replace the stored ones.

use mla_domain::lifecycle::Patch;
use mla_domain::{LongText, RequestContent, ShortText, Timestamp};
use serde::Serialize;
use serde_json::Value;

use crate::{AppError, AppResult};

/// The content fields a draft's author may change, by their contract names (which are also the
/// names of `RequestContent`'s fields).
const CONTENT_FIELDS: [&str; 13] = [
    "request_type",
    "priority",
    "urgency_reason",
    "requesting_authority",
    "partner_reference",
    "title",
    "summary_of_facts",
    "offences",
    "measures",
    "purpose",
    "legal_basis",
    "persons",
    "confidentiality",
];

/// Fields the caller may read but never write.
const READ_ONLY_FIELDS: [&str; 14] = [
    "id",
    "reference",
    "partner_code",
    "direction",
    "state",
    "etag",
    "conditions",
    "create_time",
    "update_time",
    "submit_time",
    "received_time",
    "close_time",
    "allowed_actions",
    "overdue",
];

/// Every path an update mask may name or refuse by name: the request's fields as the contract
/// declares them (a test in `mla-grpc` holds the two together).
pub fn request_paths() -> impl Iterator<Item = &'static str> {
    CONTENT_FIELDS.into_iter().chain(["assignee", "due_time"]).chain(READ_ONLY_FIELDS)
}

/// An UpdateRequest as parsed from the wire: the incoming values and the mask that selects them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UpdateInput {
    pub content: RequestContent,
    pub assignee: ShortText,
    pub due_time: Option<Timestamp>,
    /// Field paths relative to the request; empty means every field the caller set.
    pub paths: Vec<String>,
    /// The justification of a new due date.
    pub reason: LongText,
}

impl UpdateInput {
    /// The patch this update makes to a request whose content is `current`.
    pub fn patch_for(&self, current: &RequestContent) -> AppResult<Patch> {
        let incoming = to_json(&self.content)?;
        let paths: Vec<String> = if self.paths.is_empty() {
            let blank = to_json(&RequestContent::default())?;
            let mut set: Vec<String> = CONTENT_FIELDS
                .iter()
                .filter(|f| incoming[**f] != blank[**f])
                .map(|f| f.to_string())
                .collect();
            if !self.assignee.is_blank() {
                set.push("assignee".into());
            }
            if self.due_time.is_some() {
                set.push("due_time".into());
            }
            set
        } else {
            self.paths.clone()
        };

        let mut patch = Patch::default();
        let mut content = to_json(current)?;
        let mut changed = Vec::new();
        let mut violations = Vec::new();
        for path in &paths {
            let field = format!("update_mask.paths[{path}]");
            match path.as_str() {
                p if CONTENT_FIELDS.contains(&p) => {
                    content[p] = incoming[p].clone();
                    changed.push(p.to_owned());
                }
                "assignee" => patch.assignee = Some(self.assignee.clone()),
                "due_time" => match self.due_time {
                    Some(due) => patch.due = Some((due, self.reason.clone())),
                    None => violations.push(mla_domain::FieldViolation::new(
                        "request.due_time",
                        "the mask names due_time but no due_time was given",
                    )),
                },
                p if READ_ONLY_FIELDS.contains(&p) => violations
                    .push(mla_domain::FieldViolation::new(field, format!("{p} is output only or immutable"))),
                p => violations
                    .push(mla_domain::FieldViolation::new(field, format!("{p} is not a field of Request"))),
            }
        }
        if !violations.is_empty() {
            return Err(AppError::InvalidArgument(violations));
        }
        if !changed.is_empty() {
            let content = serde_json::from_value(content).map_err(|e| AppError::Internal(e.to_string()))?;
            patch.content = Some((content, changed));
        }
        Ok(patch)
    }
}

fn to_json(content: &RequestContent) -> AppResult<Value> {
    serde_json::to_value(content).map_err(|e| AppError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mask_selects_the_fields_it_names_and_nothing_else() {
        let current = RequestContent {
            title: ShortText::parse("Old").unwrap(),
            purpose: LongText::parse("Kept").unwrap(),
            ..Default::default()
        };
        let input = UpdateInput {
            content: RequestContent { title: ShortText::parse("New").unwrap(), ..Default::default() },
            paths: vec!["title".into()],
            ..Default::default()
        };
        let (content, changed) = input.patch_for(&current).unwrap().content.unwrap();
        assert_eq!(content.title.as_str(), "New");
        assert_eq!(content.purpose.as_str(), "Kept");
        assert_eq!(changed, ["title"]);
    }

    #[test]
    fn an_empty_mask_means_every_field_that_is_set() {
        let input = UpdateInput {
            content: RequestContent { title: ShortText::parse("New").unwrap(), ..Default::default() },
            assignee: ShortText::parse("officer-7").unwrap(),
            ..Default::default()
        };
        let patch = input.patch_for(&RequestContent::default()).unwrap();
        assert_eq!(patch.content.unwrap().1, ["title"]);
        assert_eq!(patch.assignee.unwrap().as_str(), "officer-7");
    }

    #[test]
    fn read_only_and_unknown_paths_are_refused() {
        for path in ["state", "partner_code", "colour"] {
            let input = UpdateInput { paths: vec![path.into()], ..Default::default() };
            assert!(matches!(input.patch_for(&RequestContent::default()), Err(AppError::InvalidArgument(_))));
        }
    }
}
