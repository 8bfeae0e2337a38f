"""The stream worker's Prometheus metrics."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter(
    "fillstream_stream_events_total",
    "Events consumed by the stream worker, by topic and outcome.",
    ["topic", "outcome"],
)
TRADES = Counter(
    "fillstream_stream_trades_closed_total", "Trades closed (TradeClosed events emitted)."
)
SNAPSHOTS = Counter(
    "fillstream_stream_performance_snapshots_total",
    "Performance snapshots emitted (one per window of each scope a new trade counts in).",
)
DERIVER_RESTARTS = Counter(
    "fillstream_stream_deriver_restarts_total",
    "Transactions of a derivation stage that failed, so it restarted from its last commit.",
    ["stage"],
)
BATCH_RECORDS = Histogram(
    "fillstream_stream_batch_records",
    "Records consumed per transaction, by stage.",
    ["stage"],
    buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 2000),
)
PROCESS_SECONDS = Histogram(
    "fillstream_stream_batch_process_seconds",
    "Time a stage spends deriving one batch (before producing), by stage.",
    ["stage"],
)
COMMIT_SECONDS = Histogram(
    "fillstream_stream_transaction_commit_seconds",
    "Time from producing a batch's records to its transaction committed, by stage.",
    ["stage"],
)
RESTORED = Counter(
    "fillstream_stream_restored_records_total",
    "Changelog records a stage read back on assignment, by stage and where from: the local "
    "state store or the changelog topic.",
    ["stage", "source"],
)
IMPORTED_DIFFERENCES = Counter(
    "fillstream_stream_imported_differences_total",
    "Imported trades (Trades exports) covered by a trade derived from executions that differs "
    "from them, by field (entry_price, exit_price, net_pnl).",
    ["field"],
)
DEAD_LETTERS = Counter(
    "fillstream_stream_dead_letters_total",
    "Events sent to the dead-letter topic, by reason.",
    ["reason"],
)
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
LATENCY = Histogram(
    "fillstream_stream_ingest_to_derived_seconds",
    "From the bridge recording an execution to its derived trades being acknowledged by Kafka.",
    buckets=_LATENCY_BUCKETS,
)
EVENT_LATENCY = Histogram(
    "fillstream_stream_event_to_derived_seconds",
    "From a trade's exit (its closing execution's ts_event) to its TradeClosed, measured as "
    "fillstream_stream_ingest_to_derived_seconds is. Executions NinjaTrader sends late (after a "
    "reconnect) add their delay, and imported history lands in the top buckets: for the "
    "pipeline's own latency, watch the ingest histogram.",
    buckets=(*_LATENCY_BUCKETS, 3600, 86400),
)
HELD = Gauge(
    "fillstream_stream_held_executions",
    "Executions matching has read but not applied: in the grace window or waiting for market "
    "context.",
    multiprocess_mode="livesum",
)
RECOVERY_REMAINING = Gauge(
    "fillstream_stream_recovery_remaining_records",
    "Changelog records a stage has yet to read back before it derives again: of the partition "
    "it restores now, by stage (0 when it restores none).",
    ["stage"],
    multiprocess_mode="livesum",
)
