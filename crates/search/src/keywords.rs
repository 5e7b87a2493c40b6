//! The telling words of a text, for searching with a whole listing or
//! demand as the query (matching): jieba words in order of first
//! appearance, without punctuation, single characters and the stock
//! phrases every patent title and demand uses (一种, 方法, 装置, 技术 …),
//! which would otherwise match nearly every document.

use tantivy::tokenizer::{TokenStream, Tokenizer};

/// Words too common in titles and descriptions of this market to tell
/// one technology from another.
const STOP_WORDS: &[&str] = &[
    "一种", "一个", "及其", "以及", "及", "和", "与", "或", "的", "了", "在", "对", "用于", "应用", "基于", "具有",
    "包括", "通过", "进行", "实现", "可以", "能够", "提供", "采用", "利用", "使用", "相关", "其中", "所述", "方法",
    "装置", "系统", "设备", "结构", "技术", "制备", "工艺", "方案", "产品", "需求", "寻求", "征集", "求购", "合作",
    "开发", "研发", "企业", "公司", "我们", "希望", "要求", "主要", "以上", "能力", "成熟", "领域", "项目", "问题",
];

/// Up to `limit` distinct telling words of `text`, first seen first (so a
/// title given before its description keeps its words in front).
pub fn keywords(text: &str, limit: usize) -> Vec<String> {
    let mut tokenizer = tantivy_jieba::JiebaTokenizer::with_search_mode(false);
    let mut stream = tokenizer.token_stream(text);
    let mut words: Vec<String> = Vec::new();
    while words.len() < limit && stream.advance() {
        let word = stream.token().text.trim().to_lowercase();
        let telling = word.chars().count() >= 2
            && word.chars().all(char::is_alphanumeric)
            && !word.chars().all(|c| c.is_ascii_digit())
            && !STOP_WORDS.contains(&word.as_str());
        if telling && !words.contains(&word) {
            words.push(word);
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_telling_words_in_order() {
        let words = keywords("废旧锂电池回收技术需求：寻求退役动力电池的回收方法，2025 年投产。", 10);
        assert_eq!(words[..3], ["废旧", "锂电池", "回收"], "{words:?}");
        assert!(words.contains(&"退役".to_string()), "{words:?}");
        for dropped in ["技术", "需求", "寻求", "方法", "的", "2025", "，"] {
            assert!(!words.contains(&dropped.to_string()), "{dropped} in {words:?}");
        }
        assert_eq!(words.iter().filter(|w| *w == "回收").count(), 1, "once each");
        assert_eq!(keywords("Lithium battery recycling", 2), ["lithium", "battery"]);
        assert!(keywords("", 5).is_empty());
    }
}
