//! Reading TOML files into schema structs with errors that point at the line, task and key.
//!
//! The `toml` deserializer reports a byte span and a message. To name the key at fault we parse
//! the document a second time into toml's spanned tree and look for the innermost key or value
//! whose span contains the error's span.

use std::ops::Range;
use std::path::Path;

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue};

use super::error::Blame;
use super::{ConfigError, Problem};

/// Parses `text` (the contents of `file`) as a `T`.
pub(super) fn parse<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, ConfigError> {
    let document = DeTable::parse(text).map_err(|e| {
        let (line, column) = line_col(text, e.span().map_or(0, |s| s.start));
        let message = e.message().trim().to_owned();
        Blame { file, task: None }.error(
            "",
            Problem::Syntax {
                line,
                column,
                message,
            },
        )
    })?;
    toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let (line, column) = line_col(text, span.start);
        // An empty span is how toml reports a key missing from the document root.
        let path = if span.is_empty() {
            Vec::new()
        } else {
            innermost_key(document.get_ref(), &span)
                .map(|(_, path)| path)
                .unwrap_or_default()
        };
        let (task, key) = split_task_path(&path);
        let message = e.message().trim().to_owned();
        Blame {
            file,
            task: task.as_deref(),
        }
        .error(
            &key,
            Problem::Schema {
                line,
                column,
                message,
            },
        )
    })
}

/// Splits `tasks.<name>.<rest>` into the task name and `<rest>`; other paths have no task.
fn split_task_path(path: &[String]) -> (Option<String>, String) {
    match path {
        [tasks, task, rest @ ..] if tasks == "tasks" => (Some(task.clone()), rest.join(".")),
        _ => (None, path.join(".")),
    }
}

/// The key path whose key or value span is the smallest one containing `target`, with that
/// span's length.
fn innermost_key(table: &DeTable<'_>, target: &Range<usize>) -> Option<(usize, Vec<String>)> {
    let contains = |s: Range<usize>| s.start <= target.start && target.end <= s.end;
    let mut best: Option<(usize, Vec<String>)> = None;
    let mut consider = |candidate: (usize, Vec<String>)| {
        if best.as_ref().is_none_or(|(len, _)| candidate.0 < *len) {
            best = Some(candidate);
        }
    };
    for (key, value) in table.iter() {
        for span in [key.span(), value.span()] {
            if contains(span.clone()) {
                consider((span.len(), vec![key.get_ref().to_string()]));
            }
        }
        let nested: Vec<&DeTable<'_>> = match value.get_ref() {
            DeValue::Table(t) => vec![t],
            DeValue::Array(items) => items
                .iter()
                .filter_map(|item| match item.get_ref() {
                    DeValue::Table(t) => Some(t),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        for inner in nested {
            if let Some((len, mut path)) = innermost_key(inner, target) {
                path.insert(0, key.get_ref().to_string());
                consider((len, path));
            }
        }
    }
    best
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "kebab-case")]
    struct Doc {
        #[allow(dead_code)]
        name: String,
        #[serde(default)]
        tasks: indexmap::IndexMap<String, Task>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "kebab-case")]
    #[allow(dead_code)]
    struct Task {
        priority: u8,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "kebab-case")]
    #[allow(dead_code)]
    struct Inner {
        initial_ms: u32,
    }

    fn error(text: &str) -> ConfigError {
        parse::<Doc>(Path::new("a.toml"), text).unwrap_err()
    }

    #[test]
    fn table_order_is_document_order() {
        let doc: Doc = parse(
            Path::new("a.toml"),
            "name = 'x'\n[tasks.zeta]\npriority = 0\n[tasks.alpha]\npriority = 1\n",
        )
        .unwrap();
        assert_eq!(doc.tasks.keys().collect::<Vec<_>>(), ["zeta", "alpha"]);
    }

    #[test]
    fn syntax_error_has_line_and_column() {
        let e = error("name = 'x'\n[tasks.a\npriority = 0\n");
        assert!(
            matches!(
                e.problem,
                Problem::Syntax {
                    line: 2,
                    column: 9,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(
            e.to_string().starts_with("a.toml:2:9: TOML syntax error: "),
            "{e}"
        );
    }

    #[test]
    fn wrong_type_names_task_and_key() {
        let e = error("name = 'x'\n[tasks.a]\npriority = 'high'\n");
        assert_eq!(e.task.as_deref(), Some("a"));
        assert_eq!(e.key, "priority");
        assert_eq!(
            e.to_string(),
            "a.toml:3:12: task \"a\": priority: invalid type: string \"high\", expected u8"
        );
    }

    #[test]
    fn nested_inline_key_is_found() {
        let e = error("name = 'x'\n[tasks.a]\npriority = 1\ninner = { initial-ms = -1 }\n");
        assert_eq!(
            (e.task.as_deref(), e.key.as_str()),
            (Some("a"), "inner.initial-ms")
        );
    }

    #[test]
    fn unknown_key_is_named() {
        let e = error("name = 'x'\n[tasks.a]\nprio = 1\n");
        assert_eq!((e.task.as_deref(), e.key.as_str()), (Some("a"), "prio"));
        assert!(e.to_string().contains("unknown field `prio`"), "{e}");
    }

    #[test]
    fn missing_key_points_at_its_table() {
        let e = error("name = 'x'\n[tasks.a]\n[tasks.a.inner]\n");
        assert_eq!((e.task.as_deref(), e.key.as_str()), (Some("a"), "inner"));
        assert!(e.to_string().contains("missing field `initial-ms`"), "{e}");
        let e = error("[tasks.a]\npriority = 1\n");
        assert_eq!((e.task.as_deref(), e.key.as_str()), (None, ""));
        assert_eq!(e.to_string(), "a.toml:1:1: missing field `name`");
    }
}
