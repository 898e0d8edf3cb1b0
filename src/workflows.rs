//! The analysts' files: workflow definitions, the working calendar and the
//! catalogues under `workflows/`. They are read from the configured folder
//! (`PODRYAD_WORKFLOWS_DIR`, default `./workflows`); a binary started
//! elsewhere falls back to the copy embedded at build time, so it never
//! starts without its funnels.

use std::path::{Path, PathBuf};

use anyhow::Context;
use domain::fleet::catalogue::EquipmentCatalogue;
use domain::intake::request_types::RequestTypes;
use engine::calendar::Calendars;
use include_dir::{Dir, include_dir};

static EMBEDDED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/workflows");

/// Everything loaded from the workflows folder, checked.
pub struct Catalogues {
    /// The folder the definitions are loaded from.
    pub dir: PathBuf,
    pub calendars: Calendars,
    pub equipment: EquipmentCatalogue,
    pub request_types: RequestTypes,
}

impl Catalogues {
    pub fn load(configured: &Path) -> anyhow::Result<Catalogues> {
        let dir = if configured.is_dir() {
            configured.to_path_buf()
        } else {
            let dir =
                std::env::temp_dir().join(format!("podryad-workflows-{}", std::process::id()));
            // `extract` writes into an existing folder only.
            std::fs::create_dir_all(&dir)
                .and_then(|()| EMBEDDED.extract(&dir))
                .with_context(|| {
                    format!("cannot unpack the built-in workflows to {}", dir.display())
                })?;
            tracing::warn!(
                configured = %configured.display(),
                using = %dir.display(),
                "workflows folder not found; using the built-in copy"
            );
            dir
        };
        // A broken file is refused and its problems logged, but the server
        // starts: the calendar and the equipment catalogue fall back to the
        // copies built into the binary (the last good ones shipped), and a
        // broken request type is left out while the others work.
        let calendar = dir.join("calendar.yaml");
        let calendars = if calendar.exists() {
            match Calendars::load_file(&calendar) {
                Ok(c) => c,
                Err(d) => {
                    refuse(&d, "the built-in calendar is used");
                    builtin_calendars()?
                }
            }
        } else {
            Calendars::new()
        };
        let equipment_file = dir.join("catalogue/equipment.yaml");
        let equipment_name = equipment_file.display().to_string();
        let text = std::fs::read_to_string(&equipment_file)
            .with_context(|| format!("cannot read {}", equipment_file.display()))?;
        let equipment = match EquipmentCatalogue::parse(&equipment_name, &text, None) {
            Ok(e) => Some(e),
            Err(d) => {
                refuse(&d, "the built-in equipment catalogue is used");
                None
            }
        };
        let equipment = match equipment {
            Some(e) => e,
            None => EquipmentCatalogue::builtin().map_err(diagnostics)?,
        };
        let (request_types, refused) =
            RequestTypes::load_dir_keeping_good(&dir.join("request_types"), &equipment)
                .map_err(diagnostics)?;
        if !refused.is_empty() {
            refuse(&refused, "these request types are left out");
        }
        // Now that the request types are known, check what categories serve.
        if let Err(d) =
            EquipmentCatalogue::parse(&equipment_name, &text, Some(&request_types.codes()))
        {
            refuse(&d, "categories name request types that are not loaded");
        }
        Ok(Catalogues {
            dir,
            calendars,
            equipment,
            request_types,
        })
    }
}

/// The kinds of analysts' file, each with its own checker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Workflow,
    Calendar,
    RequestType,
    Equipment,
}

/// Where a file lives says what it is: `request_types/*.yaml` are request
/// types, `catalogue/*.yaml` the equipment catalogue, `calendar.yaml` the
/// working calendar, everything else a workflow.
fn kind_of(path: &Path) -> FileKind {
    let parent = path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str());
    if path.file_name().is_some_and(|n| n == "calendar.yaml") {
        FileKind::Calendar
    } else if parent == Some("request_types") {
        FileKind::RequestType
    } else if parent == Some("catalogue") {
        FileKind::Equipment
    } else {
        FileKind::Workflow
    }
}

