//! Podryad, assembled: configuration, the application (database, engine,
//! connectors, web server, background workers) and the command line.
//!
//! Tests start the same [`app::RunningApp`] the binary runs, on a port chosen by the
//! system and a fresh database, so what they check is what ships.

pub mod app;
pub mod bench;
pub mod cli;
pub mod config;
pub mod demo;
pub mod migrations;
pub mod startup;
pub mod telemetry;
pub mod test_actions;
pub mod workflows;
