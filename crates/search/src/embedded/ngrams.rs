//! The title's n-grams as queries look them up. The index holds every 1-
//! and 2-gram of a title, all at position 0 (tantivy's `NgramTokenizer`),
//! so that a word is found inside a longer one (电机 in 发电机). A query
//! needs only the word's bigrams: a title holding every bigram of a word
//! holds its characters too, so the same titles are found, without going
//! through the postings of single characters that most titles share.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// The character bigrams of `word`, or the word itself when it is one
/// character (the n-gram field holds both).
pub(super) fn bigrams(word: &str) -> Vec<String> {
    let chars: Vec<char> = word.chars().filter(|c| !c.is_whitespace()).collect();
    match chars.len() {
        0 => Vec::new(),
        1 => vec![chars[0].to_string()],
        _ => chars.windows(2).map(|pair| pair.iter().collect()).collect(),
    }
}

/// The query-time tokenizer of the n-gram field: a word's [`bigrams`], at
/// position 0 like the indexed n-grams.
#[derive(Debug, Clone, Default)]
pub(super) struct WordBigrams;

pub(super) struct WordBigramStream {
    tokens: std::vec::IntoIter<Token>,
    current: Token,
}

impl Tokenizer for WordBigrams {
    type TokenStream<'a> = WordBigramStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordBigramStream {
        let tokens: Vec<Token> =
            bigrams(text).into_iter().map(|text| Token { position: 0, text, ..Token::default() }).collect();
        WordBigramStream { tokens: tokens.into_iter(), current: Token::default() }
    }
}

impl TokenStream for WordBigramStream {
    fn advance(&mut self) -> bool {
        match self.tokens.next() {
            Some(token) => {
                self.current = token;
                true
            }
            None => false,
        }
    }

    fn token(&self) -> &Token {
        &self.current
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bigrams_cover_a_word_and_keep_one_character_words() {
        assert_eq!(bigrams("锂电池"), vec!["锂电", "电池"]);
        assert_eq!(bigrams("电池"), vec!["电池"]);
        assert_eq!(bigrams("锂"), vec!["锂"]);
        assert!(bigrams("").is_empty());
    }

    #[test]
    fn the_tokenizer_gives_the_bigrams_at_position_zero() {
        let mut tokenizer = WordBigrams;
        let mut stream = tokenizer.token_stream("锂电池");
        let mut seen = Vec::new();
        while stream.advance() {
            seen.push((stream.token().text.clone(), stream.token().position));
        }
        assert_eq!(seen, [("锂电".to_string(), 0), ("电池".to_string(), 0)]);
        assert!(!tokenizer.token_stream("").advance());
    }
}
