//! Diagnostics that point into a file: `path:line:col: message`.
//!
//! Config and rule validation collect every problem as a [`Diagnostic`] and
//! return them all, so a user fixes a file in one pass. Owns only the
//! position arithmetic and the display; it does not read files.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem found in a file, with a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
    /// The offending line and a caret under the column, when known.
    pub snippet: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at byte `offset` of `source` (the file's whole text).
    pub fn at(path: &Path, source: &str, offset: usize, message: impl Into<String>) -> Self {
        let (line, col) = line_col(source, offset);
        let text = source.lines().nth(line - 1).unwrap_or("");
        let caret = format!("{}^", " ".repeat(col.saturating_sub(1)));
        Diagnostic {
            path: path.to_path_buf(),
            line,
            col,
            message: message.into(),
            snippet: Some(format!("    {text}\n    {caret}")),
        }
    }

    /// A diagnostic about a whole file (it can't be read, say): line and
    /// column 0, and displayed as `path: message`.
    pub fn file(path: &Path, message: impl Into<String>) -> Self {
        Diagnostic {
            path: path.to_path_buf(),
            line: 0,
            col: 0,
            message: message.into(),
            snippet: None,
        }
    }

    /// The diagnostic with its snippet, for a person.
    pub fn render(&self) -> String {
        match &self.snippet {
            Some(s) => format!("{self}\n{s}"),
            None => self.to_string(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return write!(f, "{}: {}", self.path.display(), self.message);
        }
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.col,
            self.message
        )
    }
}

/// 1-based line and column (in characters) of byte `offset` in `source`.
pub(crate) fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let mut start = offset;
    while !source.is_char_boundary(start) {
        start -= 1;
    }
    let before = &source[..start];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// Converts a TOML parse error into a diagnostic at its span.
pub(crate) fn from_toml(path: &Path, source: &str, err: &toml::de::Error) -> Diagnostic {
    let offset = err.span().map_or(0, |s| s.start);
    // toml's message repeats the position and a snippet; keep its first line.
    let msg = err
        .message()
        .lines()
        .next()
        .unwrap_or("invalid TOML")
        .trim();
    Diagnostic::at(path, source, offset, msg.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let src = "ab\ncdé\nf";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 3), (2, 1));
        assert_eq!(line_col(src, 7), (2, 4));
        assert_eq!(line_col(src, src.len()), (3, 2));
    }

    #[test]
    fn display_is_file_line_col() {
        let d = Diagnostic::at(Path::new("r.toml"), "a\nbad = 1\n", 6, "oops");
        assert_eq!(d.to_string(), "r.toml:2:5: oops");
        assert!(d.render().contains("bad = 1\n        ^"));
        let whole = Diagnostic::file(Path::new("r.toml"), "cannot read rule file");
        assert_eq!(whole.to_string(), "r.toml: cannot read rule file");
    }
}
