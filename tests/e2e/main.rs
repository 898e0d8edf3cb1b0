//! End-to-end tests: the real application, started in-process on a free
//! port with a fresh database, driven over HTTP like a browser or an API
//! client would. The suite runs on SQLite by default and on PostgreSQL when
//! `PODRYAD_TEST_DATABASE` is a `postgres://` admin URL (see `scripts/test`).

mod helpers;

mod addresses;
mod analysts;
mod board;
mod bookings;
mod client_proof;
mod cost;
mod duplicates;
mod edo;
mod foundation;
mod garage;
mod guard;
mod imports;
mod intake;
mod money;
mod orders;
mod parties;
mod problems;
mod quotes;
mod rfq_control;
mod security;
mod signing;
mod templates;
mod volume;
mod words;
mod workflows;
mod workplaces;
