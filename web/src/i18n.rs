//! The message catalogue: every interface text, in Fluent files under
//! `web/locales/<lang>/`, embedded in the binary. Russian is the only
//! language today; adding English is adding `locales/en/` and choosing the
//! bundle per user.
//!
//! Error codes from the domain (`inn.checksum`) map to catalogue ids
//! (`error-inn-checksum`), so the domain never carries texts.

use std::collections::HashMap;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use include_dir::{Dir, include_dir};
use unic_langid::langid;

static LOCALES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/locales");

pub struct Catalogue {
    bundle: FluentBundle<FluentResource>,
}

impl std::fmt::Debug for Catalogue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Catalogue")
    }
}

impl Catalogue {
    /// Loads the Russian catalogue; a malformed file is a startup error that
    /// names the file and the problem.
    pub fn russian() -> anyhow::Result<Catalogue> {
        let mut bundle = FluentBundle::new_concurrent(vec![langid!("ru")]);
        // Unicode isolation marks would end up inside HTML attributes and e-mails.
        bundle.set_use_isolating(false);
        let dir = LOCALES
            .get_dir("ru")
            .ok_or_else(|| anyhow::anyhow!("locales/ru is missing"))?;
        let mut files: Vec<_> = dir.files().collect();
        files.sort_by_key(|f| f.path());
        for file in files {
            let text = file
                .contents_utf8()
                .ok_or_else(|| anyhow::anyhow!("{} is not UTF-8", file.path().display()))?;
            let resource = FluentResource::try_new(text.to_string())
                .map_err(|(_, errs)| anyhow::anyhow!("{}: {errs:?}", file.path().display()))?;
            bundle.add_resource(resource).map_err(|errs| {
                anyhow::anyhow!(
                    "{}: duplicate or bad messages: {errs:?}",
                    file.path().display()
                )
            })?;
        }
        Ok(Catalogue { bundle })
    }

    pub fn has(&self, key: &str) -> bool {
        self.bundle.has_message(key)
    }

    /// The text of `key` (or `key.attribute`) with arguments; a missing key
    /// renders as itself so a gap is visible, and is logged.
    pub fn get(&self, key: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        let (id, attr) = match key.split_once('.') {
            Some((id, attr)) => (id, Some(attr)),
            None => (key, None),
        };
        let Some(message) = self.bundle.get_message(id) else {
            tracing::warn!(key, "missing interface text");
            return key.to_string();
        };
        let pattern = match attr {
            Some(a) => message.get_attribute(a).map(|a| a.value()),
            None => message.value(),
        };
        let Some(pattern) = pattern else {
            tracing::warn!(key, "missing interface text");
            return key.to_string();
        };
        let mut fargs = FluentArgs::new();
        for (k, v) in args {
            fargs.set(*k, v.clone());
        }
        let mut errors = Vec::new();
        let text = self
            .bundle
            .format_pattern(pattern, Some(&fargs), &mut errors);
        if !errors.is_empty() {
            tracing::warn!(key, ?errors, "interface text formatted with errors");
        }
        text.into_owned()
    }

    /// The text for a domain error code, e.g. `inn.checksum` → `error-inn-checksum`.
    pub fn error(&self, code: &str) -> String {
        let key = error_key(code);
        if self.has(&key) {
            self.get(&key, &[])
        } else {
            tracing::warn!(code, "no interface text for error code");
            self.get("error-generic", &[])
        }
    }
}

/// The catalogue id of a domain error code.
pub fn error_key(code: &str) -> String {
    format!("error-{}", code.replace(['.', '_'], "-"))
}

impl domain::texts::Texts for Catalogue {
    fn text(&self, key: &str, args: &HashMap<&str, String>) -> String {
        let args: Vec<(&str, FluentValue<'_>)> = args
            .iter()
            .map(|(k, v)| (*k, FluentValue::from(v.as_str())))
            .collect();
        self.get(key, &args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_loads_and_formats() {
        let c = Catalogue::russian().expect("catalogue");
        assert!(c.has("app-name"));
        assert_eq!(error_key("inn.checksum"), "error-inn-checksum");
        assert_eq!(c.get("no-such-key", &[]), "no-such-key");
    }

    #[test]
    fn every_request_status_has_a_text() {
        let c = Catalogue::russian().expect("catalogue");
        for status in domain::intake::requests::STATUSES {
            for key in [
                "request-status",
                "request-client-label",
                "request-client-status",
            ] {
                assert!(c.has(&format!("{key}-{status}")), "{key}-{status}");
            }
        }
    }
}
