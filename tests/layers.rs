//! The crate's layers, checked from its source: every `use crate::`,
//! `super::` and inline `crate::` path in `host/src` is resolved to the file
//! it names, then
//! - a top-level module imports only from layers below its own (the table
//!   in `host/src/lib.rs`'s `# Layout`, read from there), and
//! - inside every folder, the files (and sub-folders) import one another
//!   without a cycle.
//!
//! A parent's `pub use child::Name` is followed to the child, so a re-export
//! does not hide an edge; grouped paths (`crate::{a, b::c}`) are expanded
//! wherever they stand; aliases of the crate root (`use crate as x`) and
//! glob imports from it (`use super::*`), which would hide a path, are
//! refused. `#[cfg(test)] mod tests { .. }` blocks are not read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first, as `lib.rs`'s `# Layout` table gives them
/// (rows `//! | 3 | [`health`], [`task`] | ...`): a module may import from
/// lower layers only.
fn layers() -> Vec<Vec<String>> {
    let lib = std::fs::read_to_string(src_dir().join("lib.rs")).expect("read lib.rs");
    let mut out = Vec::new();
    for line in lib.lines() {
        let cells: Vec<&str> = line.trim_start_matches("//!").split('|').map(str::trim).collect();
        if cells.len() > 3 && cells[1].parse::<usize>().is_ok() {
            out.push(cells[2].split(',').map(|m| m.trim().trim_matches(|c| c == '[' || c == ']' || c == '`').to_owned()).collect());
        }
    }
    assert!(out.len() >= 8, "lib.rs's # Layout table has {} layer rows; expected the `| n | [`module`], ... | ... |` rows", out.len());
    out
}

type ModPath = Vec<String>;

struct Source {
    /// Module path -> the file's code (comments and test modules removed).
    files: BTreeMap<ModPath, String>,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").join("host/src")
}

fn read_tree(dir: &Path, prefix: &ModPath, out: &mut BTreeMap<ModPath, String>) {
    for entry in std::fs::read_dir(dir).expect("read host/src") {
        let path = entry.expect("dir entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            let mut p = prefix.clone();
            p.push(name);
            read_tree(&path, &p, out);
        } else if let Some(stem) = name.strip_suffix(".rs") {
            let mut p = prefix.clone();
            if !matches!(stem, "mod" | "lib" | "main") {
                p.push(stem.to_owned());
            }
            out.insert(p, code_of(&std::fs::read_to_string(&path).expect("read a source file")));
        }
    }
}

/// The code without comments and without the unit-test module.
fn code_of(text: &str) -> String {
    let code = text
        .lines()
        .map(|l| match l.find("//") {
            // A `//` inside a string ("http://...") keeps the line whole.
            Some(i) if l[..i].matches('"').count() % 2 == 0 => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    // Cut the balanced `#[cfg(test)] mod tests { .. }` block, and only it.
    let Some(start) = code.find("#[cfg(test)]\nmod tests {") else { return code };
    let open = start + code[start..].find('{').expect("a brace");
    let close = balanced(&code, open).unwrap_or(code.len());
    format!("{}{}", &code[..start], &code[close..])
}

/// The index just past the brace that closes the one at `open`.
fn balanced(code: &str, open: usize) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in code[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// `a::{b, c::{d, e}}` -> `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap().trim();
        return if path.is_empty() { vec![] } else { vec![path.to_owned()] };
    };
    let head = tree[..open].trim_end_matches("::").trim();
    let body = &tree[open + 1..tree.rfind('}').expect("balanced braces in a use tree")];
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, ch) in body.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&body[start..]);
    parts
        .into_iter()
        .flat_map(expand)
        .map(|p| if p == "self" { head.to_owned() } else if head.is_empty() { p } else { format!("{head}::{p}") })
        .collect()
}

