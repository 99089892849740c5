//! The traits a guest author implements: `Plugin` (who the module is and how it
//! is set up), then any of `Comparator`, `Tagger`, `Policy`.

use crate::error::Result;
use crate::policy::{Decision, Stats};
use crate::row::{Layout, Row};
use crate::verdict::Verdict;

/// A capability a module can export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capability {
    Comparator,
    Tagger,
    Policy,
}

/// Who a module is. The host knows a module by `name`, whatever its file name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Description {
    pub name: String,
    pub version: String,
    /// Filled in by `export!` from the capabilities it is given.
    pub capabilities: Vec<Capability>,
    /// Tables or entity kinds the module is written for; empty means any.
    pub entities: Vec<String>,
    pub summary: String,
}

impl Description {
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            capabilities: Vec::new(),
            entities: Vec::new(),
            summary: String::new(),
        }
    }

    pub fn summary(mut self, summary: impl Into<String>) -> Self {
        self.summary = summary.into();
        self
    }

    pub fn entities<I: IntoIterator<Item = S>, S: Into<String>>(mut self, entities: I) -> Self {
        self.entities = entities.into_iter().map(Into::into).collect();
        self
    }
}

/// String key-values from the host's config.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings(pub Vec<(String, String)>);

impl Settings {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// A setting parsed as `T`, or `default` when absent; a clear error when
    /// present but unparsable.
    pub fn parse_or<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse()
                .map_err(|e| crate::Error(format!("setting {key}={v:?}: {e}"))),
        }
    }

    pub fn with(mut self, key: &str, value: impl ToString) -> Self {
        self.0.push((key.to_owned(), value.to_string()));
        self
    }
}

/// What a module is bound to. Comparators and taggers get a table and its
/// layout; policies get settings only (`layout` is `None`).
#[derive(Debug)]
pub struct Binding<'a> {
    pub table: &'a str,
    pub layout: Option<&'a Layout>,
    pub settings: &'a Settings,
}

impl<'a> Binding<'a> {
    /// A binding with settings only, as a policy gets (and handy in tests).
    pub fn settings(settings: &'a Settings) -> Self {
        Binding { table: "", layout: None, settings }
    }
}

/// Every module: describes itself and is constructed per binding.
pub trait Plugin: Sized + 'static {
    fn describe() -> Description;
    /// Build the module for one binding: read settings, check the layout.
    /// An error refuses the binding with your message.
    fn bind(binding: &Binding<'_>) -> Result<Self>;
}

/// Decides whether a source row and a destination row hold the same entity.
pub trait Comparator: Plugin {
    fn compare(&self, src: &Row<'_>, dst: &Row<'_>) -> Verdict;
}

/// Says which entity kind a row is (e.g. `vip_user`), or none.
pub trait Tagger: Plugin {
    fn tag(&self, row: &Row<'_>) -> Result<Option<String>>;
}

/// Decides what the migration does next from its statistics.
pub trait Policy: Plugin {
    fn decide(&self, stats: &Stats) -> Decision;
}
