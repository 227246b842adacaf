//! The tantivy analyzers: [`crate::text`] as the `veilleur` tokenizer of the
//! text fields, and [`text::keyword`] as the one-token normalizer of keyword
//! fields (`source`).
//!
//! Owns the registration of both in an index's tokenizer manager. It does not
//! decide how text is split or folded: `crate::text` does, for the matcher
//! and the query parser too, which is what makes them agree with the index.

use tantivy::Index;
use tantivy::tokenizer::{TextAnalyzer, Token, TokenStream, Tokenizer};

use crate::text;

/// Name of the [`crate::text`] analyzer in tantivy's tokenizer manager.
pub const TOKENIZER: &str = "veilleur";
/// Name of the keyword normalizer (`text::keyword`) in tantivy.
pub(super) const KEYWORD_TOKENIZER: &str = "veilleur_keyword";

/// Registers both analyzers in `index` (needed after every open: tantivy does
/// not persist custom tokenizers).
pub(super) fn register(index: &Index) {
    index
        .tokenizers()
        .register(TOKENIZER, TextAnalyzer::from(Analyzer));
    index
        .tokenizers()
        .register(KEYWORD_TOKENIZER, TextAnalyzer::from(Keyword));
}

/// [`crate::text`] as a tantivy tokenizer.
#[derive(Debug, Clone, Copy, Default)]
struct Analyzer;

/// Tokens of one text, produced up front.
struct Tokens {
    tokens: std::vec::IntoIter<Token>,
    current: Token,
}

impl TokenStream for Tokens {
    fn advance(&mut self) -> bool {
        match self.tokens.next() {
            Some(t) => {
                self.current = t;
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

impl Tokenizer for Analyzer {
    type TokenStream<'a> = Tokens;

    fn token_stream<'a>(&'a mut self, s: &'a str) -> Tokens {
        let mut tokens = Vec::new();
        text::for_each_token(s, |t, position, from, to| {
            tokens.push(Token {
                offset_from: from,
                offset_to: to,
                position: position as usize,
                text: t.to_string(),
                position_length: 1,
            })
        });
        Tokens {
            tokens: tokens.into_iter(),
            current: Token::default(),
        }
    }
}

/// [`text::keyword`] as a tantivy tokenizer: one token, none when empty.
#[derive(Debug, Clone, Copy, Default)]
struct Keyword;

impl Tokenizer for Keyword {
    type TokenStream<'a> = Tokens;

    fn token_stream<'a>(&'a mut self, s: &'a str) -> Tokens {
        let k = text::keyword(s);
        let tokens = if k.is_empty() {
            Vec::new()
        } else {
            vec![Token {
                offset_from: 0,
                offset_to: s.len(),
                position: 0,
                text: k,
                position_length: 1,
            }]
        };
        Tokens {
            tokens: tokens.into_iter(),
            current: Token::default(),
        }
    }
}
