//! Everything the brokerage's operations need, assembled once at start:
//! the database, the workflow engine, files, the company registry, the
//! geocoder, the
//! message catalogue and the catalogues analysts edit.

use std::sync::{Arc, OnceLock};

use connectors::EdoOperators;
use connectors::geo::Geocoder;
use connectors::registry::CompanyRegistry;
use engine::{ActionContext, ActionError, Db, Engine};
use serde_json::Value;

use crate::files::Files;
use crate::fleet::catalogue::EquipmentCatalogue;
use crate::intake::request_types::RequestTypes;
use crate::notify::SenderWaker;
use crate::texts::Texts;

#[derive(Clone)]
pub struct Services {
    pub db: Db,
    pub engine: Engine,
    pub files: Files,
    pub registry: Arc<dyn CompanyRegistry>,
    /// Address suggestions and coordinates (`connectors::geo::NoGeocoder`
    /// when none is configured).
    pub geocoder: Arc<dyn Geocoder>,
    pub texts: Arc<dyn Texts>,
    pub equipment: Arc<EquipmentCatalogue>,
    pub request_types: Arc<RequestTypes>,
    /// The public address, for links in messages.
    pub base_url: String,
    /// Wakes the notification sender after a commit that queued messages.
    pub notifier: Option<SenderWaker>,
    /// The configured EDO operators (none: only the built-in signature).
    pub edo: EdoOperators,
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

/// The services, filled in once they exist (they contain the engine, and
/// the engine's actions need them).
pub type ServicesCell = Arc<OnceLock<Services>>;

/// The services for a workflow action; a retry while the application is
/// still starting.
pub(crate) fn ready(cell: &ServicesCell) -> Result<&Services, ActionError> {
    cell.get()
        .ok_or_else(|| ActionError::Retry("the application is still starting".into()))
}

/// A non-empty text parameter of a workflow action.
pub(crate) fn text_param<'a>(ctx: &'a ActionContext, name: &str) -> Option<&'a str> {
    ctx.params
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The future a [`LocalFn`] returns.
pub(crate) type LocalFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ActionError>> + Send + 'a>>;

/// The body of a local workflow action: it writes on the step's connection
/// only (never `s.db.begin()`, never the read pool for rows the step wrote).
pub(crate) type LocalFn =
    for<'a> fn(&'a Services, &'a mut sqlx::AnyConnection, &'a ActionContext) -> LocalFuture<'a>;

/// A local action handler from a [`LocalFn`], with the services it needs.
pub(crate) fn local(cell: &ServicesCell, f: LocalFn) -> Arc<dyn engine::LocalActionHandler> {
    Arc::new(Local {
        cell: cell.clone(),
        f,
    })
}

struct Local {
    cell: ServicesCell,
    f: LocalFn,
}

#[engine::async_trait]
impl engine::LocalActionHandler for Local {
    async fn run(
        &self,
        conn: &mut sqlx::AnyConnection,
        ctx: ActionContext,
    ) -> Result<(), ActionError> {
        let s = ready(&self.cell)?;
        (self.f)(s, conn, &ctx).await
    }
}
