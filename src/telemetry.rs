//! Logs and metrics. Logs are human-readable by default and JSON with
//! `--log-json` (or `PODRYAD_LOG_JSON=1`); the level comes from `RUST_LOG`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

pub fn init_logs(json: bool) {
    let builder = tracing_subscriber::fmt().with_env_filter(log_filter());
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}

fn log_filter() -> EnvFilter {
    EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"))
}

/// The logs of [`init_logs`] (human-readable), plus the layer that counts
/// the statements of counted databases (`podryad bench funnel`): the log
/// filter becomes a per-layer one so that it does not hide sqlx's statement
/// log from the counter.
pub fn init_logs_counting_sql() {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_filter(log_filter()))
        .with(crate::bench::sql_count::layer())
        .try_init();
}

/// The process-wide Prometheus recorder (one per process, shared by every
/// app started in it, as tests do).
pub fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(error = %e, "metrics recorder not installed");
                None
            }
        })
        .clone()
}
