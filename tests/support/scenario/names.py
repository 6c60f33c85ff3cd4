"""Metric names and the query constants that the writer, the oracle and promql() share."""

# Families that the writer writes and whose samples expected() reads.
RESTARTS = "kube_pod_container_status_restarts_total"
UP = "up"
CPU = "container_cpu_usage_seconds_total"
MEMORY = "container_memory_working_set_bytes"
HPA_CURRENT = "kube_horizontalpodautoscaler_status_current_replicas"
HPA_DESIRED = "kube_horizontalpodautoscaler_status_desired_replicas"
UNAVAILABLE = "kube_deployment_status_replicas_unavailable"
GENERATION = "kube_deployment_metadata_generation"
PERIODS = "container_cpu_cfs_periods_total"
THROTTLED = "container_cpu_cfs_throttled_periods_total"
ALERTS = "ALERTS"
HTTP_REQUESTS = "http_requests_total"
HTTP_LATENCY = "http_request_duration_seconds"
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)  # seconds; +Inf is implied
CFS_PERIODS_PER_SECOND = 10  # the default 100 ms CFS period
CPU_RATE_RANGE = 300  # the [5m] of rate() in the CPU queries
CPU_SUBQUERY_STEP = 300  # the :5m of the CPU subqueries
