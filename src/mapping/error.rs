//! Load-time errors of a mapping file, each naming the file, line, column and field.
//!
//! Every error that comes from the YAML text renders as
//! `mappings/lead.yaml:14:7: fields[2].transform[1]: unknown transform "titel" (expected one
//! of: trim, lower, …)`: the origin given to [`super::Mapping::parse`], the 1-based line and
//! column of the offending node, the path of that node inside the mapping (list indices are
//! 0-based), and what is wrong in words an admin can act on.

use std::fmt;
use std::path::PathBuf;

use serde_saphyr::{Location, MessageFormatter, Spanned, UserMessageFormatter};

/// Why a mapping could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// The mapping file or directory could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        /// File or directory that failed.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML, or does not have the mapping's shape (unknown key, missing
    /// key, wrong type). Detected by serde-saphyr.
    #[error("{at}: {message}")]
    Syntax {
        /// Where, and which node.
        at: Position,
        /// What is wrong.
        message: String,
    },
    /// The file has the right shape but says something impossible: unknown transform, bad
    /// region code, invalid regex, a reference to a field not defined earlier, duplicate `to`.
    #[error("{at}: {message}")]
    Invalid {
        /// Where, and which node.
        at: Position,
        /// What is wrong.
        message: String,
    },
    /// Two files in one directory declare the same mapping `name`.
    #[error("{}: duplicate mapping name \"{name}\" (also declared in {})", second.display(), first.display())]
    DuplicateName {
        /// The repeated name.
        name: String,
        /// The file loaded first.
        first: PathBuf,
        /// The file that repeats it.
        second: PathBuf,
    },
}

impl MappingError {
    /// Where in the mapping text the problem is, when it comes from the text.
    pub fn position(&self) -> Option<&Position> {
        match self {
            MappingError::Syntax { at, .. } | MappingError::Invalid { at, .. } => Some(at),
            MappingError::Io { .. } | MappingError::DuplicateName { .. } => None,
        }
    }
}

/// A node in a mapping file: origin (file name), 1-based line and column, and its field path
/// (`fields[2].transform[1]`; empty for the document itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// File name as given to [`super::Mapping::parse`] (or the path given to `load`).
    pub origin: String,
    /// 1-based line.
    pub line: u64,
    /// 1-based column.
    pub column: u64,
    /// Field path of the node, e.g. `fields[2].transform[1]`.
    pub path: String,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.origin, self.line, self.column)?;
        if self.path.is_empty() {
            Ok(())
        } else {
            write!(f, ": {}", self.path)
        }
    }
}

/// Builds [`MappingError::Invalid`] values for one file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin<'a>(pub &'a str);

impl Origin<'_> {
    /// A semantic error at a YAML location.
    pub fn invalid(
        self,
        at: Location,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> MappingError {
        MappingError::Invalid {
            at: Position {
                origin: self.0.to_owned(),
                line: at.line(),
                column: at.column(),
                path: path.into(),
            },
            message: message.into(),
        }
    }

    /// A semantic error at a spanned node.
    pub fn at<T>(
        self,
        node: &Spanned<T>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> MappingError {
        self.invalid(node.referenced, path, message)
    }

    /// A serde-saphyr error, with the raw serde path of the failing node.
    pub fn syntax(
        self,
        err: &serde_saphyr::Error,
        raw_path: Option<&serde_path_to_error::Path>,
    ) -> MappingError {
        let (line, column) = err
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        let message = UserMessageFormatter
            .format_message(err)
            .escape_debug()
            .to_string();
        MappingError::Syntax {
            at: Position {
                origin: self.0.to_owned(),
                line,
                column,
                path: raw_path.map(clean_path).unwrap_or_default(),
            },
            message,
        }
    }
}

/// Keys whose values are wrapped in `serde_saphyr::Spanned` in `spec.rs` (everywhere they
/// appear), and lists whose items are. `Spanned` shows up in serde paths as an extra `value`
/// segment, which [`clean_path`] removes.
const SPANNED_KEYS: &[&str] = &[
    "name",
    "source",
    "target",
    "to",
    "from",
    "value",
    "on_error",
    "map",
    "default",
    "when",
    "require",
    "reject_if",
    "reason",
    "field",
    "matches",
    "not",
    "default_region",
    "region_from",
];
const SPANNED_LISTS: &[&str] = &["fields", "gates", "transform", "all", "any"];

/// `fields[0].value.transform[1].value` → `fields[0].transform[1]`.
pub(crate) fn clean_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    let mut last_key: Option<&str> = None;
    let mut expect_artifact = false;
    for segment in path.iter() {
        match segment {
            Segment::Map { key } if expect_artifact && key == "value" => {
                expect_artifact = false;
            }
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
                expect_artifact = SPANNED_KEYS.contains(&key.as_str());
                last_key = Some(key);
            }
            Segment::Seq { index } => {
                out.push_str(&format!("[{index}]"));
                expect_artifact = last_key.is_some_and(|k| SPANNED_LISTS.contains(&k));
                last_key = None;
            }
            Segment::Enum { variant } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(variant);
                expect_artifact = false;
                last_key = None;
            }
            Segment::Unknown => {
                expect_artifact = false;
                last_key = None;
            }
        }
    }
    out
}
