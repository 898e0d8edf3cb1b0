//! The brokerage, composed for the workflow engine: each context registers
//! its own objects, actions and context providers; this only puts them
//! together.

use engine::{Db, Engine, EngineBuilder};

use crate::services::ServicesCell;
use crate::{access, deals, fleet, intake, notify, orders, parties, signing};

/// An engine builder with everything the brokerage registers.
pub fn engine_builder(db: Db, cell: ServicesCell) -> EngineBuilder {
    let mut b = access::register_engine(Engine::builder(db));
    b = parties::register_engine(b, cell.clone());
    b = intake::register_engine(b, cell.clone());
    b = fleet::register_engine(b, cell.clone());
    b = deals::register_engine(b, cell.clone());
    b = orders::register_engine(b, cell.clone());
    b = signing::register_engine(b, cell.clone());
    notify::register_engine(b, cell)
}
