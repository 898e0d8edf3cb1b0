//! The analysts' guide to `object.*`: which fields each kind of business
//! object offers to expressions and task titles. Written from the context
//! providers' own field lists (the ones the checker enforces), with each
//! field's meaning from the message catalogue (`object-field-<kind>-<field>`),
//! so the page, `podryad workflows fields` and the table in
//! workflows/README.md cannot drift from the code (a test compares them).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::i18n::Catalogue;

/// One object kind and its fields.
#[derive(Debug, Clone, Serialize)]
pub struct KindFields {
    pub kind: String,
    /// The kind in words («заявка»).
    pub title: String,
    /// (field, meaning)
    pub fields: Vec<(String, String)>,
}

/// The guide's content for `fields` (kind → field names).
pub fn object_fields(fields: &BTreeMap<String, Vec<String>>, texts: &Catalogue) -> Vec<KindFields> {
    fields
        .iter()
        .map(|(kind, names)| KindFields {
            kind: kind.clone(),
            title: texts.get(&format!("object-kind-{kind}"), &[]),
            fields: names
                .iter()
                .map(|f| {
                    (
                        f.clone(),
                        texts.get(&format!("object-field-{kind}-{}", f.replace('_', "-")), &[]),
                    )
                })
                .collect(),
        })
        .collect()
}

/// The same as a Markdown table, as workflows/README.md carries it between
/// its `object-fields` markers.
pub fn markdown(kinds: &[KindFields]) -> String {
    let mut out = String::from("| объект | поле | что в нём |\n|---|---|---|\n");
    for k in kinds {
        for (f, meaning) in &k.fields {
            out.push_str(&format!(
                "| `{}` ({}) | `object.{f}` | {meaning} |\n",
                k.kind, k.title
            ));
        }
    }
    out
}

/// The message ids the guide needs for `fields`, for the test that every
/// declared field is explained.
pub fn text_ids(fields: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let mut ids = Vec::new();
    for (kind, names) in fields {
        ids.push(format!("object-kind-{kind}"));
        for f in names {
            ids.push(format!("object-field-{kind}-{}", f.replace('_', "-")));
        }
    }
    ids
}
