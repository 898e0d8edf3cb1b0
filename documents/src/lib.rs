//! Printable documents: framework contracts and work orders, typeset with
//! Typst in-process and exported to PDF.
//!
//! A [`Template`] is Typst markup that reads its data from the virtual file
//! `data.json` (`#let d = json("data.json")`), so strings from the data stay
//! literal text: a client's name cannot inject markup. Templates may import
//! the shared module `common.typ` (page style, parties' details, signature
//! blocks, amounts). Nothing else is reachable: no file system, no network,
//! no packages (see [`world`]). Fonts (PT Serif, with Cyrillic and ₽) are
//! embedded in the binary and parsed once ([`fonts`]).
//!
//! [`render`] compiles a template with data into a PDF and its SHA-256;
//! [`check`] compiles a template against sample data and returns its
//! problems as [`Diagnostic`]s with `file:line:column`. The built-in
//! templates, each with sample data that documents its shape, are in
//! [`builtin`]; versions edited by analysts are stored by the domain
//! (`domain::paperwork`), which falls back to the built-in ones.
//!
//! This crate knows nothing of orders or parties: the caller builds the data
//! (amounts already formatted and spelled out), and the same data always
//! gives the same bytes (the PDF carries no creation time), so a stored
//! document's SHA-256 can be re-verified.
//!
//! Compiling is synchronous and CPU-bound: async callers run it on a
//! blocking thread. Typst memoises work between compilations in a global
//! cache; [`render`] evicts entries unused for a while after each run, so a
//! long-running server does not grow without bound.

use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};
use typst::WorldExt;
use typst::diag::{Severity as TypstSeverity, SourceDiagnostic};
use typst::foundations::Smart;
use typst::syntax::{DiagSpanKind, Lines};
use typst_layout::PagedDocument;

pub mod builtin;
pub mod fonts;
mod world;

use world::DocWorld;
pub use world::{COMMON_FILE, DATA_FILE};

/// One version of a template: its key (`work_order_client`), version number
/// (0 for the built-in one) and Typst source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Template {
    pub key: String,
    pub version: i64,
    pub source: String,
}

impl Template {
    pub fn new(key: impl Into<String>, version: i64, source: impl Into<String>) -> Template {
        Template {
            key: key.into(),
            version,
            source: source.into(),
        }
    }

    /// The file name diagnostics name: `work_order_client.typ`.
    pub fn file_name(&self) -> String {
        format!("{}.typ", self.key)
    }
}

/// A rendered document.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub pdf: Vec<u8>,
    /// Lower-case hex SHA-256 of `pdf`.
    pub sha256: String,
    pub pages: usize,
    /// Problems that did not stop the render (Typst's warnings).
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

/// A problem in a template, at a position.
///
/// `line` and `column` are 1-based (0 when Typst could not place the
/// problem); the column counts characters, as editors do. `message` and
/// `hints` are Typst's own (English) words; the web layer wraps them in a
/// Russian sentence from its catalogue ("шаблон …, строка …, столбец …").
/// `Display` is `file:line:column: message`, the form terminals and editors
/// understand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The template's key.
    pub template: String,
    /// The file the problem is in: the template, `common.typ` or `data.json`.
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub severity: Severity,
    pub message: String,
    pub hints: Vec<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "",
            Severity::Warning => "warning: ",
        };
        write!(
            f,
            "{}:{}:{}: {level}{}",
            self.file, self.line, self.column, self.message
        )?;
        for hint in &self.hints {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

/// Why a document was not rendered.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RenderError {
    /// The key is not a valid template key (see [`valid_key`]).
    #[error("bad template key {0:?}")]
    BadKey(String),
    /// The data could not be serialised.
    #[error("data: {0}")]
    Data(String),
    /// The template does not compile with this data.
    #[error("{}", join(.0))]
    Template(Vec<Diagnostic>),
}

fn join(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(Diagnostic::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl RenderError {
    /// The problems with positions, or none for a bad key or data.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            RenderError::Template(d) => d,
            _ => &[],
        }
    }
}

/// Template keys are lower-case Latin letters, digits and `_`, starting with
/// a letter, at most 64 long; `common` and `data` are taken by the shared
/// files.
pub fn valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some('a'..='z'))
        && key.len() <= 64
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && key != "common"
        && key != "data"
}

/// How many compilations a memoised result may go unused before Typst's
/// cache drops it. Small enough to bound a server's memory, large enough
/// that the templates in daily use stay warm.
const CACHE_MAX_AGE: usize = 64;

/// Renders `template` with `data` into a PDF.
pub fn render(template: &Template, data: &serde_json::Value) -> Result<Rendered, RenderError> {
    render_with(template, data, Vec::new())
}

