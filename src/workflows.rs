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
        let calendar = dir.join("calendar.yaml");
        let calendars = if calendar.exists() {
            Calendars::load_file(&calendar).map_err(diagnostics)?
        } else {
            Calendars::new()
        };
        let equipment_file = dir.join("catalogue/equipment.yaml");
        let text = std::fs::read_to_string(&equipment_file)
            .with_context(|| format!("cannot read {}", equipment_file.display()))?;
        let equipment =
            EquipmentCatalogue::parse(&equipment_file.display().to_string(), &text, None)
                .map_err(diagnostics)?;
        let request_types =
            RequestTypes::load_dir(&dir.join("request_types"), &equipment).map_err(diagnostics)?;
        // Now that the request types are known, check what categories serve.
        EquipmentCatalogue::parse(
            &equipment_file.display().to_string(),
            &text,
            Some(&request_types.codes()),
        )
        .map_err(diagnostics)?;
        Ok(Catalogues {
            dir,
            calendars,
            equipment,
            request_types,
        })
    }
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
