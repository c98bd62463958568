//! The letter of request: an OUTGOING request printed for a partner that works on paper, in English
//! or Arabic (right to left), every text of the request keeping its own direction.

use askama::Template;
use mla_domain::request::Direction;
use mla_domain::{Principal, RequestId};

use crate::{App, AppError, AppResult};

/// A printed letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    pub media_type: &'static str,
    pub file_name: String,
    pub html: String,
}

/// The words a letter is written in.
#[derive(Debug)]
struct Labels {
    lang: &'static str,
    dir: &'static str,
    state: &'static str,
    sender: &'static str,
    letter: &'static str,
    our_reference: &'static str,
    your_reference: &'static str,
    date: &'static str,
    to: &'static str,
    subject: &'static str,
    request_type: &'static str,
    priority: &'static str,
    authority: &'static str,
    legal_basis: &'static str,
    urgency: &'static str,
    facts: &'static str,
    offences: &'static str,
    measures: &'static str,
    purpose: &'static str,
    persons: &'static str,
    name: &'static str,
    role: &'static str,
    nationality: &'static str,
    conditions: &'static str,
    condition: &'static str,
    status: &'static str,
    closing: &'static str,
}

const ENGLISH: Labels = Labels {
    lang: "en",
    dir: "ltr",
    state: "Republic of Iraq",
    sender: "National Center for International Judicial Cooperation",
    letter: "Letter of request for mutual legal assistance",
    our_reference: "Our reference",
    your_reference: "Your reference",
    date: "Date",
    to: "To",
    subject: "Subject",
    request_type: "Assistance",
    priority: "Priority",
    authority: "Requesting authority",
    legal_basis: "Legal basis",
    urgency: "Reason for urgency",
    facts: "Summary of the facts",
    offences: "Offences",
    measures: "Measures requested",
    purpose: "Purpose of the request",
    persons: "Persons concerned",
    name: "Name",
    role: "Role",
    nationality: "Nationality",
    conditions: "Conditions and assurances",
    condition: "Condition",
    status: "Status",
    closing: "The National Center for International Judicial Cooperation avails itself of this opportunity \
              to renew the assurances of its highest consideration.",
};

const ARABIC: Labels = Labels {
    lang: "ar",
    dir: "rtl",
    state: "جمهورية العراق",
    sender: "المركز الوطني للتعاون القضائي الدولي",
    letter: "طلب مساعدة قانونية متبادلة",
    our_reference: "رقمنا",
    your_reference: "رقمكم",
    date: "التاريخ",
    to: "إلى",
    subject: "الموضوع",
    request_type: "نوع المساعدة",
    priority: "الأولوية",
    authority: "السلطة الطالبة",
    legal_basis: "الأساس القانوني",
    urgency: "سبب الاستعجال",
    facts: "ملخص الوقائع",
    offences: "الجرائم",
    measures: "الإجراءات المطلوبة",
    purpose: "الغرض من الطلب",
    persons: "الأشخاص المعنيون",
    name: "الاسم",
    role: "الصفة",
    nationality: "الجنسية",
    conditions: "الشروط والضمانات",
    condition: "الشرط",
    status: "الحالة",
    closing: "ينتهز المركز الوطني للتعاون القضائي الدولي هذه الفرصة ليعرب عن فائق تقديره واحترامه.",
};

#[derive(Template)]
#[template(path = "letter.html")]
struct LetterPage<'a> {
    labels: &'a Labels,
    confidentiality: Option<&'static str>,
    reference: String,
    date: String,
    partner: String,
    partner_reference: &'a str,
    title: &'a str,
    request_type: &'static str,
    priority: &'static str,
    authority: &'a str,
    legal_basis: &'a str,
    urgency_reason: &'a str,
    facts: &'a str,
    offences: Vec<&'a str>,
    measures: Vec<&'a str>,
    purpose: &'a str,
    persons: Vec<(&'a str, &'static str, &'a str)>,
    conditions: Vec<(&'a str, &'static str)>,
}

impl App {
    /// Prints an OUTGOING request the principal sees as a letter in `language` (`en`, the default,
    /// or `ar`). NCIJC staff only: the letter is the NCIJC's.
    pub async fn print_letter(
        &self,
        principal: &Principal,
        id: RequestId,
        language: &str,
    ) -> AppResult<Letter> {
        let labels = match language {
            "" | "en" => &ENGLISH,
            "ar" => &ARABIC,
            _ => return Err(AppError::invalid("language", "a letter is printed in en or ar")),
        };
        let request = self.load_visible(principal, id).await?.as_seen_by(principal);
        if !principal.is_ncijc() {
            return Err(AppError::PermissionDenied("letters of request are printed by NCIJC staff"));
        }
        if request.direction != Direction::Outgoing {
            return Err(AppError::invalid(
                "id",
                "only an OUTGOING request is printed as a letter of request",
            ));
        }
        let partner = self.partner_of(&request.partner_code).await?;
        let content = &request.content;
        let page = LetterPage {
            labels,
            confidentiality: content.confidentiality.map(|c| c.as_str()).filter(|c| *c != "STANDARD"),
            reference: request.reference.to_string(),
            date: request.submit_time.unwrap_or(request.update_time).format("%Y-%m-%d").to_string(),
            partner: match &partner {
                Some(p) => format!("{} ({})", p.name.as_str(), p.code),
                None => request.partner_code.to_string(),
            },
            partner_reference: content.partner_reference.as_str(),
            title: content.title.as_str(),
            request_type: content.request_type.map_or("", |t| t.as_str()),
            priority: content.priority().as_str(),
            authority: content.requesting_authority.as_str(),
            legal_basis: content.legal_basis.as_str(),
            urgency_reason: content.urgency_reason.as_str(),
            facts: content.summary_of_facts.as_str(),
            offences: content.offences.iter().map(|o| o.as_str()).collect(),
            measures: content.measures.iter().map(|m| m.as_str()).collect(),
            purpose: content.purpose.as_str(),
            persons: content
                .persons
                .iter()
                .map(|p| (p.name.as_str(), p.role.as_str(), p.nationality.as_str()))
                .collect(),
            conditions: request
                .conditions
                .iter()
                .map(|c| {
                    (if c.text.is_blank() { c.kind.as_str() } else { c.text.as_str() }, c.status.as_str())
                })
                .collect(),
        };
        let html =
            page.render().map_err(|e| AppError::Internal(format!("the letter did not render: {e}")))?;
        Ok(Letter {
            media_type: "text/html; charset=utf-8",
            file_name: format!("{}.html", request.reference),
            html,
        })
    }
}
