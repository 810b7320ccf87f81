/// Every metric journeyd exports, with the help text the exposition gives it (`# HELP`). The one
/// list to extend when a metric is added; docs/METRICS.md describes the same set for operators.
public enum MetricCatalog {
    public static let help: [String: String] = [
        "journeyd_events_received_total": "Events taken from an input, by source.",
        "journeyd_events_rejected_total": "Events refused and quarantined, by source and reason category.",
        "journeyd_events_duplicate_total": "Events ignored as duplicates (same messageId in the same source), by source.",
        "journeyd_touches_total": "Touches produced, by journey, step and channel.",
        "journeyd_policy_outcomes_total": "Policy decisions on touches (capped, deferred, suppressed, late-skipped), by journey.",
        "journeyd_enrollments_total": "Enrollments entered, exited and converted, by journey.",
        "journeyd_enrollments_active": "Enrollments running, by journey.",
        "journeyd_deliveries_total": "Delivery attempts, by channel and outcome.",
        "journeyd_delivery_duration_seconds": "Duration of a delivery attempt, by channel.",
        "journeyd_channel_breaker_state": "A channel's circuit breaker: 0 closed, 1 half-open, 2 open, 3 disabled (bad credentials, configuration).",
        "journeyd_outbox_touches": "Touches in the outbox, by state.",
        "journeyd_timers_pending": "Timers waiting to fire.",
        "journeyd_users_in_memory": "Users held in memory.",
        "journeyd_intake_queue_events": "Events waiting for the processor (the queue that applies back-pressure).",
        "journeyd_http_queued_events": "Events posted over HTTP and not yet taken by the processor; full means 429.",
        "journeyd_http_requests_total": "Tracking API requests answered, by endpoint and status code.",
        "journeyd_batch_duration_seconds": "Time from a batch's arrival until it is durable in the event log.",
        "journeyd_log_sync_duration_seconds": "Duration of an event log group commit (write and fdatasync).",
        "journeyd_checkpoint_duration_seconds": "Duration of a checkpoint.",
        "journeyd_log_sequence": "The last record appended to the event log.",
        "journeyd_log_durable_sequence": "The last record of the event log known durable.",
        "journeyd_reloads_total": "Rule reloads, by result (ok or refused).",
        "journeyd_rules_info": "The live rule set's content hash (1 for the live version).",
        "journeyd_cluster_partitions_owned": "Cluster mode: the partitions this instance owns (processes) now.",
        "journeyd_cluster_stale_records_skipped_total": "Cluster mode: records a stale owner (paused past its lease) appended after the partition was taken over, skipped.",
        "journeyd_cluster_partition_stalls_total": "Cluster mode: owned partitions found stalled (behind their subject's end without progress) and let go.",
        "journeyd_cluster_partition_stop_hung_total": "Cluster mode: partitions whose graceful stop did not end within its bound (cancelled).",
        "journeyd_rules_loaded_timestamp_seconds": "When the live rule set was loaded (Unix time): the last successful reload.",
    ]
}