/// Every path the code names that starts with `crate::` or `super::`, in
/// `use` declarations or inline, a grouped one expanded.
fn paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut from = 0;
    while let Some(i) = code[from..].find("::").map(|i| i + from) {
        from = i + 2;
        // The segment before `::` must be a whole `crate` or `super`.
        let start = code[..i].rfind(|c: char| !(c.is_alphanumeric() || c == '_')).map_or(0, |s| s + 1);
        let root = &code[start..i];
        if !matches!(root, "crate" | "super") || (start > 0 && bytes[start - 1] == b':') {
            continue;
        }
        // The path: segments and `::`, then perhaps a `{ .. }` group.
        let mut end = i;
        while end < code.len() {
            let c = bytes[end];
            if c.is_ascii_alphanumeric() || c == b'_' || c == b':' {
                end += 1;
            } else if c == b'{' && code[..end].ends_with("::") {
                end = balanced(code, end).unwrap_or(code.len());
                break;
            } else {
                break;
            }
        }
        out.extend(expand(code[start..end].trim_end_matches(':')));
        from = end.max(from);
    }
    out
}

impl Source {
    fn read() -> Source {
        let mut files = BTreeMap::new();
        read_tree(&src_dir(), &Vec::new(), &mut files);
        Source { files }
    }

    /// The file a path from module `from` lands in (following a parent's
    /// re-exports to the child that defines the name).
    fn resolve(&self, from: &ModPath, path: &str) -> Option<ModPath> {
        let mut segs: Vec<&str> = path.split("::").collect();
        let mut base: ModPath = match segs[0] {
            "crate" => Vec::new(),
            "super" => from[..from.len().saturating_sub(1)].to_vec(),
            _ => return None,
        };
        segs.remove(0);
        while segs.first() == Some(&"super") {
            base.pop();
            segs.remove(0);
        }
        let mut at = base;
        for s in &segs {
            let mut next = at.clone();
            next.push((*s).to_owned());
            if self.files.contains_key(&next) {
                at = next;
                continue;
            }
            // Not a module: an item of `at`, perhaps re-exported from a child.
            if let Some(child) = self.reexported_from(&at, s) {
                at = child;
            }
            break;
        }
        Some(at)
    }

    /// The child module of `parent` that `parent` re-exports `name` from.
    fn reexported_from(&self, parent: &ModPath, name: &str) -> Option<ModPath> {
        let code = self.files.get(parent)?;
        for line in code.split(';') {
            let line = line.trim();
            let Some(tree) = line.strip_prefix("pub use ").or_else(|| line.strip_prefix("pub(crate) use ")) else { continue };
            for p in expand(tree) {
                let segs: Vec<&str> = p.split("::").skip_while(|s| *s == "self").collect();
                if segs.last() == Some(&name) && !matches!(segs[0], "crate" | "super") {
                    let mut child = parent.clone();
                    child.push(segs[0].to_owned());
                    if self.files.contains_key(&child) {
                        return Some(child);
                    }
                }
            }
        }
        None
    }

    /// (from, to) between distinct files.
    fn edges(&self) -> BTreeSet<(ModPath, ModPath)> {
        let mut out = BTreeSet::new();
        for (from, code) in &self.files {
            for p in paths(code) {
                if let Some(to) = self.resolve(from, &p)
                    && &to != from
                    && !to.is_empty()
                {
                    out.insert((from.clone(), to));
                }
            }
        }
        out
    }
}

fn layer_of(layers: &[Vec<String>], module: &str) -> Option<usize> {
    layers.iter().position(|l| l.iter().any(|m| m == module))
}

#[test]
fn every_top_level_module_has_a_layer() {
    let src = Source::read();
    let tops: BTreeSet<&str> = src.files.keys().filter_map(|m| m.first().map(String::as_str)).collect();
    let layers = layers();
    let missing: Vec<&&str> = tops.iter().filter(|m| layer_of(&layers, m).is_none()).collect();
    assert!(missing.is_empty(), "modules without a layer in lib.rs's # Layout table: {missing:?}");
    assert!(tops.len() >= 10, "read too few modules from {}: {tops:?}", src_dir().display());
}

