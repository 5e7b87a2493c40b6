//! Numbers, amounts, dates and codes as people read them.

use chrono::{DateTime, Utc};

use crate::i18n::Lang;

/// `1234567` → `1,234,567`.
pub fn thousands(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Yuan exact to the fen: `1,234,567.89`, with a sign when negative.
fn yuan_digits(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let fen = fen.unsigned_abs();
    format!("{sign}{}.{:02}", thousands(u128::from(fen / 100)), fen % 100)
}

/// The amount exact to the fen: `1,234,567.89 元` / `CNY 1,234,567.89`.
pub fn yuan_exact(fen: i64, lang: Lang) -> String {
    match lang {
        Lang::Zh => format!("{} 元", yuan_digits(fen)),
        Lang::En => format!("CNY {}", yuan_digits(fen)),
    }
}

/// An amount at a glance: from 1万元 up in 万元 to two places
/// (`123.46万元`), below it in 元; in English the exact figure.
pub fn yuan(fen: i64, lang: Lang) -> String {
    const WAN_FEN: u64 = 1_000_000;
    let magnitude = fen.unsigned_abs();
    match lang {
        Lang::Zh if magnitude >= WAN_FEN => {
            let sign = if fen < 0 { "-" } else { "" };
            // Hundredths of a 万元, rounded half up, in integers.
            let hundredths = (magnitude + WAN_FEN / 200) / (WAN_FEN / 100);
            let (whole, part) = (hundredths / 100, hundredths % 100);
            let number = if part == 0 {
                thousands(u128::from(whole))
            } else if part % 10 == 0 {
                format!("{}.{}", thousands(u128::from(whole)), part / 10)
            } else {
                format!("{}.{part:02}", thousands(u128::from(whole)))
            };
            format!("{sign}{number}万元")
        }
        Lang::Zh => {
            let digits = yuan_digits(fen);
            format!("{}元", digits.strip_suffix(".00").unwrap_or(&digits))
        }
        Lang::En => yuan_exact(fen, lang),
    }
}

/// An amount typed in yuan (`1500000`, `1,500,000.5`, `12.34元`) as fen,
/// exactly: no floating point, at most two decimals, not negative.
pub fn parse_yuan(text: &str) -> Option<i64> {
    let cleaned: String = text.trim().trim_end_matches('元').chars().filter(|c| *c != ',' && *c != '，').collect();
    let (whole, fraction) = cleaned.split_once('.').unwrap_or((&cleaned, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 2 {
        return None;
    }
    let yuan: i64 = whole.parse().ok()?;
    let cents: i64 = format!("{fraction:0<2}").parse().ok()?;
    yuan.checked_mul(100)?.checked_add(cents)
}

/// Fen as a form shows them back in yuan, exactly: `150000050` → `1500000.50`.
pub fn fen_as_yuan_input(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let fen = fen.unsigned_abs();
    match fen % 100 {
        0 => format!("{sign}{}", fen / 100),
        cents => format!("{sign}{}.{cents:02}", fen / 100),
    }
}

/// The calendar date of an instant in Beijing time (the market's zone).
pub fn beijing_date(at: &DateTime<Utc>) -> String {
    at.with_timezone(&techtrade_db::market_offset()).format("%Y-%m-%d").to_string()
}

/// An IPC code with the Chinese title of its subclass (or class or
/// section, for a shorter prefix), cut to `max_chars` characters of title:
/// `H01M 用于直接转变化学能为电能的方法或装置…`.
pub fn ipc_title(code: &str, max_chars: usize) -> String {
    let scheme = techtrade_domain::ipc::IpcScheme::get();
    let key = if code.len() > 4 { &code[..4] } else { code };
    match scheme.title(key) {
        Some(title) if title.chars().count() > max_chars => {
            format!("{code} {}…", title.chars().take(max_chars).collect::<String>())
        }
        Some(title) => format!("{code} {title}"),
        None => code.to_string(),
    }
}

/// `path` with the query parameter `name` set to `value` (or removed),
/// the others kept in order; `page` goes back to the first page when a
/// filter changes.
pub fn with_param(path: &str, name: &str, value: Option<&str>) -> String {
    let (base, query) = path.split_once('?').unwrap_or((path, ""));
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .filter(|(key, v)| key != name && !v.is_empty())
        .filter(|(key, _)| name == "page" || name == "lang" || key != "page")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if let Some(value) = value {
        pairs.push((name.to_string(), value.to_string()));
    }
    if pairs.is_empty() {
        return base.to_string();
    }
    let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    format!("{base}?{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_in_wan_yuan_and_exact_to_the_fen() {
        assert_eq!(yuan(123_456_789, Lang::Zh), "123.46万元");
        assert_eq!(yuan(100_000_000, Lang::Zh), "100万元");
        assert_eq!(yuan(150_000_000, Lang::Zh), "150万元");
        assert_eq!(yuan(1_050_000, Lang::Zh), "1.05万元");
        assert_eq!(yuan(1_100_000, Lang::Zh), "1.1万元");
        assert_eq!(yuan(999_999, Lang::Zh), "9,999.99元");
        assert_eq!(yuan(500_000, Lang::Zh), "5,000元");
        assert_eq!(yuan(-2_000_000, Lang::Zh), "-2万元");
        assert_eq!(yuan(i64::MIN, Lang::Zh), "-9,223,372,036,854.78万元");
        assert_eq!(yuan_exact(123_456_789, Lang::Zh), "1,234,567.89 元");
        assert_eq!(yuan_exact(5, Lang::En), "CNY 0.05");
        assert_eq!(yuan_exact(-5, Lang::En), "CNY -0.05");
        assert_eq!(yuan(1, Lang::En), "CNY 0.01");
    }

    #[test]
    fn typed_yuan_become_exact_fen() {
        assert_eq!(parse_yuan("1500000"), Some(150_000_000));
        assert_eq!(parse_yuan(" 1,500,000.5 "), Some(150_000_050));
        assert_eq!(parse_yuan("12.34元"), Some(1_234));
        assert_eq!(parse_yuan("0.01"), Some(1));
        assert_eq!(parse_yuan("92233720368547758.07"), Some(i64::MAX), "the largest amount, exactly");
        for bad in ["", "-1", "1.234", "abc", "1e5", ".5", "1.2.3", "92233720368547758.08"] {
            assert_eq!(parse_yuan(bad), None, "{bad}");
        }
        assert_eq!(fen_as_yuan_input(150_000_050), "1500000.50");
        assert_eq!(fen_as_yuan_input(150_000_000), "1500000");
        for fen in [1, 99, 100, 123_456_789] {
            assert_eq!(parse_yuan(&fen_as_yuan_input(fen)), Some(fen));
        }
    }

    #[test]
    fn dates_are_beijing_dates() {
        let late = DateTime::parse_from_rfc3339("2026-12-31T17:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(beijing_date(&late), "2027-01-01");
    }

    #[test]
    fn query_parameters_change_one_at_a_time() {
        assert_eq!(with_param("/search?q=a&page=3", "ipc", Some("H01M")), "/search?q=a&ipc=H01M");
        assert_eq!(with_param("/search?q=a&ipc=H01M", "ipc", None), "/search?q=a");
        assert_eq!(with_param("/search?q=a&page=2", "page", Some("3")), "/search?q=a&page=3");
        assert_eq!(with_param("/search?q=a&page=2&lang=en", "lang", Some("zh-CN")), "/search?q=a&page=2&lang=zh-CN");
        assert_eq!(with_param("/", "lang", Some("en")), "/?lang=en");
        assert_eq!(with_param("/search?q=", "q", None), "/search");
        assert_eq!(with_param("/search?q=%E9%94%82", "type", Some("listing")), "/search?q=%E9%94%82&type=listing");
    }

    #[test]
    fn ipc_codes_carry_their_titles() {
        assert!(ipc_title("H01M", 100).starts_with("H01M "));
        assert!(ipc_title("H01M10/052", 100).starts_with("H01M10/052 "));
        assert_eq!(ipc_title("H01M", 4).chars().count(), "H01M ".len() + 4 + 1, "four characters and an ellipsis");
        assert!(ipc_title("H01M", 4).ends_with('…'));
        assert_eq!(ipc_title("Z99Z", 10), "Z99Z");
    }
}
