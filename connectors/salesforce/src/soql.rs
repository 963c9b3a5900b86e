//! Building SOQL queries with every value quoted and every name checked, so nothing a mapping,
//! a config or a record holds can change a query's shape.
//!
//! * Names (objects, fields) must be plain API names: a letter, then letters, digits and `_`
//!   (custom names end in `__c`); anything else is a [`SoqlError`].
//! * String literals are single-quoted with `\` escapes for `'`, `"`, `\`, newline, carriage
//!   return, tab, backspace and form feed ([`quote`]).
//! * Datetime literals are unquoted `YYYY-MM-DDThh:mm:ssZ` (NOTES-next S11), whole seconds.
//!
//! ```
//! use handoff_salesforce::soql::{Cond, Literal, Select};
//! let q = Select::new(["Id", "Email"], "Lead").unwrap()
//!     .filter(Cond::eq("Email", Literal::Str("o'neil@example.com")).unwrap())
//!     .order_by("Id", false).unwrap()
//!     .limit(10);
//! assert_eq!(q.build(), r"SELECT Id, Email FROM Lead WHERE Email = 'o\'neil@example.com' ORDER BY Id ASC LIMIT 10");
//! ```

use std::fmt;

/// A name that is not a plain API name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a Salesforce API name (letters, digits and `_`, starting with a letter)")]
pub struct SoqlError(pub String);

/// `name` if it is a plain API name (`Email`, `Handoff_Idempotency_Key__c`).
pub fn ident(name: &str) -> Result<&str, SoqlError> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 255;
    if ok {
        Ok(name)
    } else {
        Err(SoqlError(name.chars().take(80).collect()))
    }
}

/// `value` as a SOQL string literal: `'…'` with `\` escapes.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A value in a condition.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Literal<'a> {
    /// A quoted string (ids, picklist values, emails).
    Str(&'a str),
    /// `true` / `false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A datetime, UTC epoch ms, written as `YYYY-MM-DDThh:mm:ssZ` (rounded down to the second).
    DateTime(i64),
    /// `null`.
    Null,
}

impl fmt::Display for Literal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Str(s) => f.write_str(&quote(s)),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Int(n) => write!(f, "{n}"),
            Literal::DateTime(ms) => f.write_str(&crate::time::soql_datetime(*ms)),
            Literal::Null => f.write_str("null"),
        }
    }
}

/// A `WHERE` condition, built from checked names and quoted values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cond(String);

impl Cond {
    fn cmp(field: &str, op: &str, value: Literal<'_>) -> Result<Self, SoqlError> {
        Ok(Self(format!("{} {op} {value}", ident(field)?)))
    }
    /// `field = value`.
    pub fn eq(field: &str, value: Literal<'_>) -> Result<Self, SoqlError> {
        Self::cmp(field, "=", value)
    }
    /// `field != value`.
    pub fn ne(field: &str, value: Literal<'_>) -> Result<Self, SoqlError> {
        Self::cmp(field, "!=", value)
    }
    /// `field > value`.
    pub fn gt(field: &str, value: Literal<'_>) -> Result<Self, SoqlError> {
        Self::cmp(field, ">", value)
    }
    /// `field >= value`.
    pub fn ge(field: &str, value: Literal<'_>) -> Result<Self, SoqlError> {
        Self::cmp(field, ">=", value)
    }
    /// `field < value`.
    pub fn lt(field: &str, value: Literal<'_>) -> Result<Self, SoqlError> {
        Self::cmp(field, "<", value)
    }
    /// `field IN ('a', 'b')`; `values` must not be empty (SOQL has no empty list).
    pub fn is_in<S: AsRef<str>>(field: &str, values: &[S]) -> Result<Self, SoqlError> {
        if values.is_empty() {
            return Err(SoqlError(format!("{field} IN ()")));
        }
        let list: Vec<String> = values.iter().map(|v| quote(v.as_ref())).collect();
        Ok(Self(format!("{} IN ({})", ident(field)?, list.join(", "))))
    }
    /// `(self AND other)`.
    pub fn and(self, other: Cond) -> Cond {
        Cond(format!("({} AND {})", self.0, other.0))
    }
    /// `(self OR other)`.
    pub fn or(self, other: Cond) -> Cond {
        Cond(format!("({} OR {})", self.0, other.0))
    }
    /// The condition's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A `SELECT` query: fields (or `COUNT()`), object, conditions (ANDed), order, limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Select {
    fields: Vec<String>,
    from: String,
    filters: Vec<Cond>,
    order: Vec<String>,
    limit: Option<u64>,
}