#[test]
fn imports_point_down_the_layers() {
    let src = Source::read();
    let layers = layers();
    let edges = src.edges();
    assert!(edges.len() > 100, "found only {} imports: the reader is broken", edges.len());
    let mut wrong = Vec::new();
    for (from, to) in &edges {
        let (a, b) = (&from[0], &to[0]);
        if a == b {
            continue;
        }
        let (la, lb) = (layer_of(&layers, a).expect("layered"), layer_of(&layers, b).expect("layered"));
        if lb >= la {
            wrong.push(format!("{} (layer {}) imports {} (layer {})", from.join("/"), la + 1, to.join("/"), lb + 1));
        }
    }
    assert!(wrong.is_empty(), "imports that do not point down:\n{}", wrong.join("\n"));
}

#[test]
fn no_cycle_between_files_of_a_folder() {
    let src = Source::read();
    // For each folder, its children (files and sub-folders) as nodes.
    let mut graphs: BTreeMap<ModPath, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (from, to) in src.edges() {
        let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
        if from.len() <= common || to.len() <= common {
            continue; // a parent naming its child, or a child its parent's own item
        }
        graphs.entry(from[..common].to_vec()).or_default().entry(from[common].clone()).or_default().insert(to[common].clone());
    }
    let mut cycles = Vec::new();
    for (folder, g) in &graphs {
        if let Some(cycle) = find_cycle(g) {
            let at = if folder.is_empty() { "host/src".to_owned() } else { format!("host/src/{}", folder.join("/")) };
            cycles.push(format!("{at}: {}", cycle.join(" -> ")));
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

/// A cycle in `g`, as the nodes along it (first repeated at the end).
fn find_cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(n: &str, g: &BTreeMap<String, BTreeSet<String>>, stack: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| s == n) {
            let mut c = stack[i..].to_vec();
            c.push(n.to_owned());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.to_owned());
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, g, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    g.keys().find_map(|n| visit(n, g, &mut Vec::new(), &mut done))
}

#[test]
fn no_path_hides_behind_an_alias_or_a_glob() {
    let src = Source::read();
    let mut hidden = Vec::new();
    for (m, code) in &src.files {
        for bad in ["crate as ", "super as ", "crate::*", "super::*"] {
            if code.contains(bad) {
                hidden.push(format!("host/src/{}: `{bad}`", m.join("/")));
            }
        }
    }
    assert!(hidden.is_empty(), "name what you import, so the layer check sees it:\n{}", hidden.join("\n"));
}

#[test]
fn the_reader_sees_grouped_imports_and_cycles() {
    assert_eq!(expand("crate::a::{b, c::{d, e as f}, self}"), ["crate::a::b", "crate::a::c::d", "crate::a::c::e", "crate::a"]);
    assert_eq!(paths("let x = crate::db::key::encode(v);\n    use super::side::{Side, Row};"), [
        "crate::db::key::encode",
        "super::side::Side",
        "super::side::Row",
    ]);
    // Grouped paths wherever they stand, in macros too; `super::super`.
    assert_eq!(paths("#[allow(unused)] use crate::{cli::X, http};\nfn f() { use $crate::{a::b}; super::super::x::y(); }"), [
        "crate::cli::X",
        "crate::http",
        "crate::a::b",
        "super::super::x::y",
    ]);
    // Only the unit-test block is cut: what follows it is read.
    let code = code_of("use crate::a;\n#[cfg(test)]\nmod tests {\n    use crate::cli::X;\n}\nfn after() { crate::http::y(); } // crate::no\n");
    assert_eq!(paths(&code), ["crate::a", "crate::http::y"]);
    let g: BTreeMap<String, BTreeSet<String>> =
        [("a", "b"), ("b", "c"), ("c", "a")].iter().map(|(x, y)| (x.to_string(), BTreeSet::from([y.to_string()]))).collect();
    assert_eq!(find_cycle(&g), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
}
