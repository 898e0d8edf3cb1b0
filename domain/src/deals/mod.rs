//! Deals: from a request to an accepted offer — matching suppliers and
//! machines, rounds of requests for quotes, suppliers' quotes, our offers to
//! the client, the bookings an accepted offer makes, and suppliers' scores.
//!
//! Offers the others [`matching`], [`rfq`], [`quotes`], [`offers`],
//! [`bookings`] and [`scoring`]. Reads the fleet (machines, availability) and intake
//! (requests) through their modules; nothing below deals reads deals.
//! Registers the RFQ round actions (`rfq.*`) and `offer.expire`.

pub mod bookings;
pub mod matching;
pub mod offers;
pub mod quotes;
pub mod rfq;
pub mod scoring;

use engine::EngineBuilder;

use crate::services::ServicesCell;

/// Registers the deals' workflow actions.
pub(crate) fn register_engine(b: EngineBuilder, cell: ServicesCell) -> EngineBuilder {
    let b = rfq::register_engine(b, cell.clone());
    offers::register_engine(b, cell)
}
