//! Reading an HTML form into the JSON a service takes, and a service's
//! field errors back onto the form's inputs.
//!
//! The service checks everything; this module only translates: typed
//! yuan into fen (people do not type fen), a list of IPC codes typed in
//! one box into an array, checked boxes into an array, and the JSON paths
//! of errors (`price_fen`, `ipc[2]`, `patents[0].filing_date`) into the
//! names of the inputs they belong to.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use techtrade_web::ApiError;

use crate::format;
use crate::i18n::Lang;
use crate::page::FormErrors;

/// A form's fields in the order sent; a name may repeat (checkboxes).
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &[u8]) -> Self {
        let pairs = form_urlencoded::parse(body);
        Self(pairs.map(|(k, v)| (k.into_owned(), techtrade_web::without_nul(&v).into_owned())).collect())
    }

    /// The first value of `name`, trimmed; empty when absent.
    pub fn text(&self, name: &str) -> String {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_string()).unwrap_or_default()
    }

    /// Every non-empty value of `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, v)| k == name && !v.trim().is_empty()).map(|(_, v)| v.trim().to_string()).collect()
    }

    pub fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// How many rows of `prefix[i].…` inputs the form has.
    pub fn rows(&self, prefix: &str) -> usize {
        self.0
            .iter()
            .filter_map(|(k, _)| k.strip_prefix(prefix)?.strip_prefix('[')?.split(']').next()?.parse::<usize>().ok())
            .map(|i| i + 1)
            .max()
            .unwrap_or(0)
    }
}

/// IPC codes typed in one box: one per line, or separated by commas,
/// semicolons or 、 (a space is part of a code: `G06F 16/33`).
pub fn ipc_codes(text: &str) -> Vec<String> {
    text.split(['\n', '\r', ',', '，', ';', '；', '、'])
        .map(str::trim)
        .filter(|code| !code.is_empty())
        .map(str::to_string)
        .collect()
}

/// A JSON string, or null for an empty input (an optional field left blank).
pub fn optional(text: &str) -> Value {
    if text.is_empty() { Value::Null } else { Value::String(text.to_string()) }
}

/// A JSON string, or absent for an empty input (a required field left
/// blank: the service names it as missing).
pub fn put_required(object: &mut Map<String, Value>, key: &str, text: &str) {
    if !text.is_empty() {
        object.insert(key.to_string(), Value::String(text.to_string()));
    }
}

/// Whether a form creates an item or changes a stored one: a change is a
/// merge patch, where an absent field keeps its stored value, so a
/// required field left blank is sent as null (and refused) instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Create,
    Change,
}

impl Purpose {
    pub fn put_required(self, object: &mut Map<String, Value>, key: &str, text: &str) {
        match (self, text.is_empty()) {
            (Self::Change, true) => {
                object.insert(key.to_string(), Value::Null);
            }
            _ => put_required(object, key, text),
        }
    }
}

/// Amounts typed in yuan, as the fen the service takes; the inputs that do
/// not hold an amount are reported on themselves.
#[derive(Default)]
pub struct Amounts {
    pub bad: Vec<String>,
}

impl Amounts {
    /// `input` (yuan as typed) into `object[key]` (fen), or null when blank.
    pub fn put(&mut self, object: &mut Map<String, Value>, key: &str, input: &str, typed: &str) {
        if typed.is_empty() {
            object.insert(key.to_string(), Value::Null);
            return;
        }
        match format::parse_yuan(typed) {
            Some(fen) => {
                object.insert(key.to_string(), Value::from(fen));
            }
            None => self.bad.push(input.to_string()),
        }
    }

    /// The error of the amounts that did not parse, if any.
    pub fn error(&self) -> Option<ApiError> {
        let mut bad = self.bad.iter();
        let first = bad.next()?;
        let error = ApiError::invalid_field(first, "bad_amount", "an amount in yuan, at most two decimals");
        Some(bad.fold(error, |error, input| error.with_field(input.as_str(), "bad_amount", "an amount in yuan")))
    }
}

