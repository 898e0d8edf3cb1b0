//! Fleet: suppliers' garages — machines with their typed specifications,
//! documents and their expiry, photos, the calendar of busy days, bulk
//! imports from spreadsheets, and the equipment catalogue analysts edit.
//!
//! Offers the others [`garage`] (machines, the one availability rule, what
//! matching and quotes read), [`imports`] and [`catalogue`]. Registers the
//! `machine_document` object and its expiry watch (`machine_document.warn`).

pub mod catalogue;
pub mod garage;
pub mod imports;

use engine::EngineBuilder;

use crate::services::ServicesCell;

/// Registers the fleet's objects and actions.
pub(crate) fn register_engine(b: EngineBuilder, cell: ServicesCell) -> EngineBuilder {
    garage::register_engine(b.object_kind("machine_document"), cell)
}
