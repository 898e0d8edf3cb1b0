//! Benchmarks run from the command line (`podryad bench …`), outside the
//! domain's production code.

pub mod documents;
pub mod matching;
