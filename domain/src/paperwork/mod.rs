//! Paperwork: the documents the brokerage issues — which template version
//! renders them, and the rendered documents themselves.
//!
//! Owns the tables `document_templates` (versions of the Typst templates
//! analysts edit: draft → active, one active per key) and
//! `rendered_documents` (immutable rendered PDFs with their number, template
//! version, SHA-256 and the data they were made from; the bytes are in the
//! file store). Rendering itself is the `documents` crate's; this context
//! decides which template version is used and keeps what was issued.
//!
//! Offers the others:
//! - [`templates`]: the active version of a template with fallback to the
//!   built-in one ([`templates::active`]), saving a checked draft
//!   ([`templates::save_draft`], refused with positions when it does not
//!   compile against its samples), activation, versions, preview;
//! - [`issued`]: render with the active template and store a new version
//!   of a document for an owner object (an order's leg), and read them back
//!   for the party the document is for (or staff);
//! - [`data`]: amounts as templates print them (figures, words, VAT).
//!
//! The orders context builds the data for its documents and decides when
//! they are issued; it reaches these tables only through these functions.

pub mod data;
pub mod issued;
pub mod templates;

/// Runs a render (CPU-bound, synchronous) on a blocking thread.
pub(crate) async fn render_blocking(
    template: documents::Template,
    data: serde_json::Value,
) -> anyhow::Result<Result<documents::Rendered, documents::RenderError>> {
    Ok(tokio::task::spawn_blocking(move || documents::render(&template, &data)).await?)
}
