//! The emails' templates, compiled into the binary: one folder per email
//! under `templates/`, each with `subject`, `text` and `html` parts in
//! zh-CN (the default) and en, rendered with minijinja.
//!
//! HTML parts are autoescaped; subject and text are not (they are not HTML).
//! Undefined variables are errors, so a template that names a field the
//! event does not carry fails its snapshot test instead of sending a blank.
//!
//! Filters: `yuan` (fen → `¥12,345.67`) and `term` (a vocabulary code →
//! its words in the email's language, e.g. `"license" | term("category")`).

use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, State, UndefinedBehavior};
use serde::Serialize;

/// Declares every email with its six template files, embedded.
macro_rules! emails {
    ($($email:literal),+ $(,)?) => {
        /// Every email, by template name.
        pub const EMAILS: &[&str] = &[$($email),+];

        const SOURCES: &[(&str, &str)] = &[
            $(
                (concat!($email, "/subject.zh-CN.j2"), include_str!(concat!("../templates/", $email, "/subject.zh-CN.j2"))),
                (concat!($email, "/subject.en.j2"), include_str!(concat!("../templates/", $email, "/subject.en.j2"))),
                (concat!($email, "/text.zh-CN.j2"), include_str!(concat!("../templates/", $email, "/text.zh-CN.j2"))),
                (concat!($email, "/text.en.j2"), include_str!(concat!("../templates/", $email, "/text.en.j2"))),
                (concat!($email, "/html.zh-CN.j2"), include_str!(concat!("../templates/", $email, "/html.zh-CN.j2"))),
                (concat!($email, "/html.en.j2"), include_str!(concat!("../templates/", $email, "/html.en.j2"))),
            )+
            ("_base/text.j2", include_str!("../templates/_base/text.j2")),
            ("_base/html.j2", include_str!("../templates/_base/html.j2")),
        ];
    };
}

emails!(
    "welcome",
    "account_locked",
    "password_reset",
    "recovery_code_used",
    "item_approved",
    "item_rejected",
    "offer_received",
    "counter_offer",
    "deal_agreed",
    "contract_signed",
    "contract_registered",
    "registration_rejected",
    "deal_completed",
    "deal_cancelled",
    "payment_recorded",
    "payment_confirmed",
    "payment_failed",
    "payment_refunded",
    "payment_rejected",
    "payment_withdrawn",
    "payment_needs_refund",
    "saved_search_matched",
    "claim_reviewed",
    "claim_not_in_round",
    "round_publicized",
    "review_item",
    "review_registration",
    "review_claim",
    "registration_decided",
    "registration_queue",
);

/// The language of an email: the recipient's `locale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Locale {
    #[serde(rename = "zh-CN")]
    ZhCn,
    #[serde(rename = "en")]
    En,
}

impl Locale {
    pub const ALL: [Self; 2] = [Self::ZhCn, Self::En];

    /// A user's stored locale; anything but English is Chinese, the default.
    pub fn from_user(locale: &str) -> Self {
        if locale == "en" || locale.starts_with("en-") { Self::En } else { Self::ZhCn }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ZhCn => "zh-CN",
            Self::En => "en",
        }
    }
}

/// An email's three parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The compiled templates.
pub struct Templates {
    env: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").field("emails", &EMAILS.len()).finish()
    }
}

impl Templates {
    /// Compiles every template; an error names the file (a bug caught by
    /// the snapshot tests, never a deployment problem).
    pub fn new() -> Result<Self, Error> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_auto_escape_callback(|name| {
            let file = name.rsplit('/').next().unwrap_or(name);
            if file.starts_with("html.") { AutoEscape::Html } else { AutoEscape::None }
        });
        env.add_filter("yuan", |fen: i64| crate::money::yuan(fen));
        env.add_filter("term", term);
        for (name, source) in SOURCES {
            env.add_template(name, source)?;
        }
        Ok(Self { env })
    }

    /// Renders `email` in `locale`. `context` is what the templates see at
    /// the top level; `locale` is added to it.
    pub fn render(&self, email: &str, locale: Locale, context: &serde_json::Value) -> Result<Rendered, Error> {
        let context = Value::from_serialize(context);
        let context = minijinja::context! { locale => locale.as_str(), ..context };
        let part = |part: &str| -> Result<String, Error> {
            self.env.get_template(&format!("{email}/{part}.{}.j2", locale.as_str()))?.render(&context)
        };
        // One line, however the template wraps it.
        let subject = part("subject")?.split_whitespace().collect::<Vec<_>>().join(" ");
        Ok(Rendered { subject, text: part("text")?, html: part("html")? })
    }
}

/// `code | term("vocabulary")`: a vocabulary code in the email's language;
/// an unknown code is shown as it is.
fn term(state: &State, code: String, vocabulary: String) -> Result<String, Error> {
    let english = state.lookup("locale").is_some_and(|l| l.as_str() == Some("en"));
    let words = TERMS
        .iter()
        .find(|(v, c, _, _)| *v == vocabulary && *c == code)
        .map(|(_, _, zh, en)| if english { *en } else { *zh });
    match words {
        Some(words) => Ok(words.to_string()),
        None if TERMS.iter().any(|(v, ..)| *v == vocabulary) => Ok(code),
        None => Err(Error::new(ErrorKind::InvalidOperation, format!("no vocabulary named {vocabulary}"))),
    }
}

/// (vocabulary, code, zh-CN, en).
const TERMS: &[(&str, &str, &str, &str)] = &[
    ("trade_mode", "assignment", "转让", "assignment"),
    ("trade_mode", "exclusive_license", "独占许可", "exclusive licence"),
    ("trade_mode", "sole_license", "排他许可", "sole licence"),
    ("trade_mode", "nonexclusive_license", "普通许可", "non-exclusive licence"),
    ("trade_mode", "equity", "作价入股", "equity contribution"),
    ("trade_mode", "joint_development", "合作开发", "joint development"),
    ("category", "development", "技术开发", "technology development"),
    ("category", "transfer", "技术转让", "technology transfer"),
    ("category", "license", "技术许可", "technology licensing"),
    ("category", "consulting", "技术咨询", "technical consulting"),
    ("category", "service", "技术服务", "technical services"),
    ("role", "buyer", "买方", "buyer"),
    ("role", "seller", "卖方", "seller"),
    ("role", "agency", "技术转移机构", "technology transfer agency"),
    ("method", "offline", "线下银行转账", "offline bank transfer"),
    ("method", "stripe", "在线支付（Stripe）", "online payment (Stripe)"),
    ("item", "listing", "成果", "listing"),
    ("item", "demand", "需求", "demand"),
    ("level", "1", "初审", "first-level review"),
    ("level", "2", "复审", "second-level review"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        Templates::new().unwrap();
    }

    #[test]
    fn locales_default_to_chinese() {
        assert_eq!(Locale::from_user("en"), Locale::En);
        assert_eq!(Locale::from_user("en-GB"), Locale::En);
        assert_eq!(Locale::from_user("zh-CN"), Locale::ZhCn);
        assert_eq!(Locale::from_user(""), Locale::ZhCn);
        assert_eq!(Locale::from_user("fr"), Locale::ZhCn);
    }
}
