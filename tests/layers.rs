//! The structure holds: no import cycle among the modules of `src/`, no source file over 600
//! lines, and documents that speak only of this repository (no issue numbers, no paths
//! outside it, no file of it that does not exist).
//!
//! A module is a top-level file or folder of `src/`, and each file or folder one level
//! inside a folder (`detect/surge`, `deliver/outbox`); an edge is a `crate::` path in a
//! file's code, outside `#[cfg(test)]` items and comments.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 600;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file of `src/` belongs to.
fn module_of(rel: &Path) -> Option<String> {
    let parts: Vec<String> = rel
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    match parts.as_slice() {
        [only] if only == "main" || only == "lib" => None,
        [only] => Some(only.clone()),
        [dir, file] if file == "mod" => Some(dir.clone()),
        [dir, inner, ..] => Some(format!("{dir}/{inner}")),
        [] => None,
    }
}

/// The code of a file without comments and without `#[cfg(test)]` items.
fn code(src: &str) -> String {
    let without_comments: String = src
        .lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = String::new();
    let mut rest = without_comments.as_str();
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let brace = after.find('{');
        let semi = after.find(';');
        let end = match (brace, semi) {
            (_, Some(s)) if brace.is_none_or(|b| s < b) => s + 1,
            (Some(b), _) => {
                let mut depth = 0;
                let mut end = after.len();
                for (i, c) in after[b..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = b + i + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            _ => after.len(),
        };
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Every `crate::a` or `crate::a::b` path in `code`, `use crate::{a, b::c}` groups included,
/// as (a, b).
fn crate_paths(code: &str) -> Vec<(String, Option<String>)> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let body = &group[..group.find("};").unwrap_or(group.len())];
            for item in body.split(',') {
                let mut names = item.trim().split("::");
                let first = ident(names.next().unwrap_or(""));
                let second = names.next().map(ident).filter(|s| !s.is_empty());
                if !first.is_empty() {
                    out.push((first, second));
                }
            }
        } else {
            let first = ident(rest);
            let second = rest[first.len()..]
                .strip_prefix("::")
                .map(ident)
                .filter(|s| !s.is_empty());
            out.push((first, second));
        }
    }
    out
}

