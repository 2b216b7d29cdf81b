//! Prometheus metrics (text format at `GET /metrics`). Labels never carry tenant ids,
//! secrets or payloads. Queue figures are read from the database at scrape time, so they
//! describe the whole deployment; counters describe this process.

use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub webhook_requests: IntCounterVec,
    pub webhook_duration: Histogram,
    pub signature_failures: IntCounter,
    pub executions: IntCounterVec,
    pub queue_depth: IntGauge,
    pub oldest_queued_seconds: Gauge,
    pub workers_running: IntGauge,
    pub target_lookups: IntCounterVec,
    pub commit_size: Histogram,
    pub runtime_requests: IntCounterVec,
    pub runtime_request_duration: HistogramVec,
    pub notifications: IntCounterVec,
    pub request_log: IntCounterVec,
    pub rows_pruned: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let webhook_requests = IntCounterVec::new(
            Opts::new(
                "webhook_requests_total",
                "Webhook requests answered, by HTTP status",
            ),
            &["status"],
        )
        .expect("valid metric");
        let webhook_duration = Histogram::with_opts(
            HistogramOpts::new(
                "webhook_request_duration_seconds",
                "Time to answer a webhook request",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
        )
        .expect("valid metric");
        let signature_failures = IntCounter::new(
            "webhook_signature_failures_total",
            "Webhook requests refused for a missing, malformed, wrong or expired signature",
        )
        .expect("valid metric");
        let executions = IntCounterVec::new(
            Opts::new(
                "executions_total",
                "Executions queued by this process, and finished by its workers, by status",
            ),
            &["status"],
        )
        .expect("valid metric");
        let queue_depth = IntGauge::new("execution_queue_depth", "Executions waiting to run")
            .expect("valid metric");
        let oldest_queued_seconds = Gauge::new(
            "execution_oldest_queued_seconds",
            "Age of the oldest execution still waiting to run (0 when none)",
        )
        .expect("valid metric");
        let workers_running =
            IntGauge::new("workers_running", "Execution workers alive in this process")
                .expect("valid metric");
        let target_lookups = IntCounterVec::new(
            Opts::new(
                "webhook_target_lookups_total",
                "Agents looked up for a webhook, by where they were found (cache or database)",
            ),
            &["source"],
        )
        .expect("valid metric");
        let commit_size = Histogram::with_opts(
            HistogramOpts::new(
                "execution_commit_size",
                "Accepted webhooks recorded per commit (group commit)",
            )
            .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]),
        )
        .expect("valid metric");
        let runtime_requests = IntCounterVec::new(
            Opts::new(
                "runtime_requests_total",
                "Requests of the http and openai runtimes, by kind and outcome (success, \
                 client_error, server_error, rate_limited, timeout, connection_error, refused, \
                 invalid_answer)",
            ),
            &["kind", "outcome"],
        )
        .expect("valid metric");
        let runtime_request_duration = HistogramVec::new(
            HistogramOpts::new(
                "runtime_request_duration_seconds",
                "Time for a runtime request to get its answer (or fail)",
            )
            .buckets(vec![
                0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
            ]),
            &["kind"],
        )
        .expect("valid metric");
        let notifications = IntCounterVec::new(
            Opts::new(
                "notifications_total",
                "Notification deliveries, by event and outcome (delivered, retrying, failed)",
            ),
            &["event", "outcome"],
        )
        .expect("valid metric");
        let request_log = IntCounterVec::new(
            Opts::new(
                "request_log_entries_total",
                "Request log entries, by fate: written, dropped (the buffer was full) or \
                 failed (the database refused the batch)",
            ),
            &["fate"],
        )
        .expect("valid metric");
        let rows_pruned = IntCounterVec::new(
            Opts::new(
                "rows_pruned_total",
                "Rows deleted past their retention by this process's pruning passes, by table",
            ),
            &["table"],
        )
        .expect("valid metric");
        for collector in [
            Box::new(webhook_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(webhook_duration.clone()),
            Box::new(signature_failures.clone()),
            Box::new(executions.clone()),
            Box::new(queue_depth.clone()),
            Box::new(oldest_queued_seconds.clone()),
            Box::new(workers_running.clone()),
            Box::new(target_lookups.clone()),
            Box::new(commit_size.clone()),
            Box::new(runtime_requests.clone()),
            Box::new(runtime_request_duration.clone()),
            Box::new(notifications.clone()),
            Box::new(request_log.clone()),
            Box::new(rows_pruned.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        Self {
            registry,
            webhook_requests,
            webhook_duration,
            signature_failures,
            executions,
            queue_depth,
            oldest_queued_seconds,
            workers_running,
            target_lookups,
            commit_size,
            runtime_requests,
            runtime_request_duration,
            notifications,
            request_log,
            rows_pruned,
        }
    }

    pub fn execution(&self, status: &str) {
        self.executions.with_label_values(&[status]).inc();
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("encoding to memory cannot fail");
        String::from_utf8(buffer).expect("the text format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
