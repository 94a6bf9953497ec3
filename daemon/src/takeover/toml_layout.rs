//! Where things go in a toml_edit document. A new table is placed after every
//! other one. And toml_edit keeps the comment lines written above a key or a
//! table header *with* that key or table, so removing Switchyard's own would
//! take the user's comments along: they are moved to whatever follows.

use toml_edit::{Decor, DocumentMut, Item, RawString, Table};

/// A document position after every table in it, so a new table goes last
/// (only the old way of taking Codex over, made again in tests, adds one).
#[cfg(test)]
pub(super) fn next_position(table: &Table) -> isize {
    let mut last = table.position().unwrap_or(0);
    for (_, item) in table.iter() {
        for t in child_tables(item) {
            last = last.max(next_position(t) - 1);
        }
    }
    last + 1
}

/// Removes a root `key = value`, keeping the comments written above it:
/// toml_edit keeps those with the key, but they are the user's.
pub(super) fn remove_root_value(doc: &mut DocumentMut, key: &str) {
    let kept = doc
        .as_table()
        .key(key)
        .and_then(|k| comments(k.leaf_decor()));
    let next = doc
        .as_table()
        .iter()
        .skip_while(|(k, _)| *k != key)
        .skip(1)
        .find(|(_, item)| item.is_value())
        .map(|(k, _)| k.to_owned());
    doc.remove(key);
    if let Some(kept) = kept {
        reattach(doc, kept, next, isize::MIN);
    }
}

/// The comment lines of a decor prefix (without leading blank lines), if any.
pub(super) fn comments(decor: &Decor) -> Option<String> {
    let prefix = decor
        .prefix()
        .and_then(RawString::as_str)
        .unwrap_or_default();
    let first = prefix
        .split_inclusive('\n')
        .take_while(|line| line.trim().is_empty())
        .map(str::len)
        .sum::<usize>();
    let kept = &prefix[first..];
    kept.contains('#').then(|| kept.to_owned())
}

/// Puts `comments` in front of what is rendered next after a removed item:
/// the root value `next_key`, else the first table after `position`, else the
/// end of the document.
pub(super) fn reattach(
    doc: &mut DocumentMut,
    comments: String,
    next_key: Option<String>,
    position: isize,
) {
    if let Some(mut key) = next_key.and_then(|k| doc.as_table_mut().key_mut(&k)) {
        prepend(key.leaf_decor_mut(), &comments);
        return;
    }
    let after = tables_after(doc.as_table(), position).into_iter().min();
    if let Some(table) = after.and_then(|at| table_at(doc.as_table_mut(), at)) {
        prepend(table.decor_mut(), &comments);
        return;
    }
    let trailing = doc.trailing().as_str().unwrap_or_default().to_owned();
    doc.set_trailing(format!("{comments}{trailing}"));
}

fn prepend(decor: &mut Decor, comments: &str) {
    let old = decor
        .prefix()
        .and_then(RawString::as_str)
        .unwrap_or_default();
    let new = format!("{comments}{old}");
    decor.set_prefix(new);
}

/// Positions of the shown tables under `table` that come after `position`.
fn tables_after(table: &Table, position: isize) -> Vec<isize> {
    let mut found = Vec::new();
    for (_, item) in table.iter() {
        for child in child_tables(item) {
            match child.position() {
                Some(at) if at > position && !child.is_implicit() => found.push(at),
                _ => {}
            }
            found.extend(tables_after(child, position));
        }
    }
    found
}

/// The table under `table` at document position `at`.
fn table_at(table: &mut Table, at: isize) -> Option<&mut Table> {
    for (_, item) in table.iter_mut() {
        let children: Vec<&mut Table> = match item {
            Item::Table(t) => vec![t],
            Item::ArrayOfTables(a) => a.iter_mut().collect(),
            _ => Vec::new(),
        };
        for child in children {
            if child.position() == Some(at) && !child.is_implicit() {
                return Some(child);
            }
            if let Some(found) = table_at(child, at) {
                return Some(found);
            }
        }
    }
    None
}

fn child_tables(item: &Item) -> Vec<&Table> {
    match item {
        Item::Table(t) => vec![t],
        Item::ArrayOfTables(a) => a.iter().collect(),
        _ => Vec::new(),
    }
}