fn module_graph() -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap().to_path_buf();
        // Test-only files (`mod tests;` under `#[cfg(test)]`) are not part of the layering.
        if rel.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let Some(from) = module_of(&rel) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for (first, second) in crate_paths(&code(&text)) {
            let to = match second {
                Some(inner)
                    if src.join(&first).join(format!("{inner}.rs")).is_file()
                        || src.join(&first).join(&inner).is_dir() =>
                {
                    format!("{first}/{inner}")
                }
                _ => first,
            };
            if to != from && (src.join(format!("{}.rs", to)).is_file() || src.join(&to).is_dir()) {
                graph
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_default()
                    .insert(rel.display().to_string());
            }
        }
    }
    graph
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(graph: &BTreeMap<String, BTreeMap<String, BTreeSet<String>>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
        index: BTreeMap<String, usize>,
        low: BTreeMap<String, usize>,
        stack: Vec<String>,
        on_stack: BTreeSet<String>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    fn visit(s: &mut State<'_>, v: &str) {
        s.index.insert(v.to_string(), s.next);
        s.low.insert(v.to_string(), s.next);
        s.next += 1;
        s.stack.push(v.to_string());
        s.on_stack.insert(v.to_string());
        let targets: Vec<String> = s
            .graph
            .get(v)
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default();
        for w in targets {
            if !s.index.contains_key(&w) {
                visit(s, &w);
                let low = s.low[v].min(s.low[&w]);
                s.low.insert(v.to_string(), low);
            } else if s.on_stack.contains(&w) {
                let low = s.low[v].min(s.index[&w]);
                s.low.insert(v.to_string(), low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(&w);
                let done = w == v;
                component.push(w);
                if done {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    let nodes: BTreeSet<String> = graph
        .iter()
        .flat_map(|(k, v)| std::iter::once(k.clone()).chain(v.keys().cloned()))
        .collect();
    for n in nodes {
        if !s.index.contains_key(&n) {
            visit(&mut s, &n);
        }
    }
    s.found
}

#[test]
fn no_import_cycle_among_the_modules_of_src() {
    let graph = module_graph();
    assert!(
        graph.len() > 30,
        "the graph was read: {} modules",
        graph.len()
    );
    // The layering this test guards, seen from both sides: delivery sits above the record,
    // and the record needs nothing above the event.
    assert!(graph["deliver/outbox"].contains_key("alert"));
    assert!(graph["alert/model"].keys().all(|m| m == "event"));
    let found = cycles(&graph);
    let explain: Vec<String> = found
        .iter()
        .map(|c| {
            let edges: Vec<String> = c
                .iter()
                .flat_map(|a| {
                    graph[a]
                        .iter()
                        .filter(|(b, _)| c.contains(b))
                        .map(move |(b, files)| format!("{a} -> {b} ({files:?})"))
                })
                .collect();
            edges.join("; ")
        })
        .collect();
    assert!(found.is_empty(), "import cycles: {explain:#?}");
}

#[test]
fn a_cycle_would_be_found() {
    // The checker itself: two modules that reach each other are one cycle.
    let mut graph: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    graph
        .entry("a".into())
        .or_default()
        .insert("b".into(), BTreeSet::new());
    graph
        .entry("b".into())
        .or_default()
        .insert("c".into(), BTreeSet::new());
    graph
        .entry("c".into())
        .or_default()
        .insert("a".into(), BTreeSet::new());
    graph
        .entry("c".into())
        .or_default()
        .insert("d".into(), BTreeSet::new());
    assert_eq!(cycles(&graph), vec![vec!["a", "b", "c"]]);
    let text = "use crate::{alert::Alert, detect::troll::X};\n#[cfg(test)]\nmod tests { use crate::engine; }\n// crate::live\nfn f() { crate::window::close(); }";
    assert_eq!(
        crate_paths(&code(text)),
        [
            ("alert".to_string(), Some("Alert".to_string())),
            ("detect".to_string(), Some("troll".to_string())),
            ("window".to_string(), Some("close".to_string())),
        ]
    );
}

#[test]
fn no_source_file_is_over_600_lines() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).unwrap().lines().count();
            (n > MAX_LINES).then(|| format!("{} ({n} lines)", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these: {long:?}");
}

#[test]
fn documents_speak_only_of_this_repository() {
    let root = root().canonicalize().unwrap();
    let mut docs = vec![root.join("README.md"), root.join("ARCHITECTURE.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            docs.push(path);
        }
    }
    assert!(docs.len() >= 5, "{docs:?}");
    let mut problems = Vec::new();
    for doc in &docs {
        let text = std::fs::read_to_string(doc).unwrap();
        let name = doc.strip_prefix(&root).unwrap().display().to_string();
        let lower = text.to_lowercase();
        for (i, _) in lower.match_indices("issue") {
            let after: String = lower[i + 5..].chars().take(3).collect();
            if after
                .trim_start_matches([' ', '#'])
                .starts_with(|c: char| c.is_ascii_digit())
            {
                problems.push(format!("{name}: names an issue: …{}…", &text[i..i + 9]));
            }
        }
        for outside in ["../shared", "/work/", "/tmp/", "DESIGN.md", "DESIGN §"] {
            if text.contains(outside) {
                problems.push(format!("{name}: points outside the repository ({outside})"));
            }
        }
        // Links and `path/like/this.rs` mentions must name files of the repository.
        let base = doc.parent().unwrap();
        for link in text.split("](").skip(1) {
            let target = link.split([')', '#']).next().unwrap_or("");
            if target.is_empty() || target.contains("://") {
                continue;
            }
            match base.join(target).canonicalize() {
                Ok(found) if found.starts_with(&root) => {}
                Ok(_) => problems.push(format!("{name}: link outside the repository {target}")),
                Err(_) => problems.push(format!("{name}: link to a missing file {target}")),
            }
        }
        for quoted in text.split('`').skip(1).step_by(2) {
            let looks_like_path = [
                "src/",
                "tests/",
                "scripts/",
                "config/",
                "docs/",
                "benches/",
                "examples/",
            ]
            .iter()
            .any(|p| quoted.starts_with(p))
                && !quoted.contains([' ', '*', '{'])
                && quoted.contains('.');
            // `tests/kafka.rs::a_test_name` names a test in a file: the file must exist.
            let file = quoted.split("::").next().unwrap_or(quoted);
            if looks_like_path && !root.join(file).exists() {
                problems.push(format!("{name}: names a missing file {quoted}"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
