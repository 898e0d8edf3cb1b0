//! The domain by bounded context (DESIGN §1.1): each context is a folder of
//! `domain/src`, and dependencies between contexts point one way. This test
//! reads every `crate::<context>` path (in `use` lines, grouped
//! `use crate::{…}` lines and inline paths) in `domain/src/<context>/**` and
//! fails on a cycle between contexts, and when `access` or `notify` — the
//! base every other context builds on — depend on any other context.
//!
//! Shared, context-free modules at the top of `domain/src` (errors, values,
//! services…) are not contexts and are not followed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The contexts of DESIGN §1.1, those that exist now and those to come.
const CONTEXTS: &[&str] = &[
    "access",
    "accounts",
    "parties",
    "fleet",
    "intake",
    "deals",
    "orders",
    // Document templates and the immutable documents rendered from them:
    // orders, signing and money all issue documents, so it is its own
    // context rather than a part of any of them.
    "paperwork",
    "signing",
    "execution",
    "money",
    "notify",
    // Each staff role's home page: a read model over the others (tasks,
    // requests, offers, RFQ rounds, orders, the outbox) that owns no table,
    // so it sits on top and nothing uses it.
    "workplace",
];
/// Folders of `domain/src` that are shared modules, not contexts.
const SHARED_FOLDERS: &[&str] = &["values"];
/// Contexts that depend on no other.
const BASE: &[&str] = &["access", "notify"];

/// context → (context it uses → a file that uses it).
type Graph = BTreeMap<String, BTreeMap<String, String>>;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The modules a Rust file names through `crate::`: the first segment of
/// every `crate::x…` path and of every item of a `use crate::{…}` group.
/// Comment lines (docs included) are skipped: a doc link is no dependency.
fn crate_modules(text: &str) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = BTreeSet::new();
    let path = regex::Regex::new(r"(?:^|[^\w:])crate::(\w+)").expect("regex");
    for c in path.captures_iter(&code) {
        out.insert(c[1].to_string());
    }
    let group = regex::Regex::new(r"(?s)crate::\{(.*?)\};").expect("regex");
    for c in group.captures_iter(&code) {
        // Top-level items of the group: split on commas outside braces.
        let mut depth = 0;
        let mut item = String::new();
        let mut items = Vec::new();
        for ch in c[1].chars() {
            match ch {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(std::mem::take(&mut item));
                    continue;
                }
                _ => {}
            }
            item.push(ch);
        }
        items.push(item);
        for i in items {
            let first = i.trim().split("::").next().unwrap_or("").trim().to_string();
            if !first.is_empty() && first.chars().all(|c| c.is_alphanumeric() || c == '_') {
                out.insert(first);
            }
        }
    }
    out
}

/// The dependencies between the domain's contexts, read from its sources.
fn graph() -> Graph {
    let mut g = Graph::new();
    for context in folders()
        .into_iter()
        .filter(|f| CONTEXTS.contains(&f.as_str()))
    {
        let mut files = Vec::new();
        rust_files(&src().join(&context), &mut files);
        let uses = g.entry(context.clone()).or_default();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("a source file");
            for m in crate_modules(&text) {
                if m != context && CONTEXTS.contains(&m.as_str()) {
                    uses.entry(m).or_insert_with(|| file.display().to_string());
                }
            }
        }
    }
    g
}

/// The folders of `domain/src`.
fn folders() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(src())
        .expect("domain/src")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    out.sort();
    out
}

/// A cycle of `g`, as the contexts along it (the first repeated at the end).
fn cycle(g: &Graph) -> Option<Vec<String>> {
    fn visit(
        g: &Graph,
        node: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == node) {
            let mut c = path[i..].to_vec();
            c.push(node.to_string());
            return Some(c);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in g.get(node).into_iter().flat_map(|m| m.keys()) {
            if let Some(c) = visit(g, next, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    g.keys()
        .find_map(|start| visit(g, start, &mut Vec::new(), &mut done))
}

fn describe(g: &Graph, cycle: &[String]) -> String {
    cycle
        .windows(2)
        .map(|w| format!("{} → {} (in {})", w[0], w[1], g[&w[0]][&w[1]]))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_folder_of_the_domain_is_a_context_or_a_shared_module() {
    let folders = folders();
    assert!(folders.iter().any(|f| f == "access"), "{folders:?}");
    for f in &folders {
        assert!(
            CONTEXTS.contains(&f.as_str()) || SHARED_FOLDERS.contains(&f.as_str()),
            "domain/src/{f} is neither a context of DESIGN §1.1 nor a shared module: \
             add it to one of the lists in domain/tests/contexts.rs"
        );
    }
}

#[test]
fn contexts_depend_on_each_other_without_a_cycle() {
    let g = graph();
    assert!(
        g.values().map(BTreeMap::len).sum::<usize>() > 0,
        "the reader finds the contexts' dependencies: {g:?}"
    );
    if let Some(c) = cycle(&g) {
        panic!(
            "the contexts depend on each other in a cycle; move the shared piece down \
             into the context both use:\n{}",
            describe(&g, &c)
        );
    }
}

#[test]
fn access_and_notify_depend_on_no_other_context() {
    let g = graph();
    for base in BASE {
        let uses = g.get(*base).cloned().unwrap_or_default();
        assert!(
            uses.is_empty(),
            "`{base}` is a base context but uses {}",
            uses.iter()
                .map(|(c, file)| format!("{c} (in {file})"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

#[test]
fn the_reader_finds_dependencies_and_cycles() {
    let text = "//! Uses [`crate::deals`] in a doc link only.
use crate::access::{Actor, scope};
use crate::{
    accounts::tokens,
    intake::{self, requests::Request},
    args,
};
fn f() { crate::parties::orgs::broker(); pub(crate) fn g() {} }
";
    let found = crate_modules(text);
    let expected: BTreeSet<String> = ["access", "accounts", "intake", "args", "parties"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(found, expected);

    let mut g = Graph::new();
    let edge = |g: &mut Graph, a: &str, b: &str| {
        g.entry(a.into())
            .or_default()
            .insert(b.into(), format!("{a}/mod.rs"));
        g.entry(b.into()).or_default();
    };
    edge(&mut g, "deals", "fleet");
    edge(&mut g, "fleet", "access");
    edge(&mut g, "deals", "access");
    assert_eq!(cycle(&g), None);
    edge(&mut g, "fleet", "deals");
    let c = cycle(&g).expect("a cycle");
    assert_eq!(c.first(), c.last());
    assert!(c.contains(&"deals".to_string()) && c.contains(&"fleet".to_string()));
    assert!(describe(&g, &c).contains("fleet/mod.rs"));
}