/// A service's request from a form's fields put into JSON; the typed
/// amounts that are not yuan are refused on their inputs first.
pub fn service_request<T: serde::de::DeserializeOwned>(
    object: Map<String, Value>,
    amounts: &Amounts,
) -> Result<T, ApiError> {
    if let Some(error) = amounts.error() {
        return Err(error);
    }
    techtrade_web::extract::parse_json(Value::Object(object).to_string().as_bytes())
}

/// Where a service's field lands on the form: its input's name.
pub struct FieldMap {
    /// JSON field → input name (`price_fen` → `price_yuan`).
    pub renamed: &'static [(&'static str, &'static str)],
    /// For rows dropped because they were empty: the form's row number of
    /// each row sent (`patents[1]` sent may be the form's `patents[2]`).
    pub rows: Vec<usize>,
    pub row_prefix: &'static str,
}

impl FieldMap {
    fn input(&self, field: &str) -> String {
        if let Some((_, input)) = self.renamed.iter().find(|(json, _)| *json == field) {
            return (*input).to_string();
        }
        // `ipc[2]` and `trade_modes[0]` belong to their one input.
        if let Some((name, rest)) = field.split_once('[') {
            if name != self.row_prefix {
                return name.to_string();
            }
            let (index, tail) = rest.split_once(']').unwrap_or((rest, ""));
            if let Some(row) = index.parse::<usize>().ok().and_then(|i| self.rows.get(i)) {
                return format!("{name}[{row}]{tail}");
            }
        }
        field.to_string()
    }

    /// The service's error with each field moved onto its input.
    pub fn errors(&self, lang: Lang, error: &ApiError) -> FormErrors {
        let mut errors = FormErrors::from_error(lang, error);
        let moved: BTreeMap<String, String> = std::mem::take(&mut errors.fields)
            .into_iter()
            .map(|(field, message)| (self.input(&field), message))
            .collect();
        errors.fields = moved;
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_repeated_and_indexed_fields() {
        let fields =
            Fields::parse(b"trade_modes=assignment&trade_modes=equity&title=+a+&patents%5B2%5D.title=x&negotiable=on");
        assert_eq!(fields.all("trade_modes"), ["assignment", "equity"]);
        assert_eq!(fields.text("title"), "a");
        assert_eq!(fields.text("missing"), "");
        assert_eq!(fields.rows("patents"), 3);
        assert!(fields.checked("negotiable") && !fields.checked("other"));
    }

    #[test]
    fn ipc_codes_split_on_lines_and_commas_not_spaces() {
        assert_eq!(ipc_codes("G06F 16/33, H01M\nC22B26/12；B01J、"), ["G06F 16/33", "H01M", "C22B26/12", "B01J"]);
        assert!(ipc_codes(" \n ").is_empty());
    }

    #[test]
    fn errors_land_on_their_inputs() {
        let map = FieldMap { renamed: &[("price_fen", "price_yuan")], rows: vec![0, 2], row_prefix: "patents" };
        assert_eq!(map.input("price_fen"), "price_yuan");
        assert_eq!(map.input("ipc[3]"), "ipc");
        assert_eq!(map.input("patents[1].filing_date"), "patents[2].filing_date");
        assert_eq!(map.input("patents"), "patents");
        assert_eq!(map.input("title"), "title");
    }

    #[test]
    fn amounts_that_do_not_parse_are_named() {
        let mut object = Map::new();
        let mut amounts = Amounts::default();
        amounts.put(&mut object, "price_fen", "price_yuan", "1,500.5");
        amounts.put(&mut object, "budget_max_fen", "budget_max_yuan", "");
        assert_eq!(object["price_fen"], 150_050);
        assert!(object["budget_max_fen"].is_null());
        assert!(amounts.error().is_none());
        amounts.put(&mut object, "budget_min_fen", "budget_min_yuan", "abc");
        let error = amounts.error().unwrap();
        assert_eq!(error.errors()[0].field, "budget_min_yuan");
    }
}