/// Renders `template` with `data` and binary `attachments` the template
/// reads by path (`image("/original.pdf", page: 1)`): how a signed copy
/// embeds the pages of the original PDF before its signature page.
pub fn render_with(
    template: &Template,
    data: &serde_json::Value,
    attachments: Vec<(String, Vec<u8>)>,
) -> Result<Rendered, RenderError> {
    if !valid_key(&template.key) {
        return Err(RenderError::BadKey(template.key.clone()));
    }
    let bytes = serde_json::to_vec(data).map_err(|e| RenderError::Data(e.to_string()))?;
    let mut world = DocWorld::new(&template.file_name(), &template.source, bytes);
    for (path, content) in attachments {
        world.attach(&path, content);
    }
    let result = compile(&world, template);
    typst::comemo::evict(CACHE_MAX_AGE);
    result
}

/// A QR code of `text` as an SVG image (black modules on white, with the
/// quiet zone), for a template to draw with `image(bytes(svg))`.
pub fn qr_svg(text: &str) -> Result<String, RenderError> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| RenderError::Data(e.to_string()))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(160, 160)
        .build())
}

fn compile(world: &DocWorld, template: &Template) -> Result<Rendered, RenderError> {
    let warned = typst::compile::<PagedDocument>(world);
    let warnings = convert(world, template, &warned.warnings);
    let document = warned
        .output
        .map_err(|errors| RenderError::Template(convert(world, template, &errors)))?;
    let options = typst_pdf::PdfOptions {
        // A stable identifier per template, so the same data gives the same
        // bytes (and the same SHA-256).
        ident: Smart::Custom(format!("podryad/{}/{}", template.key, template.version)),
        creator: Smart::Custom(Some("Podryad".into())),
        ..Default::default()
    };
    let pdf = typst_pdf::pdf(&document, &options)
        .map_err(|errors| RenderError::Template(convert(world, template, &errors)))?;
    let sha256 = hex::encode(Sha256::digest(&pdf));
    Ok(Rendered {
        pages: document.pages().len(),
        pdf,
        sha256,
        warnings,
    })
}

/// Drops everything Typst has memoised, so the next render of each
/// template is cold again (fonts stay parsed). For benchmarks.
pub fn clear_cache() {
    typst::comemo::evict(0);
}

/// Compiles `template` against `sample` and returns its problems (errors and
/// warnings); empty when it renders cleanly.
pub fn check(template: &Template, sample: &serde_json::Value) -> Vec<Diagnostic> {
    match render(template, sample) {
        Ok(rendered) => rendered.warnings,
        Err(RenderError::Template(mut diagnostics)) => {
            diagnostics.sort_by_key(|d| d.severity != Severity::Error);
            diagnostics
        }
        Err(e @ (RenderError::BadKey(_) | RenderError::Data(_))) => vec![Diagnostic {
            template: template.key.clone(),
            file: template.file_name(),
            line: 0,
            column: 0,
            severity: Severity::Error,
            message: e.to_string(),
            hints: Vec::new(),
        }],
    }
}

fn convert(world: &DocWorld, template: &Template, diags: &[SourceDiagnostic]) -> Vec<Diagnostic> {
    diags
        .iter()
        .map(|d| {
            let (file, line, column) = locate(world, template, d.span);
            let mut hints: Vec<String> = d.hints.iter().map(|h| h.v.to_string()).collect();
            // A problem inside common.typ is easier to fix knowing which line
            // of the template led there.
            for point in &d.trace {
                let (f, l, c) = locate(world, template, point.span.into());
                if l > 0 && f != file {
                    hints.push(format!("{} at {f}:{l}:{c}", point.v));
                }
            }
            Diagnostic {
                template: template.key.clone(),
                file,
                line,
                column,
                severity: match d.severity {
                    TypstSeverity::Error => Severity::Error,
                    TypstSeverity::Warning => Severity::Warning,
                },
                message: d.message.to_string(),
                hints,
            }
        })
        .collect()
}

/// File name, 1-based line and column of a span; 0:0 in the template when it
/// points nowhere.
fn locate(
    world: &DocWorld,
    template: &Template,
    span: typst::syntax::DiagSpan,
) -> (String, u32, u32) {
    let nowhere = (template.file_name(), 0, 0);
    let id = match span.get() {
        DiagSpanKind::Detached => return nowhere,
        DiagSpanKind::Number { id, .. } | DiagSpanKind::Range { id, .. } => id,
    };
    let Some(range) = world.range(span) else {
        return nowhere;
    };
    let (file, lines) = if id == world.main_source().id() {
        (template.file_name(), world.main_source().lines().clone())
    } else if id == DocWorld::common().id() {
        (COMMON_FILE.to_string(), DocWorld::common().lines().clone())
    } else if id == DocWorld::data_id() {
        match typst::World::file(world, id)
            .ok()
            .and_then(|b| std::str::from_utf8(&b).ok().map(str::to_string))
        {
            Some(text) => (DATA_FILE.to_string(), Lines::new(text)),
            None => return nowhere,
        }
    } else {
        return nowhere;
    };
    match lines.byte_to_line_column(range.start) {
        Some((line, column)) => (file, line as u32 + 1, column as u32 + 1),
        None => (file, 0, 0),
    }
}

#[cfg(test)]
mod tests;
