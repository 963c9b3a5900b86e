//! A SOQL parser for exactly the subset handoff sends (NOTES §2.3, S11):
//!
//! ```text
//! SELECT field, … | COUNT()  FROM object
//! [WHERE cond]  [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST], …]  [LIMIT n]
//! cond := term { AND term } | term { OR term }      (mixing AND and OR needs parentheses)
//! term := NOT term | ( cond ) | field op value | field [NOT] IN ( value, … ) | field LIKE 'pattern'
//! op   := = | != | < | <= | > | >=
//! value := 'string' (with \' \" \\ \n \r \t \b \f escapes) | number | true | false | null
//!        | YYYY-MM-DD | YYYY-MM-DDThh:mm:ss[.sss](Z|±hh:mm)      (dates unquoted, S11)
//! ```
//!
//! Keywords are case-insensitive. Anything else (relationship paths, functions other than
//! `COUNT()`, `INCLUDES`, date literals such as `TODAY`) is refused with the message a
//! `MALFORMED_QUERY` answer carries.

use super::lex::{lex, Tok};

/// A parsed query.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    /// `None` for `COUNT()`.
    pub fields: Option<Vec<String>>,
    /// The object, as written.
    pub from: String,
    /// The `WHERE` condition.
    pub filter: Option<Expr>,
    /// `(field, descending, nulls_first)`.
    pub order: Vec<(String, bool, bool)>,
    /// `LIMIT n`.
    pub limit: Option<usize>,
}

/// A condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// Every term holds.
    And(Vec<Expr>),
    /// Some term holds.
    Or(Vec<Expr>),
    /// `NOT term`.
    Not(Box<Expr>),
    /// `field op value`.
    Cmp(String, Op, Lit),
    /// `field [NOT] IN (values)`; the flag is `NOT`.
    In(String, Vec<Lit>, bool),
    /// `field LIKE pattern` (`%`, `_`).
    Like(String, String),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A literal.
#[derive(Clone, Debug, PartialEq)]
pub enum Lit {
    /// A quoted string, escapes resolved.
    Str(String),
    /// A number.
    Num(f64),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// `YYYY-MM-DD`.
    Date(String),
    /// UTC epoch ms.
    DateTime(i64),
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn keyword(&mut self, kw: &str) -> bool {
        match self.peek() {
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    fn expect_keyword(&mut self, kw: &str) -> Result<(), String> {
        if self.keyword(kw) {
            Ok(())
        } else {
            Err(format!("expected {kw} at {}", self.here()))
        }
    }

    fn expect(&mut self, tok: Tok) -> Result<(), String> {
        match self.next() {
            Some(t) if t == tok => Ok(()),
            _ => Err(format!("expected {tok:?}")),
        }
    }

    fn here(&self) -> String {
        match self.peek() {
            None => "the end".into(),
            Some(t) => format!("{t:?}"),
        }
    }

    fn field(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Tok::Word(w)) if !is_reserved(&w) => {
                if w.contains('.') {
                    Err(format!("relationship paths are not supported: {w}"))
                } else {
                    Ok(w)
                }
            }
            other => Err(format!("expected a field name, found {other:?}")),
        }
    }

    fn literal(&mut self) -> Result<Lit, String> {
        Ok(match self.next() {
            Some(Tok::Str(s)) => Lit::Str(s),
            Some(Tok::Num(n)) => Lit::Num(n),
            Some(Tok::Date(d)) => Lit::Date(d),
            Some(Tok::DateTime(ms)) => Lit::DateTime(ms),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => Lit::Bool(true),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => Lit::Bool(false),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("null") => Lit::Null,
            other => return Err(format!("expected a value, found {other:?}")),
        })
    }

    fn cond(&mut self) -> Result<Expr, String> {
        let first = self.term()?;
        let mut terms = vec![first];
        let mut joiner: Option<&'static str> = None;
        loop {
            let kw = if self.keyword("AND") {
                "AND"
            } else if self.keyword("OR") {
                "OR"
            } else {
                break;
            };
            if joiner.is_some_and(|j| j != kw) {
                return Err("mixing AND and OR needs parentheses".into());
            }
            joiner = Some(kw);
            terms.push(self.term()?);
        }
        Ok(match (joiner, terms.len()) {
            (_, 1) => terms.remove(0),
            (Some("OR"), _) => Expr::Or(terms),
            _ => Expr::And(terms),
        })
    }