impl Select {
    /// `SELECT fields FROM from`; duplicate fields are sent once, in first-seen order.
    pub fn new<I, S>(fields: I, from: &str) -> Result<Self, SoqlError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut list: Vec<String> = Vec::new();
        for f in fields {
            let f = ident(f.as_ref())?;
            if !list.iter().any(|x| x.eq_ignore_ascii_case(f)) {
                list.push(f.to_string());
            }
        }
        if list.is_empty() {
            list.push("Id".into());
        }
        Ok(Self {
            fields: list,
            from: ident(from)?.to_string(),
            filters: Vec::new(),
            order: Vec::new(),
            limit: None,
        })
    }

    /// `SELECT COUNT() FROM from`: the answer's `totalSize` is the count.
    pub fn count(from: &str) -> Result<Self, SoqlError> {
        Ok(Self {
            fields: vec!["COUNT()".into()],
            from: ident(from)?.to_string(),
            filters: Vec::new(),
            order: Vec::new(),
            limit: None,
        })
    }

    /// Adds a condition (all conditions are ANDed).
    pub fn filter(mut self, cond: Cond) -> Self {
        self.filters.push(cond);
        self
    }

    /// Adds a sort key (`ASC`, or `DESC` when `descending`).
    pub fn order_by(mut self, field: &str, descending: bool) -> Result<Self, SoqlError> {
        let dir = if descending { "DESC" } else { "ASC" };
        self.order.push(format!("{} {dir}", ident(field)?));
        Ok(self)
    }

    /// `LIMIT n`.
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// The query text.
    pub fn build(&self) -> String {
        let mut q = format!("SELECT {} FROM {}", self.fields.join(", "), self.from);
        if !self.filters.is_empty() {
            let parts: Vec<&str> = self.filters.iter().map(Cond::as_str).collect();
            q.push_str(" WHERE ");
            q.push_str(&parts.join(" AND "));
        }
        if !self.order.is_empty() {
            q.push_str(" ORDER BY ");
            q.push_str(&self.order.join(", "));
        }
        if let Some(n) = self.limit {
            q.push_str(&format!(" LIMIT {n}"));
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_escaped_and_names_checked() {
        assert_eq!(quote(r"a'b\c"), r"'a\'b\\c'");
        assert_eq!(quote("x\ny\t\"z\""), r#"'x\ny\t\"z\"'"#);
        assert!(ident("Handoff_Idempotency_Key__c").is_ok());
        for bad in ["", "1Id", "Id, Name", "Id--", "Owner.Email", "x y", "Id)"] {
            assert!(ident(bad).is_err(), "{bad}");
        }
        assert!(Select::new(["Id", "Name FROM User"], "Lead").is_err());
        assert!(Cond::is_in::<&str>("Status", &[]).is_err());
    }

    #[test]
    fn queries_build_with_conditions_order_and_limit() {
        let q = Select::new(["Id", "SystemModstamp", "Id"], "Lead")
            .unwrap()
            .filter(
                Cond::gt("SystemModstamp", Literal::DateTime(1_369_082_972_500))
                    .unwrap()
                    .or(
                        Cond::eq("SystemModstamp", Literal::DateTime(1_369_082_972_000))
                            .unwrap()
                            .and(Cond::gt("Id", Literal::Str("00Q1")).unwrap()),
                    ),
            )
            .filter(Cond::eq("IsConverted", Literal::Bool(false)).unwrap())
            .order_by("SystemModstamp", false)
            .unwrap()
            .order_by("Id", false)
            .unwrap();
        assert_eq!(
            q.build(),
            "SELECT Id, SystemModstamp FROM Lead WHERE (SystemModstamp > 2013-05-20T20:49:32Z OR \
             (SystemModstamp = 2013-05-20T20:49:32Z AND Id > '00Q1')) AND IsConverted = false \
             ORDER BY SystemModstamp ASC, Id ASC"
        );
        let c = Select::count("Lead")
            .unwrap()
            .filter(Cond::is_in("Status", &["Open", "It's"]).unwrap());
        assert_eq!(
            c.build(),
            r"SELECT COUNT() FROM Lead WHERE Status IN ('Open', 'It\'s')"
        );
    }
}
