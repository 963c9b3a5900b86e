//! Field mappings: admin-edited YAML files (`mappings/*.yaml`) that say how a vendor record
//! becomes a handoff record, and which gates it must pass.
//!
//! RevOps admins map a new field by editing YAML, with no code change. A file is parsed and
//! checked once ([`Mapping::load`], [`Mapping::parse`], [`load_dir`]) into a compiled plan
//! (pre-split paths, field references resolved to slots, regexes compiled, value maps hashed);
//! [`Mapping::apply`] then runs that plan against one input record. Applying is pure and
//! total: it does no I/O, never panics and never fails; every problem with a record becomes a
//! failed [`GateResult`] in the [`MapOutcome`].
//!
//! The language is described in `spec.rs` (keys), `transform.rs` (transforms),
//! `condition.rs` (conditions) and `plan.rs` (evaluation order). Bad files fail at load with
//! a [`MappingError`] naming file, line, column and field path.
//!
//! ```
//! let yaml = r#"
//! name: demo
//! source: { system: crm, object: contacts }
//! target: { system: handoff, object: lead }
//! fields:
//!   - to: email
//!     from: properties.email
//!     transform: [trim, lower]
//!     required: true
//! "#;
//! let mapping = handoff::mapping::Mapping::parse(yaml, "demo.yaml").unwrap();
//! let out = mapping.apply(&serde_json::json!({"id": "1", "properties": {"email": " A@B.CO "}}));
//! assert!(out.passed());
//! assert_eq!(out.record["email"], "a@b.co");
//! ```

mod compile;
mod condition;
mod country;
mod error;
mod outcome;
mod path;
mod phone;
mod plan;
mod spec;
pub(crate) mod transform;
mod value;

use std::fmt;
use std::path::{Path, PathBuf};

pub use error::{MappingError, Position};
pub use outcome::{GateResult, MapOutcome, ObjectRef};

use error::Origin;
use plan::Plan;
use spec::RawMapping;

/// A compiled mapping, ready to apply to many records (cheap to share: `apply` takes `&self`).
#[derive(Clone)]
pub struct Mapping {
    name: String,
    description: Option<String>,
    origin: String,
    source: ObjectRef,
    target: ObjectRef,
    plan: Plan,
}

impl fmt::Debug for Mapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mapping")
            .field("name", &self.name)
            .field("origin", &self.origin)
            .field("source", &self.source)
            .field("target", &self.target)
            .field("fields", &self.plan.fields.len())
            .field("gates", &self.plan.gates.len())
            .finish()
    }
}

impl Mapping {
    /// Reads, parses and compiles one mapping file. Errors name `path` as the origin.
    ///
    /// # Errors
    /// [`MappingError::Io`] when the file cannot be read; otherwise as [`Mapping::parse`].
    pub fn load(path: &Path) -> Result<Mapping, MappingError> {
        let text = std::fs::read_to_string(path).map_err(|source| MappingError::Io {
            path: path.to_owned(),
            source,
        })?;
        Mapping::parse(&text, &path.display().to_string())
    }

    /// Parses and compiles mapping text; `origin` is the file name used in errors.
    ///
    /// # Errors
    /// [`MappingError::Syntax`] for YAML or shape errors (unknown key, missing key, wrong
    /// type, duplicate key); [`MappingError::Invalid`] for semantic errors (unknown
    /// transform, bad region code, invalid regex, reference to a field not defined earlier,
    /// duplicate `to` or gate name, bad reason code). Both carry a [`Position`].
    pub fn parse(text: &str, origin: &str) -> Result<Mapping, MappingError> {
        let origin_ref = Origin(origin);
        let mut path = None;
        let options = serde_saphyr::options! { with_snippet: false };
        let raw: RawMapping =
            serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
                serde_path_to_error::deserialize(de).map_err(|err| {
                    path = Some(err.path().clone());
                    err.into_inner()
                })
            })
            .map_err(|err| origin_ref.syntax(&err, path.as_ref()))?;
        let compiled = compile::compile(raw, origin_ref)?;
        Ok(Mapping {
            name: compiled.name,
            description: compiled.description,
            origin: origin.to_owned(),
            source: compiled.source,
            target: compiled.target,
            plan: compiled.plan,
        })
    }

    /// The mapping's unique `name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The free-text `description`, if any.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The file name it was loaded from (as given to `load`/`parse`).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The system and object type records come from.
    pub fn source(&self) -> &ObjectRef {
        &self.source
    }

    /// The system and object type records become.
    pub fn target(&self) -> &ObjectRef {
        &self.target
    }

    /// Target field names, in evaluation order.
    pub fn target_fields(&self) -> impl Iterator<Item = &str> {
        self.plan.fields.iter().map(|f| f.to.as_str())
    }

    /// Every dotted path the mapping reads from its input (`from:` paths, and `source:` paths
    /// of `when:` and gate conditions), in order of appearance, without repeats.
    pub fn input_paths(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for f in &self.plan.fields {
            match &f.input {
                plan::Input::First(paths) | plan::Input::Join(paths, _) => {
                    out.extend(paths.iter().map(|p| p.as_str()))
                }
                plan::Input::Const(_) => {}
            }
            if let Some(when) = &f.when {
                when.input_paths(&mut out);
            }
        }
        for g in &self.plan.gates {
            g.condition.input_paths(&mut out);
        }
        let mut seen = std::collections::HashSet::new();
        out.retain(|p| seen.insert(*p));
        out
    }

    /// The vendor fields a mapping of CRM records reads: the first segment after
    /// `properties.` of every [`Mapping::input_paths`] entry (`properties.email` → `email`),
    /// which is what the connector must fetch for the mapping to see them.
    pub fn source_fields(&self) -> Vec<String> {
        self.input_paths()
            .into_iter()
            .filter_map(|p| p.strip_prefix("properties."))
            .map(|rest| rest.split('.').next().unwrap_or(rest).to_string())
            .fold(Vec::new(), |mut acc, f| {
                if !acc.contains(&f) {
                    acc.push(f);
                }
                acc
            })
    }

    /// Maps one input record (a CRM record as `{id, object_type, properties, associations}`,
    /// or a document handoff builds for an outbound mapping). Never panics and never fails:
    /// problems become failed gates in the outcome.
    pub fn apply(&self, input: &serde_json::Value) -> MapOutcome {
        self.plan.apply(input)
    }
}

/// Loads every `*.yaml` / `*.yml` file in `dir` (not recursive), in file-name order.
///
/// # Errors
/// The first file's [`MappingError`]; [`MappingError::Io`] when the directory cannot be
/// listed; [`MappingError::DuplicateName`] when two files declare the same `name`.
pub fn load_dir(dir: &Path) -> Result<Vec<Mapping>, MappingError> {
    let io = |source| MappingError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut files: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let is_yaml = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e == "yaml" || e == "yml");
        if is_yaml && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    let mut mappings: Vec<Mapping> = Vec::with_capacity(files.len());
    for file in files {
        let mapping = Mapping::load(&file)?;
        if let Some(first) = mappings.iter().find(|m| m.name == mapping.name) {
            return Err(MappingError::DuplicateName {
                name: mapping.name,
                first: PathBuf::from(&first.origin),
                second: file,
            });
        }
        mappings.push(mapping);
    }
    Ok(mappings)
}
