//! From key paths to places in the file, and back.
//!
//! Validation works on the typed [`Config`](super::super::Config), which has forgotten
//! where each value came from; it names a value by its [`KeyPath`] (`routes[2].upstream`).
//! This module parses the same text with `toml_edit`, which keeps spans, and maps a path
//! to the span of its value (or key), and a byte offset (from a serde error) back to the
//! deepest path that holds it. Line and column are 1-based; the column counts characters,
//! not bytes, so it matches what an editor shows.
//!
//! Nothing here fails: a path that the text does not spell out (a defaulted key) resolves
//! to its nearest written ancestor, and no document at all means no location.

use std::fmt;
use std::ops::Range;

use toml_edit::{Document, Item, Table, Value};

/// A key path into the config, written the way a user reads it: `routes[2].match.path`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(Vec<Segment>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

impl KeyPath {
    /// The whole document.
    pub fn root() -> KeyPath {
        KeyPath(Vec::new())
    }

    /// This path followed by the table key `key`.
    pub fn key(&self, key: &str) -> KeyPath {
        let mut next = self.clone();
        next.0.push(Segment::Key(key.to_owned()));
        next
    }

    /// This path followed by the array index `index` (0-based, as in TOML tooling).
    pub fn index(&self, index: usize) -> KeyPath {
        let mut next = self.clone();
        next.0.push(Segment::Index(index));
        next
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Index(n) => write!(f, "[{n}]")?,
                Segment::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    let bare = !k.is_empty()
                        && k.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                    if bare {
                        f.write_str(k)?;
                    } else {
                        write!(f, "{k:?}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Which part of a `key = value` pair an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// The value (or, for a table, its header): most errors.
    Value,
    /// The key itself: a bad header name in a map, say.
    Key,
}

/// 1-based line and character column of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// A node of the parsed document: items hang off tables, arrays hold values, arrays of
/// tables hold tables.
#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a Item),
    Table(&'a Table),
    Value(&'a Value),
}

/// A node reached from its parent, with the spans of its value and of its key (if keyed).
struct Child<'a> {
    node: Node<'a>,
    value_span: Option<Range<usize>>,
    key_span: Option<Range<usize>>,
}

impl<'a> Node<'a> {
    /// The child at `segment`, if the text has one.
    fn child(self, segment: &Segment) -> Option<Child<'a>> {
        match segment {
            Segment::Key(k) => {
                let (key, item) = match self {
                    Node::Item(item) => item.as_table_like()?.get_key_value(k)?,
                    Node::Table(table) => table.get_key_value(k)?,
                    Node::Value(value) => value.as_inline_table()?.get_key_value(k)?,
                };
                Some(Child {
                    node: Node::Item(item),
                    value_span: item.span(),
                    key_span: key.span(),
                })
            }
            Segment::Index(n) => match self {
                Node::Item(Item::ArrayOfTables(tables)) => {
                    let table = tables.get(*n)?;
                    Some(Child {
                        node: Node::Table(table),
                        value_span: table.span(),
                        key_span: None,
                    })
                }
                Node::Item(Item::Value(Value::Array(array))) | Node::Value(Value::Array(array)) => {
                    let value = array.get(*n)?;
                    Some(Child {
                        node: Node::Value(value),
                        value_span: value.span(),
                        key_span: None,
                    })
                }
                _ => None,
            },
        }
    }

    /// The segments that lead to this node's children, in file order.
    fn segments(self) -> Vec<Segment> {
        let keys = |t: &dyn toml_edit::TableLike| -> Vec<Segment> {
            t.iter().map(|(k, _)| Segment::Key(k.to_owned())).collect()
        };
        match self {
            Node::Item(Item::ArrayOfTables(tables)) => {
                (0..tables.len()).map(Segment::Index).collect()
            }
            Node::Item(Item::Value(Value::Array(array))) | Node::Value(Value::Array(array)) => {
                (0..array.len()).map(Segment::Index).collect()
            }
            Node::Item(item) => item.as_table_like().map(keys).unwrap_or_default(),
            Node::Table(table) => keys(table),
            Node::Value(Value::InlineTable(table)) => keys(table),
            Node::Value(_) => Vec::new(),
        }
    }
}

/// The span `path` points at: the value's (or a table's header), or the key's when `at`
/// asks for it or the value has none (an implicit table). A path that runs past what the
/// text spells out gives its deepest written ancestor's span.
pub fn span_of(doc: &Document<&str>, path: &KeyPath, at: At) -> Option<Range<usize>> {
    let mut node = Node::Item(doc.as_item());
    let mut best = None;
    let last = path.0.len().saturating_sub(1);
    for (i, segment) in path.0.iter().enumerate() {
        let Some(child) = node.child(segment) else {
            break;
        };
        let span = if i == last && at == At::Key {
            child.key_span.or(child.value_span)
        } else {
            child.value_span.or(child.key_span)
        };
        best = span.or(best);
        node = child.node;
    }
    best
}

/// The deepest key path whose key or value span holds byte `offset`; the root when none.
pub fn path_at(doc: &Document<&str>, offset: usize) -> KeyPath {
    fn holds(span: &Option<Range<usize>>, offset: usize) -> bool {
        span.as_ref()
            .is_some_and(|s| s.contains(&offset) || (s.is_empty() && s.start == offset))
    }
    fn search(node: Node<'_>, offset: usize, path: &mut Vec<Segment>, best: &mut Vec<Segment>) {
        for segment in node.segments() {
            let Some(child) = node.child(&segment) else {
                continue;
            };
            path.push(segment);
            let here = holds(&child.value_span, offset) || holds(&child.key_span, offset);
            if here && path.len() > best.len() {
                *best = path.clone();
            }
            search(child.node, offset, path, best);
            path.pop();
        }
    }
    let mut best = Vec::new();
    search(
        Node::Item(doc.as_item()),
        offset,
        &mut Vec::new(),
        &mut best,
    );
    KeyPath(best)
}
