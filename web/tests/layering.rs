//! The web layer talks to the domain only (`web → domain → engine`): the
//! rules of who may see a task or an instance, and what a workflow's
//! refusal means to a person, live in the domain (`domain::workflows`). This
//! test fails when `web` depends on the engine again, names an `engine::`
//! path, reaches for the services' engine handle, or makes a `SystemActor`
//! (a page acts for a signed-in person, never for the system).

use std::path::{Path, PathBuf};

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Where `word` occurs in `line` as a whole identifier (not as the tail of
/// `my_engine` or the head of `engine_builder`).
fn has_word(line: &str, word: &str, then: &str) -> bool {
    line.match_indices(word).any(|(i, _)| {
        let before = line[..i].chars().next_back();
        let after = &line[i + word.len()..];
        !before.is_some_and(is_ident_char)
            && after.starts_with(then)
            && (!then.is_empty() || !after.chars().next().is_some_and(is_ident_char))
    })
}

/// What is wrong with one line of web's Rust source, if anything.
fn problem(line: &str) -> Option<&'static str> {
    if has_word(line, "engine", "::") {
        Some("an `engine::` path")
    } else if line.trim_start().starts_with("use engine") || line.contains("extern crate engine") {
        Some("a `use` of the engine crate")
    } else if line.match_indices(".engine").any(|(i, _)| {
        !line[i + ".engine".len()..]
            .chars()
            .next()
            .is_some_and(is_ident_char)
    }) {
        Some("the services' engine handle")
    } else if has_word(line, "SystemActor", "") {
        Some("a SystemActor")
    } else {
        None
    }
}

/// The dependency names of every `[…dependencies…]` table of a manifest.
fn dependencies(manifest: &str) -> Vec<(usize, String)> {
    let mut in_deps = false;
    let mut out = Vec::new();
    for (n, line) in manifest.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('[') {
            // `[dependencies]`, `[dev-dependencies]`, `[target.'…'.dependencies]`
            // list dependencies; `[dependencies.engine]` is a table of one,
            // whose lines are its settings.
            let header = line.trim_matches(|c| c == '[' || c == ']');
            match header.split_once("dependencies.") {
                Some((_, name)) => {
                    out.push((n + 1, name.trim().to_string()));
                    in_deps = false;
                }
                None => in_deps = header.ends_with("dependencies"),
            }
            continue;
        }
        if in_deps
            && !line.starts_with('#')
            && let Some(key) = line.split(['=', '.']).next().map(str::trim)
            && !key.is_empty()
        {
            out.push((n + 1, key.trim_matches('"').to_string()));
        }
    }
    out
}

#[test]
fn web_does_not_depend_on_the_engine() {
    let manifest_path = Path::new(MANIFEST).join("Cargo.toml");
    let manifest = std::fs::read_to_string(&manifest_path).expect("web/Cargo.toml");
    let deps = dependencies(&manifest);
    assert!(
        deps.iter().any(|(_, d)| d == "domain"),
        "the manifest parser finds web's dependencies: {deps:?}"
    );
    let engine: Vec<_> = deps.iter().filter(|(_, d)| d == "engine").collect();
    assert!(
        engine.is_empty(),
        "web/Cargo.toml depends on the engine (line {:?}): go through `domain`",
        engine.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
}

#[test]
fn web_source_names_no_engine_path_and_no_system_actor() {
    let mut files = Vec::new();
    rust_files(&Path::new(MANIFEST).join("src"), &mut files);
    assert!(files.len() > 10, "web's sources are found: {files:?}");
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a source file");
        for (n, line) in text.lines().enumerate() {
            if let Some(what) = problem(line) {
                found.push(format!(
                    "{}:{}: {what}: {}",
                    file.display(),
                    n + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "web must reach the engine through `domain::workflows`:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_checks_recognise_what_they_look_for() {
    for bad in [
        "use engine::queries::Graph;",
        "    let e = engine::EngineError::Conflict(1);",
        "use engine;",
        "    state.services.engine.claim(id, &me).await?;",
        "    let engine = &s.engine;",
        "    let system = domain::access::SystemActor::new();",
    ] {
        assert!(problem(bad).is_some(), "{bad}");
    }
    for fine in [
        "use domain::workflows::Graph;",
        "    let b = domain::engine_builder(db, cell);",
        "    // The engine reports times as RFC 3339 text.",
        "    let my_engine::x = 1;",
        "    s.engines_of(id)",
    ] {
        assert!(problem(fine).is_none(), "{fine}");
    }
    let deps = dependencies(
        "[package]\nname = \"web\"\n\n[dependencies]\nengine.workspace = true\ndomain = { path = \"../domain\" }\n\n[dev-dependencies.engine]\npath = \"../engine\"\n",
    );
    let names: Vec<&str> = deps.iter().map(|(_, d)| d.as_str()).collect();
    assert_eq!(names, ["engine", "domain", "engine"]);
}
