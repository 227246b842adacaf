//! Line-oriented input (`import`, `sentiment`, `backtest --mentions`): one
//! reader that keeps going past a bad line.
//!
//! `BufRead::lines` stops at the first line that is not UTF-8, losing the
//! rest of the input. [`Lines`] yields each line with its 1-based number:
//! text, or [`Line::NotUtf8`] for a line that is not valid UTF-8 (the caller
//! reports it and goes on), and stops with the I/O error itself when reading
//! fails (the caller keeps what it read before). Lines are capped at
//! [`MAX_LINE_BYTES`]: a longer one is skipped whole and reported.

use std::io::BufRead;

/// Longest line accepted, in bytes (a mention with a very long text fits).
pub(crate) const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// One line of input.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// The line's text, without its `\n` or `\r\n`.
    Text(String),
    /// The line is not valid UTF-8; the byte offset of the first bad byte.
    NotUtf8 { at: usize },
    /// The line is longer than [`MAX_LINE_BYTES`].
    TooLong { bytes: usize },
}

impl Line {
    /// Why a line that is not text was skipped, for the error stream.
    pub(crate) fn problem(&self) -> Option<String> {
        match self {
            Line::Text(_) => None,
            Line::NotUtf8 { at } => Some(format!(
                "not valid UTF-8 (first bad byte at column {}): re-encode the file as UTF-8",
                at + 1
            )),
            Line::TooLong { bytes } => Some(format!(
                "line of {bytes} bytes is longer than the {MAX_LINE_BYTES}-byte limit"
            )),
        }
    }
}

/// The lines of a reader, numbered from 1.
pub(crate) struct Lines<R> {
    reader: R,
    number: usize,
    buf: Vec<u8>,
    done: bool,
}

impl<R: BufRead> Lines<R> {
    pub(crate) fn new(reader: R) -> Lines<R> {
        Lines {
            reader,
            number: 0,
            buf: Vec::new(),
            done: false,
        }
    }
}

impl<R: BufRead> Iterator for Lines<R> {
    type Item = (usize, std::io::Result<Line>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        self.buf.clear();
        let mut total = 0usize;
        // Read up to the newline, keeping at most MAX_LINE_BYTES of it.
        loop {
            let chunk = match self.reader.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.done = true;
                    return Some((self.number + 1, Err(e)));
                }
            };
            if chunk.is_empty() {
                self.done = true;
                if total == 0 {
                    return None;
                }
                break;
            }
            let (take, end) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            if total + take <= MAX_LINE_BYTES + 1 {
                self.buf.extend_from_slice(&chunk[..take]);
            }
            total += take;
            self.reader.consume(take);
            if end {
                break;
            }
        }
        self.number += 1;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
            total -= 1;
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        if total > MAX_LINE_BYTES {
            return Some((self.number, Ok(Line::TooLong { bytes: total })));
        }
        let line = match std::str::from_utf8(&self.buf) {
            Ok(s) => Line::Text(s.to_owned()),
            Err(e) => Line::NotUtf8 {
                at: e.valid_up_to(),
            },
        };
        Some((self.number, Ok(line)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> Vec<(usize, Line)> {
        Lines::new(input).map(|(n, l)| (n, l.unwrap())).collect()
    }

    #[test]
    fn a_bad_line_is_reported_and_the_next_ones_still_read() {
        let got = lines(b"one\n\xff\xfebad\r\nthree\r\nfour");
        assert_eq!(
            got,
            vec![
                (1, Line::Text("one".into())),
                (2, Line::NotUtf8 { at: 0 }),
                (3, Line::Text("three".into())),
                (4, Line::Text("four".into())),
            ]
        );
        assert!(got[1].1.problem().unwrap().contains("UTF-8"));
    }

    #[test]
    fn empty_input_and_trailing_newline() {
        assert!(lines(b"").is_empty());
        assert_eq!(lines(b"a\n"), vec![(1, Line::Text("a".into()))]);
        assert_eq!(
            lines(b"\n\n"),
            vec![
                (1, Line::Text(String::new())),
                (2, Line::Text(String::new()))
            ]
        );
    }

    #[test]
    fn an_io_error_ends_the_lines_after_what_was_read() {
        struct Failing(usize);
        impl std::io::Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0 == 0 {
                    self.0 = 1;
                    let s = b"ok\npartial";
                    buf[..s.len()].copy_from_slice(s);
                    Ok(s.len())
                } else {
                    Err(std::io::Error::other("disk on fire"))
                }
            }
        }
        let mut it = Lines::new(std::io::BufReader::new(Failing(0)));
        assert_eq!(it.next().unwrap().1.unwrap(), Line::Text("ok".into()));
        assert!(it.next().unwrap().1.is_err());
        assert!(it.next().is_none());
    }
}
