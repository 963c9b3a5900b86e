//! The SOQL lexer: words, quoted strings with `\` escapes, numbers, unquoted date and
//! dateTime literals (a dateTime needs `Z` or `±hh:mm`, S11), operators and punctuation.

use super::soql::Op;
use crate::time::parse_ms;

/// A token.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// A name or keyword.
    Word(String),
    /// A quoted string, escapes resolved.
    Str(String),
    /// A number.
    Num(f64),
    /// `YYYY-MM-DD`.
    Date(String),
    /// A dateTime, UTC epoch ms.
    DateTime(i64),
    /// A comparison operator.
    Op(Op),
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `,`
    Comma,
}

/// Splits `text` into tokens; the error is the `MALFORMED_QUERY` message.
pub fn lex(text: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            '=' => {
                out.push(Tok::Op(Op::Eq));
                i += 1
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                out.push(Tok::Op(Op::Ne));
                i += 2
            }
            '<' | '>' => {
                let eq = chars.get(i + 1) == Some(&'=');
                out.push(Tok::Op(match (c, eq) {
                    ('<', true) => Op::Le,
                    ('<', false) => Op::Lt,
                    (_, true) => Op::Ge,
                    _ => Op::Gt,
                }));
                i += if eq { 2 } else { 1 };
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated string literal".into()),
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            let e = chars.get(i + 1).ok_or("unterminated escape")?;
                            s.push(match e {
                                'n' => '\n',
                                'r' => '\r',
                                't' => '\t',
                                'b' => '\u{8}',
                                'f' => '\u{c}',
                                '\'' | '"' | '\\' | '%' | '_' => *e,
                                other => return Err(format!("invalid escape \\{other}")),
                            });
                            i += 2;
                        }
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(s));
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric()
                        || matches!(chars[i], '.' | ':' | '-' | '+'))
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                out.push(number_or_date(&word)?);
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | '.'))
                {
                    i += 1;
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected character '{other}'")),
        }
    }
    Ok(out)
}

fn number_or_date(word: &str) -> Result<Tok, String> {
    let b = word.as_bytes();
    let is_date = b.len() >= 10
        && b[4] == b'-'
        && b[7] == b'-'
        && word[..4].chars().all(|c| c.is_ascii_digit());
    if !is_date {
        return word
            .parse::<f64>()
            .map(Tok::Num)
            .map_err(|_| format!("bad number {word}"));
    }
    if b.len() == 10 {
        return jiff::civil::Date::strptime("%Y-%m-%d", word)
            .map(|_| Tok::Date(word.to_string()))
            .map_err(|_| format!("bad date {word}"));
    }
    // A dateTime needs an explicit zone: `Z` or `±hh:mm` (S11).
    let zoned = word.ends_with('Z') || word[10..].contains(['+', '-']);
    match (zoned, parse_ms(word)) {
        (true, Some(ms)) => Ok(Tok::DateTime(ms)),
        _ => Err(format!("bad dateTime {word}")),
    }
}
