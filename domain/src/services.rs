//! Everything the brokerage's operations need, assembled once at start:
//! the database, the workflow engine, files, the company registry, the
//! message catalogue and the catalogues analysts edit.

use std::sync::Arc;

use connectors::registry::CompanyRegistry;
use engine::{Db, Engine};

use crate::catalogue::EquipmentCatalogue;
use crate::files::Files;
use crate::notify::SenderWaker;
use crate::request_types::RequestTypes;
use crate::texts::Texts;

#[derive(Clone)]
pub struct Services {
    pub db: Db,
    pub engine: Engine,
    pub files: Files,
    pub registry: Arc<dyn CompanyRegistry>,
    pub texts: Arc<dyn Texts>,
    pub equipment: Arc<EquipmentCatalogue>,
    pub request_types: Arc<RequestTypes>,
    /// The public address, for links in messages.
    pub base_url: String,
    /// Wakes the notification sender after a commit that queued messages.
    pub notifier: Option<SenderWaker>,
}

impl Services {
    /// Call after committing a transaction that queued messages or started
    /// workflow work, so it happens now rather than at the next poll.
    pub fn after_commit(&self) {
        if let Some(w) = &self.notifier {
            w.wake();
        }
        self.engine.wake_workers();
    }
}
