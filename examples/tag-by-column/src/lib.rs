//! `tag-by-column`: tags a row with the value of one column, e.g. `tier`
//! holding `vip` tags the row `vip_user`.
//!
//! Settings: `column` (required), `prefix` and `suffix` (default empty),
//! `skip` — comma-separated values that get no tag (default: none).

use movex_guest::{Binding, Description, Error, Plugin, Result, Row, Tagger, Value};

pub struct TagByColumn {
    column: String,
    prefix: String,
    suffix: String,
    skip: Vec<String>,
}

impl Plugin for TagByColumn {
    fn describe() -> Description {
        Description::new("tag-by-column", env!("CARGO_PKG_VERSION"))
            .summary("tags each row with the value of a configured column")
    }

    fn bind(binding: &Binding<'_>) -> Result<Self> {
        let s = binding.settings;
        let column = s.get("column").ok_or(Error::new("setting `column` is required"))?.to_owned();
        if let Some(layout) = binding.layout {
            if layout.index_of(&column).is_none() {
                return Err(Error(format!("table {} has no column {column:?}", binding.table)));
            }
        }
        let list = |k| s.get(k).unwrap_or("").split(',').map(str::trim).filter(|v| !v.is_empty());
        Ok(TagByColumn {
            column,
            prefix: s.get("prefix").unwrap_or("").to_owned(),
            suffix: s.get("suffix").unwrap_or("").to_owned(),
            skip: list("skip").map(str::to_owned).collect(),
        })
    }
}

impl Tagger for TagByColumn {
    fn tag(&self, row: &Row<'_>) -> Result<Option<String>> {
        let value = match row.value(&self.column)? {
            Value::Null => return Ok(None),
            Value::Text(s) | Value::Decimal(s) | Value::Json(s) => s.to_owned(),
            other => other.to_string(),
        };
        if value.is_empty() || self.skip.contains(&value) {
            return Ok(None);
        }
        Ok(Some(format!("{}{value}{}", self.prefix, self.suffix)))
    }
}

movex_guest::export!(TagByColumn, tagger);

#[cfg(test)]
mod tests {
    use super::*;
    use movex_guest::{RowBuf, Settings};

    fn tagger(s: Settings) -> TagByColumn {
        TagByColumn::bind(&Binding::settings(&s)).unwrap()
    }

    #[test]
    fn tags_by_the_configured_column() {
        let t = tagger(Settings::default().with("column", "tier").with("suffix", "_user").with("skip", "basic"));
        let row = |tier: Option<&str>| RowBuf::new().col("id", 1).col("tier", tier);
        assert_eq!(t.tag(&row(Some("vip")).row()).unwrap().as_deref(), Some("vip_user"));
        assert_eq!(t.tag(&row(Some("basic")).row()).unwrap(), None);
        assert_eq!(t.tag(&row(None).row()).unwrap(), None);
    }

    #[test]
    fn numbers_tag_by_their_text() {
        let t = tagger(Settings::default().with("column", "level").with("prefix", "level_"));
        let row = RowBuf::new().col("level", 3);
        assert_eq!(t.tag(&row.row()).unwrap().as_deref(), Some("level_3"));
    }

    #[test]
    fn a_missing_column_setting_is_refused_with_its_name() {
        let err = TagByColumn::bind(&Binding::settings(&Settings::default())).err().unwrap();
        assert!(err.0.contains("column"), "{err}");
    }
}
