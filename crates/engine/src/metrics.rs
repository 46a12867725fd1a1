//! The engine's metrics, in Prometheus' OpenMetrics text format.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// How a refresh ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum RefreshResult {
    /// New tokens stored.
    Ok,
    /// Someone else had just refreshed; their tokens were used.
    Reused,
    /// A transient failure; retry scheduled.
    TransientError,
    /// The provider refused the grant; `needs_reauth`.
    NeedsReauth,
    /// Another failure.
    Failed,
    /// New tokens were obtained but could not be stored.
    Unsaved,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

/// Counters and histograms of the token lifecycle.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    refreshes: Family<ResultLabel, Counter>,
    lag: Histogram,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::default();
        let refreshes = Family::<ResultLabel, Counter>::default();
        registry.register(
            "flowvault_token_refresh",
            "Token refreshes by result",
            refreshes.clone(),
        );
        let lag = Histogram::new([0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0]);
        registry.register(
            "flowvault_token_refresh_lag_seconds",
            "How long after its scheduled time a refresh started",
            lag.clone(),
        );
        Self { registry, refreshes, lag }
    }

    pub(crate) fn refresh(&self, result: RefreshResult) {
        let result = match result {
            RefreshResult::Ok => "ok",
            RefreshResult::Reused => "reused",
            RefreshResult::TransientError => "transient_error",
            RefreshResult::NeedsReauth => "needs_reauth",
            RefreshResult::Failed => "failed",
            RefreshResult::Unsaved => "unsaved",
        };
        self.refreshes.get_or_create(&ResultLabel { result }).inc();
    }

    pub(crate) fn lag(&self, seconds: f64) {
        self.lag.observe(seconds);
    }

    /// The metrics as OpenMetrics text.
    pub(crate) fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// How many refreshes ended with `result` (for tests and benchmarks).
    pub(crate) fn count(&self, result: &'static str) -> u64 {
        self.refreshes.get_or_create(&ResultLabel { result }).get()
    }
}
