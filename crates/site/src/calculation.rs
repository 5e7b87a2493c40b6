//! A subsidy calculation as the pages show it — the member's preview and
//! the official's review of a frozen claim alike: its lines, each naming
//! the rule it applied in the visitor's words (as `/programs` words it),
//! the deals that do not count and why, and the engine's own record.

use techtrade_domain::policy::{self, Calculation, Program};

use crate::i18n::{self, Lang};

pub struct ShownCalculation {
    pub calculation: Calculation,
    lang: Lang,
    /// The rules the lines applied, in the visitor's language, by id.
    rule_texts: Vec<(String, String)>,
    /// Where a deal's link goes (`/workspace/deals/`), or `None` to name
    /// the deal without a link.
    deal_path: Option<&'static str>,
    /// Added to the element ids, so that a page can show several
    /// calculations (`-<claim id>`); empty for a page's only one.
    pub id_suffix: String,
}

impl ShownCalculation {
    pub fn new(
        calculation: Calculation,
        program: Option<&Program>,
        lang: Lang,
        deal_path: Option<&'static str>,
    ) -> Self {
        let words = if lang.is_english() { policy::Lang::En } else { policy::Lang::Zh };
        let rule_texts = program
            .map(|program| {
                calculation
                    .lines
                    .iter()
                    .filter_map(|line| Some((line.rule_id.clone(), program.describe_rule(&line.rule_id, words)?)))
                    .collect()
            })
            .unwrap_or_default();
        Self { calculation, lang, rule_texts, deal_path, id_suffix: String::new() }
    }

    /// The same, one of several on its page.
    pub fn numbered(self, id_suffix: String) -> Self {
        Self { id_suffix, ..self }
    }

    pub fn rule_text<'a>(&'a self, rule_id: &'a str) -> &'a str {
        self.rule_texts.iter().find(|(id, _)| id == rule_id).map_or(rule_id, |(_, text)| text.as_str())
    }

    /// A reason a deal does not count, in the visitor's language: the
    /// catalogue's words for its code, else the policy's own.
    pub fn reason_text(&self, code: &str, message: &str) -> String {
        let key = format!("reason-{code}");
        if i18n::has(self.lang, &key) { i18n::text(self.lang, &key, &[]) } else { message.to_string() }
    }

    pub fn deal_link(&self, deal_id: &str) -> Option<String> {
        self.deal_path.map(|path| format!("{path}{deal_id}"))
    }
}
