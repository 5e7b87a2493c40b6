//! Amounts in emails: integer fen shown as yuan, `¥12,345.67`, never
//! through a float.

/// `fen` as yuan with a currency sign, thousands separators and two
/// decimals; a negative amount (a refund shown as a debit) keeps its sign.
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let magnitude = fen.unsigned_abs();
    let whole = (magnitude / 100).to_string();
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{sign}¥{grouped}.{:02}", magnitude % 100)
}

#[cfg(test)]
mod tests {
    use super::yuan;

    #[test]
    fn fen_become_yuan_with_separators() {
        assert_eq!(yuan(1_234_567), "¥12,345.67");
        assert_eq!(yuan(0), "¥0.00");
        assert_eq!(yuan(5), "¥0.05");
        assert_eq!(yuan(100), "¥1.00");
        assert_eq!(yuan(99_999), "¥999.99");
        assert_eq!(yuan(100_000), "¥1,000.00");
        assert_eq!(yuan(10_000_000_000), "¥100,000,000.00");
        assert_eq!(yuan(-250), "-¥2.50");
        assert_eq!(yuan(i64::MIN), "-¥92,233,720,368,547,758.08");
        assert_eq!(yuan(i64::MAX), "¥92,233,720,368,547,758.07");
    }
}
