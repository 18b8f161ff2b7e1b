//! Prometheus metrics of the operator; every label value comes from a fixed set, never from error text.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::reason::Reason;

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The registry could not be encoded as text.
    #[error("encoding metrics failed: {0}")]
    EncodeFailed(std::fmt::Error),
}

/// A `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Labels naming a mapped kind (`group/Kind`, from the mapping file).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct KindLabels {
    /// The custom resource kind, `group/Kind`.
    pub(crate) kind: String,
}

/// Labels naming a kind and a failure [`Reason`].
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ReasonLabels {
    /// The custom resource kind.
    pub(crate) kind: String,
    /// [`Reason::as_str`]: `InvalidSpec`, `RenderFailed`, `PolicyViolation`, `ApplyFailed`, …
    pub(crate) reason: String,
}

/// Labels naming a kind and an API verb.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct VerbLabels {
    /// The custom resource kind.
    pub(crate) kind: String,
    /// `apply`, `delete`, `status` or `event`.
    pub(crate) verb: String,
}

/// Labels naming a kind and a result.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ResultLabels {
    /// The custom resource kind.
    pub(crate) kind: String,
    /// `success` or `failure`.
    pub(crate) result: String,
}

type HistogramFamily = Family<KindLabels, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// The operator's metrics and the registry that exposes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Reconciles run, by kind.
    pub(crate) reconciles: Family<KindLabels, Counter>,
    /// Failed reconciles, by kind and reason.
    pub(crate) reconcile_errors: Family<ReasonLabels, Counter>,
    /// Reconcile duration in seconds, by kind.
    pub(crate) reconcile_duration: HistogramFamily,
    /// Objects written by server-side apply, by kind of owner.
    pub(crate) objects_applied: Family<KindLabels, Counter>,
    /// Objects deleted by prune, by kind of owner.
    pub(crate) objects_pruned: Family<KindLabels, Counter>,
    /// Write requests sent, by kind and verb.
    pub(crate) api_writes: Family<VerbLabels, Counter>,
    /// Chart (re)loads, by kind and result.
    pub(crate) chart_loads: Family<ResultLabels, Counter>,
    /// 1 while a kind serves an older chart because the newest one is broken.
    pub(crate) chart_stale: Family<KindLabels, Gauge>,
    /// 1 while a kind's controller runs.
    pub(crate) kind_served: Family<KindLabels, Gauge>,
    /// Custom resources whose last reconcile failed and that wait for a retry, by kind.
    pub(crate) backing_off: Family<KindLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates the metrics and registers them under the `tera_operator` prefix.
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("tera_operator");
        let reconciles = Family::<KindLabels, Counter>::default();
        let reconcile_errors = Family::<ReasonLabels, Counter>::default();
        let reconcile_duration: HistogramFamily =
            Family::new_with_constructor(duration_histogram as fn() -> Histogram);
        let objects_applied = Family::<KindLabels, Counter>::default();
        let objects_pruned = Family::<KindLabels, Counter>::default();
        let api_writes = Family::<VerbLabels, Counter>::default();
        let chart_loads = Family::<ResultLabels, Counter>::default();
        let chart_stale = Family::<KindLabels, Gauge>::default();
        let kind_served = Family::<KindLabels, Gauge>::default();
        let backing_off = Family::<KindLabels, Gauge>::default();
        registry.register("reconciles", "Reconciles run", reconciles.clone());
        registry.register(
            "reconcile_errors",
            "Reconciles that failed, by reason",
            reconcile_errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time spent in one reconcile",
            reconcile_duration.clone(),
        );
        registry.register(
            "objects_applied",
            "Objects written by server-side apply",
            objects_applied.clone(),
        );
        registry.register(
            "objects_pruned",
            "Objects deleted because the chart no longer renders them",
            objects_pruned.clone(),
        );
        registry.register(
            "api_writes",
            "Write requests sent to the API server",
            api_writes.clone(),
        );
        registry.register(
            "chart_loads",
            "Chart loads and reloads, by result",
            chart_loads.clone(),
        );
        registry.register(
            "chart_stale",
            "1 while the newest chart is broken and the last good one is serving",
            chart_stale.clone(),
        );
        registry.register(
            "kind_served",
            "1 while the controller of a mapped kind runs",
            kind_served.clone(),
        );
        registry.register(
            "backing_off",
            "Custom resources whose last reconcile failed, waiting for a retry",
            backing_off.clone(),
        );
        Self {
            registry,
            reconciles,
            reconcile_errors,
            reconcile_duration,
            objects_applied,
            objects_pruned,
            api_writes,
            chart_loads,
            chart_stale,
            kind_served,
            backing_off,
        }
    }

    /// Sets how many resources of `kind` are in failure backoff.
    pub(crate) fn set_backing_off(&self, kind: &str, count: usize) {
        self.backing_off
            .get_or_create(&KindLabels { kind: kind.into() })
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// How many resources of `kind` are in failure backoff.
    pub fn backing_off_count(&self, kind: &str) -> i64 {
        self.backing_off
            .get(&KindLabels { kind: kind.into() })
            .map_or(0, |g| g.get())
    }

    /// Records whether a kind's controller runs.
    pub(crate) fn set_served(&self, kind: &str, served: bool) {
        self.kind_served
            .get_or_create(&KindLabels { kind: kind.into() })
            .set(i64::from(served));
    }

    /// Whether a kind's controller runs.
    pub fn is_served(&self, kind: &str) -> bool {
        self.kind_served
            .get(&KindLabels { kind: kind.into() })
            .is_some_and(|g| g.get() == 1)
    }

    /// Counts one reconcile of `kind`.
    pub(crate) fn reconciled(&self, kind: &str, seconds: f64) {
        let labels = KindLabels { kind: kind.into() };
        self.reconciles.get_or_create(&labels).inc();
        self.reconcile_duration
            .get_or_create(&labels)
            .observe(seconds);
    }

    /// Counts one failed reconcile.
    pub(crate) fn failed(&self, kind: &str, reason: Reason) {
        self.reconcile_errors
            .get_or_create(&ReasonLabels {
                kind: kind.into(),
                reason: reason.as_str().into(),
            })
            .inc();
    }

    /// Counts one write request.
    pub(crate) fn wrote(&self, kind: &str, verb: &'static str) {
        self.api_writes
            .get_or_create(&VerbLabels {
                kind: kind.into(),
                verb: verb.into(),
            })
            .inc();
    }

    /// Counts one chart load and sets the stale gauge.
    pub(crate) fn chart_loaded(&self, kind: &str, ok: bool) {
        self.chart_loads
            .get_or_create(&ResultLabels {
                kind: kind.into(),
                result: if ok { "success" } else { "failure" }.into(),
            })
            .inc();
        self.chart_stale
            .get_or_create(&KindLabels { kind: kind.into() })
            .set(i64::from(!ok));
    }

    /// Total reconciles of `kind` so far.
    pub fn reconcile_count(&self, kind: &str) -> u64 {
        self.reconciles
            .get(&KindLabels { kind: kind.into() })
            .map_or(0, |c| c.get())
    }

    /// The registry in the Prometheus text format.
    pub fn encode(&self) -> Result<String> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .map_err(Error::EncodeFailed)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_show_up_in_text_output() {
        let m = Metrics::new();
        m.reconciled("web.tera-operator.io/WebServer", 0.01);
        m.failed("web.tera-operator.io/WebServer", Reason::InvalidSpec);
        m.chart_loaded("web.tera-operator.io/WebServer", false);
        let text = m.encode().unwrap_or_default();
        assert!(
            text.contains(
                "tera_operator_reconciles_total{kind=\"web.tera-operator.io/WebServer\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("reason=\"InvalidSpec\""), "{text}");
        assert!(
            text.contains("tera_operator_chart_stale{kind=\"web.tera-operator.io/WebServer\"} 1"),
            "{text}"
        );
        assert_eq!(m.reconcile_count("web.tera-operator.io/WebServer"), 1);
    }
}
