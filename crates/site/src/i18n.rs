//! The web front's languages: Chinese first, English second, each a Project
//! Fluent catalogue compiled into the binary (`locales/*.ftl`), and the
//! choice of one for a request.
//!
//! Templates never hold a visible string of their own: they ask the
//! catalogue by key (`ctx.t("search-button")`). A test holds both
//! catalogues to the same keys and every key a template uses.

use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};

/// A language of the web front.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    pub const ALL: [Self; 2] = [Self::Zh, Self::En];

    /// The BCP 47 tag: `<html lang>`, `?lang=` and the cookie.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Zh => "zh-CN",
            Self::En => "en",
        }
    }

    /// A tag as a person or a browser writes it: `zh`, `zh-CN`, `zh-Hans`,
    /// `en`, `en-GB`, in any case.
    pub fn parse(tag: &str) -> Option<Self> {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
        match primary.as_str() {
            "zh" => Some(Self::Zh),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    /// The first language of an `Accept-Language` header we have, by
    /// quality (RFC 9110 §12.5.4); Chinese when none is.
    pub fn negotiate(accept_language: &str) -> Self {
        let mut ranges: Vec<(f32, usize, &str)> = accept_language
            .split(',')
            .enumerate()
            .filter_map(|(position, item)| {
                let mut parts = item.split(';');
                let range = parts.next()?.trim();
                let quality = parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
                (quality > 0.0).then_some((quality, position, range))
            })
            .collect();
        // Highest quality first; among equals, the order written.
        ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranges.into_iter().find_map(|(_, _, range)| Self::parse(range)).unwrap_or_default()
    }

    pub fn is_english(self) -> bool {
        self == Self::En
    }
}

const ZH: &str = include_str!("../locales/zh-CN.ftl");
const EN: &str = include_str!("../locales/en.ftl");

type Bundle = FluentBundle<FluentResource>;

struct Catalogue {
    zh: Bundle,
    en: Bundle,
}

fn bundle(lang: Lang, source: &str) -> Bundle {
    let id = lang.tag().parse().unwrap_or_default();
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    // Unicode isolation marks around arguments would end up in HTML
    // attributes and URLs; our arguments are plain numbers and names.
    bundle.set_use_isolating(false);
    match FluentResource::try_new(source.to_string()) {
        Ok(resource) => {
            if let Err(errors) = bundle.add_resource(resource) {
                tracing::error!(lang = lang.tag(), ?errors, "duplicate messages in the catalogue");
            }
        }
        // The catalogue test parses both files, so this is a build that
        // skipped its tests; serve the keys rather than nothing.
        Err((_, errors)) => tracing::error!(lang = lang.tag(), ?errors, "the catalogue does not parse"),
    }
    bundle
}

static CATALOGUE: LazyLock<Catalogue> =
    LazyLock::new(|| Catalogue { zh: bundle(Lang::Zh, ZH), en: bundle(Lang::En, EN) });

/// The text of `key` in `lang`, with `args` filled in (`{ $name }`). A key
/// the catalogue lacks comes back as itself, so that a gap shows on the
/// page instead of an empty space (and the catalogue test fails first).
pub fn text(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
    let mut fluent_args = FluentArgs::new();
    for (name, value) in args {
        fluent_args.set(*name, *value);
    }
    format(lang, key, (!args.is_empty()).then_some(&fluent_args))
}

/// The catalogue's text for `key` with one number, which its plural
/// variants select on (`{ $days -> [one] … *[other] … }`).
pub fn text_with_count(lang: Lang, key: &str, name: &str, count: i64) -> String {
    let mut fluent_args = FluentArgs::new();
    fluent_args.set(name, count);
    format(lang, key, Some(&fluent_args))
}

fn format(lang: Lang, key: &str, args: Option<&FluentArgs>) -> String {
    let bundle = match lang {
        Lang::Zh => &CATALOGUE.zh,
        Lang::En => &CATALOGUE.en,
    };
    let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
        tracing::warn!(lang = lang.tag(), key, "no such message");
        return key.to_string();
    };
    let mut errors = Vec::new();
    let value = bundle.format_pattern(pattern, args, &mut errors);
    if !errors.is_empty() {
        tracing::warn!(lang = lang.tag(), key, ?errors, "message formatted with errors");
    }
    value.into_owned()
}

/// Whether `lang`'s catalogue has `key` (the field messages fall back to
/// the service's English text when it does not).
pub fn has(lang: Lang, key: &str) -> bool {
    let bundle = match lang {
        Lang::Zh => &CATALOGUE.zh,
        Lang::En => &CATALOGUE.en,
    };
    bundle.has_message(key)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn keys(source: &str) -> BTreeSet<String> {
        let resource = FluentResource::try_new(source.to_string()).unwrap_or_else(|(_, e)| panic!("{e:?}"));
        resource
            .entries()
            .filter_map(|entry| match entry {
                fluent_syntax::ast::Entry::Message(message) => Some(message.id.name.to_string()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn both_catalogues_parse_and_hold_the_same_keys() {
        let (zh, en) = (keys(ZH), keys(EN));
        let only_zh: Vec<_> = zh.difference(&en).collect();
        let only_en: Vec<_> = en.difference(&zh).collect();
        assert!(only_zh.is_empty() && only_en.is_empty(), "only in zh-CN: {only_zh:?}; only in en: {only_en:?}");
    }

    /// Every `t("…")` and `t_with("…"` in a template names a message both
    /// catalogues have.
    #[test]
    fn no_key_is_defined_twice() {
        // A second definition is dropped with only a log line: the page
        // would show the first, whatever the newer text says.
        for source in [ZH, EN] {
            let resource = FluentResource::try_new(source.to_string()).unwrap();
            let mut bundle = FluentBundle::new_concurrent(vec![Lang::Zh.tag().parse().unwrap()]);
            assert!(bundle.add_resource(resource).is_ok(), "a key is defined twice");
        }
    }

    #[test]
    fn every_key_a_template_uses_is_in_the_catalogues() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let catalogue = keys(ZH);
        let mut missing = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for call in ["t(\"", "t_with(\""] {
                for (at, _) in text.match_indices(call) {
                    let rest = &text[at + call.len()..];
                    let key = &rest[..rest.find('"').unwrap()];
                    if !catalogue.contains(key) {
                        missing.push(format!("{}: {key}", path.display()));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "keys the catalogues lack: {missing:#?}");
    }

    #[test]
    fn fills_arguments_without_isolation_marks() {
        assert_eq!(text(Lang::En, "search-total", &[("total", "12")]), "12 results");
        assert_eq!(text(Lang::Zh, "search-total", &[("total", "12")]), "共 12 条结果");
        assert_eq!(text(Lang::En, "no-such-key", &[]), "no-such-key");
    }

    #[test]
    fn negotiates_accept_language() {
        assert_eq!(Lang::negotiate("en-US,en;q=0.9"), Lang::En);
        assert_eq!(Lang::negotiate("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh);
        assert_eq!(Lang::negotiate("fr;q=1, en;q=0.5, zh;q=0.7"), Lang::Zh);
        assert_eq!(Lang::negotiate("de, fr"), Lang::Zh, "nothing we have: Chinese");
        assert_eq!(Lang::negotiate("en;q=0, zh-TW"), Lang::Zh);
        assert_eq!(Lang::negotiate(""), Lang::Zh);
        assert_eq!(Lang::parse("EN-gb"), Some(Lang::En));
        assert_eq!(Lang::parse("zh_Hans"), Some(Lang::Zh));
    }
}
