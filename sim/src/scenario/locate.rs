//! Finds where a key sits in a scenario file, for errors found after deserialisation
//! (impossible values, features not built yet): the serde structs keep no positions, so the
//! source is parsed once more with `toml_edit`, which does.

use std::ops::Range;

use toml_edit::{ImDocument, Item, Table};

/// Byte range of the value at `path` (`client.fd_in_use`, `fault[1].kind`) in `src`; when the
/// path does not exist, the range of its deepest existing ancestor; `None` when `src` does not
/// parse (it did once already, so only for a caller's mistake).
pub(crate) fn span(src: &str, path: &str) -> Option<Range<usize>> {
    let doc = ImDocument::parse(src).ok()?;
    let mut cur = Node::Item(doc.as_item());
    let mut best: Option<Range<usize>> = None;
    for seg in segments(path) {
        let next = match (seg, cur) {
            (Seg::Key(k), Node::Item(item)) => {
                item.as_table_like().and_then(|t| t.get(k)).map(Node::Item)
            }
            (Seg::Key(k), Node::Table(t)) => t.get(k).map(Node::Item),
            (Seg::Index(i), Node::Item(item)) => match item {
                Item::ArrayOfTables(a) => a.get(i).map(Node::Table),
                Item::Value(v) => v
                    .as_array()
                    .and_then(|a| a.get(i))
                    .map(|v| Node::Value(v.span())),
                _ => None,
            },
            (_, Node::Value(_)) | (Seg::Index(_), Node::Table(_)) => None,
        };
        match next {
            Some(n) => {
                if let Some(s) = n.span() {
                    best = Some(s);
                }
                cur = n;
            }
            None => break,
        }
    }
    best
}

#[derive(Clone)]
enum Node<'a> {
    Item(&'a Item),
    Table(&'a Table),
    Value(Option<Range<usize>>),
}

impl Node<'_> {
    fn span(&self) -> Option<Range<usize>> {
        match self {
            Node::Item(i) => i.span(),
            Node::Table(t) => t.span(),
            Node::Value(s) => s.clone(),
        }
    }
}

enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// `fault[1].kind` → `fault`, `1`, `kind`.
fn segments(path: &str) -> Vec<Seg<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, rest) = part.split_once('[').unwrap_or((part, ""));
        if !key.is_empty() {
            out.push(Seg::Key(key));
        }
        for idx in rest.split('[') {
            if let Ok(i) = idx.trim_end_matches(']').parse() {
                out.push(Seg::Index(i));
            }
        }
    }
    out
}