    fn term(&mut self) -> Result<Expr, String> {
        if self.keyword("NOT") {
            return Ok(Expr::Not(Box::new(self.term()?)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let inner = self.cond()?;
            self.expect(Tok::RParen)?;
            return Ok(inner);
        }
        let field = self.field()?;
        if let Some(Tok::Op(op)) = self.peek().cloned() {
            self.pos += 1;
            return Ok(Expr::Cmp(field, op, self.literal()?));
        }
        let negated = self.keyword("NOT");
        if self.keyword("IN") {
            self.expect(Tok::LParen)?;
            let mut values = vec![self.literal()?];
            while self.peek() == Some(&Tok::Comma) {
                self.pos += 1;
                values.push(self.literal()?);
            }
            self.expect(Tok::RParen)?;
            return Ok(Expr::In(field, values, negated));
        }
        if !negated && self.keyword("LIKE") {
            return match self.next() {
                Some(Tok::Str(p)) => Ok(Expr::Like(field, p)),
                _ => Err("LIKE needs a string".into()),
            };
        }
        Err(format!(
            "expected an operator after {field}, found {}",
            self.here()
        ))
    }
}

const RESERVED: [&str; 15] = [
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "LIMIT", "ASC",
    "DESC", "NULLS", "NULL",
];

fn is_reserved(w: &str) -> bool {
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(w))
}

/// Parses `text`; the error is the `MALFORMED_QUERY` message.
pub fn parse(text: &str) -> Result<Query, String> {
    let mut p = Parser {
        toks: lex(text)?,
        pos: 0,
    };
    p.expect_keyword("SELECT")?;
    let fields = if matches!(p.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case("COUNT"))
        && p.toks.get(p.pos + 1) == Some(&Tok::LParen)
    {
        p.pos += 2;
        p.expect(Tok::RParen)?;
        None
    } else {
        let mut list = vec![p.field()?];
        while p.peek() == Some(&Tok::Comma) {
            p.pos += 1;
            list.push(p.field()?);
        }
        Some(list)
    };
    p.expect_keyword("FROM")?;
    let from = p.field()?;
    let filter = if p.keyword("WHERE") {
        Some(p.cond()?)
    } else {
        None
    };
    let mut order = Vec::new();
    if p.keyword("ORDER") {
        p.expect_keyword("BY")?;
        loop {
            let field = p.field()?;
            let desc = if p.keyword("DESC") {
                true
            } else {
                p.keyword("ASC");
                false
            };
            // SOQL's default: nulls first ascending, last descending.
            let mut nulls_first = !desc;
            if p.keyword("NULLS") {
                nulls_first = if p.keyword("FIRST") {
                    true
                } else {
                    p.expect_keyword("LAST")?;
                    false
                };
            }
            order.push((field, desc, nulls_first));
            if p.peek() == Some(&Tok::Comma) {
                p.pos += 1;
            } else {
                break;
            }
        }
    }
    let limit = if p.keyword("LIMIT") {
        match p.next() {
            Some(Tok::Num(n)) if n >= 0.0 && n.fract() == 0.0 => Some(n as usize),
            _ => return Err("LIMIT needs a whole number".into()),
        }
    } else {
        None
    };
    if p.pos < p.toks.len() {
        return Err(format!("unexpected {} after the query", p.here()));
    }
    Ok(Query {
        fields,
        from,
        filter,
        order,
        limit,
    })
}

impl Query {
    /// Every field the query names (select list, conditions, order).
    pub fn referenced_fields(&self) -> Vec<&str> {
        fn walk<'a>(e: &'a Expr, out: &mut Vec<&'a str>) {
            match e {
                Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| walk(e, out)),
                Expr::Not(e) => walk(e, out),
                Expr::Cmp(f, _, _) | Expr::In(f, _, _) | Expr::Like(f, _) => out.push(f),
            }
        }
        let mut out: Vec<&str> = self.fields.iter().flatten().map(String::as_str).collect();
        if let Some(f) = &self.filter {
            walk(f, &mut out);
        }
        out.extend(self.order.iter().map(|(f, _, _)| f.as_str()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queries_handoff_sends_parse() {
        let q = parse(
            "SELECT Id, SystemModstamp FROM Lead WHERE (SystemModstamp > 2013-05-20T20:49:32Z OR \
             (SystemModstamp = 2013-05-20T20:49:32Z AND Id > '00Q1')) AND IsConverted = false \
             ORDER BY SystemModstamp ASC, Id ASC LIMIT 10",
        )
        .unwrap();
        assert_eq!(q.from, "Lead");
        assert_eq!(q.limit, Some(10));
        assert_eq!(q.order.len(), 2);
        let Some(Expr::And(terms)) = &q.filter else {
            panic!("{q:?}")
        };
        assert!(matches!(&terms[0], Expr::Or(_)));
        assert_eq!(
            terms[1],
            Expr::Cmp("IsConverted".into(), Op::Eq, Lit::Bool(false))
        );

        let c = parse(
            r"select count() from Lead where Status not in ('It\'s', 'B') and Email like 'a%'",
        )
        .unwrap();
        assert_eq!(c.fields, None);
        let Some(Expr::And(t)) = c.filter else {
            panic!()
        };
        assert_eq!(
            t[0],
            Expr::In(
                "Status".into(),
                vec![Lit::Str("It's".into()), Lit::Str("B".into())],
                true
            )
        );
        assert!(parse(
            "SELECT Id FROM Opportunity WHERE CloseDate >= 2024-01-31 AND Amount > -5.5"
        )
        .is_ok());
        assert!(parse("SELECT Id FROM Lead WHERE CreatedDate > 2005-10-08T01:02:03+01:00").is_ok());
    }

    #[test]
    fn anything_else_is_malformed() {
        for bad in [
            "",
            "SELECT FROM Lead",
            "SELECT Id Lead",
            "SELECT Id FROM Lead WHERE",
            "SELECT Id FROM Lead WHERE A = 1 AND B = 2 OR C = 3",
            "SELECT Id FROM Lead WHERE Name = 'unterminated",
            "SELECT Owner.Email FROM Lead",
            "SELECT Id FROM Lead WHERE CreatedDate > 2005-10-08T01:02:03",
            "SELECT Id FROM Lead WHERE CreatedDate > TODAY",
            "SELECT Id FROM Lead LIMIT x",
            "SELECT Id FROM Lead; DELETE",
            "SELECT Id, FROM Lead",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
