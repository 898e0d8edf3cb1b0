//! Browser tests: the real pages in headless Chromium (Debian's `chromium`
//! and `chromium-driver`), driven over WebDriver. `scripts/test` installs
//! them when missing. Without them these tests fail with a clear message,
//! unless `PODRYAD_SKIP_BROWSER=1` says to skip them on purpose.

mod driver;

mod board;
mod foundation;
mod garage;
mod intake;
mod parties;
mod quotes;
mod workflows;
mod workplaces;