/// The YAML files under `paths` (folders are walked, files kept as given).
fn expand(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .map(|r| r.filter_map(|e| e.ok().map(|e| e.path())).collect())
                .unwrap_or_default();
            entries.sort();
            let (dirs, files): (Vec<_>, Vec<_>) = entries.into_iter().partition(|e| e.is_dir());
            out.extend(
                files
                    .into_iter()
                    .filter(|f| f.extension().is_some_and(|x| x == "yaml" || x == "yml")),
            );
            out.extend(expand(&dirs));
        } else {
            out.push(p.clone());
        }
    }
    out
}

/// Checks every analysts' file under `paths` with the checker of its kind
/// and returns all problems in one pass (`podryad workflows check`).
/// Request types are checked against the catalogue beside them (or the
/// built-in one when that is missing or broken).
pub fn check(paths: &[PathBuf], vocab: &engine::Vocabulary) -> Vec<engine::Diagnostic> {
    let files = expand(paths);
    let mut out = Vec::new();
    let workflows: Vec<&PathBuf> = files
        .iter()
        .filter(|f| matches!(kind_of(f), FileKind::Workflow | FileKind::Calendar))
        .collect();
    if !workflows.is_empty() {
        out.extend(engine::check_files(&workflows, vocab));
    }
    let read = |f: &Path, out: &mut Vec<engine::Diagnostic>| match std::fs::read_to_string(f) {
        Ok(t) => Some(t),
        Err(e) => {
            out.push(engine::Diagnostic::new(
                &f.display().to_string(),
                engine::Pos::default(),
                format!("не удалось прочитать файл: {e}"),
            ));
            None
        }
    };
    for f in files.iter().filter(|f| kind_of(f) == FileKind::Equipment) {
        if let Some(text) = read(f, &mut out)
            && let Err(d) = EquipmentCatalogue::parse(&f.display().to_string(), &text, None)
        {
            out.extend(d);
        }
    }
    let mut codes: std::collections::BTreeMap<String, String> = Default::default();
    for f in files.iter().filter(|f| kind_of(f) == FileKind::RequestType) {
        let beside = f
            .parent()
            .and_then(|d| d.parent())
            .map(|d| d.join("catalogue/equipment.yaml"));
        let catalogue = beside
            .filter(|c| c.is_file())
            .and_then(|c| {
                let text = std::fs::read_to_string(&c).ok()?;
                EquipmentCatalogue::parse(&c.display().to_string(), &text, None).ok()
            })
            .or_else(|| EquipmentCatalogue::builtin().ok());
        let Some(catalogue) = catalogue else { continue };
        let Some(text) = read(f, &mut out) else {
            continue;
        };
        let name = f.display().to_string();
        match domain::intake::request_types::RequestType::parse(&name, &text, &catalogue) {
            Ok(t) => {
                if let Some(other) = codes.insert(t.code.clone(), name.clone()) {
                    out.push(engine::Diagnostic::new(
                        &name,
                        engine::Pos::new(1, 1),
                        format!("код «{}» уже занят файлом {other}", t.code),
                    ));
                }
            }
            Err(d) => out.extend(d),
        }
    }
    out
}

/// Logs a refused file's problems, one line each, as the checker prints them.
fn refuse(d: &[engine::Diagnostic], consequence: &str) {
    for problem in d {
        tracing::error!(%problem, consequence, "analysts' file refused");
    }
}

/// The calendar built into the binary, used when the folder's is broken.
fn builtin_calendars() -> anyhow::Result<Calendars> {
    let text = EMBEDDED
        .get_file("calendar.yaml")
        .and_then(|f| f.contents_utf8())
        .ok_or_else(|| anyhow::anyhow!("the built-in calendar is missing"))?;
    Calendars::parse(text, "calendar.yaml (built-in)").map_err(diagnostics)
}

fn diagnostics(d: Vec<engine::Diagnostic>) -> anyhow::Error {
    anyhow::anyhow!("{}", engine::Diagnostics(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binary started outside the source tree (no `workflows/` beside it)
    /// runs on the copy built into it.
    #[test]
    fn without_a_workflows_folder_the_built_in_copy_is_used() {
        let c = Catalogues::load(Path::new("/nonexistent/podryad/workflows")).expect("built-in");
        assert!(c.request_types.get("cargo").is_some());
        assert!(c.dir.join("catalogue/equipment.yaml").is_file());
        let _ = std::fs::remove_dir_all(&c.dir);
    }
}
