//! Labels of business objects' statuses. A status mirrors a workflow
//! state; the shipped ones have a text in the message catalogue
//! (`request-status-qualification`), and a state an analyst adds in the
//! YAML (`site_survey`) is labelled with its `title:` from there — so a new
//! stage reads «Выезд на объект» at once, with no .ftl edit and no deploy.
//!
//! Templates are rendered synchronously, so the titles are kept here and
//! refreshed from the active workflow versions: when the server starts and
//! whenever an analyst saves or activates a version in the browser.

use std::collections::BTreeMap;
use std::sync::RwLock;

/// Object kinds whose status is shown with a label.
const KINDS: [&str; 1] = ["request"];

#[derive(Debug, Default)]
pub struct StatusLabels {
    /// Object kind → state name → the YAML's title.
    titles: RwLock<BTreeMap<String, BTreeMap<String, String>>>,
}

impl StatusLabels {
    /// The YAML's title of state `code` of a workflow run on `kind`.
    pub fn title(&self, kind: &str, code: &str) -> Option<String> {
        let titles = self.titles.read().unwrap_or_else(|e| e.into_inner());
        titles.get(kind)?.get(code).cloned()
    }

    /// Reads the titles of the active versions again.
    pub async fn refresh(&self, services: &domain::services::Services) {
        let mut fresh = BTreeMap::new();
        for kind in KINDS {
            match domain::workflows::active_state_titles(services, kind).await {
                Ok(t) => {
                    fresh.insert(kind.to_string(), t);
                }
                Err(e) => {
                    // The old labels stay: a page still shows a status.
                    tracing::warn!(kind, error = %e, "cannot read the workflows' state titles");
                    return;
                }
            }
        }
        *self.titles.write().unwrap_or_else(|e| e.into_inner()) = fresh;
    }
}
