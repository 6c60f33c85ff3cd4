"""PromQL builders: one function per figure, with every user value escaped.

Queries aggregate on the server and return at most one row per container, so a report costs the
same fixed number of queries whatever the cluster's size. Range selectors span the whole window
and are evaluated at the window's end, which is passed as the query's `time`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# RE2 metacharacters; label values become literal alternatives of a `=~` matcher.
_RE2_SPECIAL = set(r"\.+*?()|[]{}^$")

# A standalone cAdvisor writes a container's pod as `container_label_io_kubernetes_pod_name`;
# scraped without honorLabels, its series take the cAdvisor pod's own namespace, pod and container
# labels and would count every container on the node as cAdvisor's. The kubelet's never have it.
_CONTAINERS = 'container!="",container!="POD",container_label_io_kubernetes_pod_name=""'
_BY_CONTAINER = "namespace, pod, container"
_CPU_OR_MEMORY = 'resource=~"cpu|memory"'


def escape_string(value: str) -> str:
    """A PromQL double-quoted string literal's body."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_regex(value: str) -> str:
    return "".join(f"\\{char}" if char in _RE2_SPECIAL else char for char in value)


def duration(seconds: int) -> str:
    return f"{seconds}s"


@dataclass(frozen=True)
class Scope:
    """The label matchers that restrict every query to the schedule's scope."""

    namespaces: tuple[str, ...]

    def matchers(self, *extra: str) -> str:
        alternatives = "|".join(escape_regex(ns) for ns in sorted(set(self.namespaces)))
        parts = [f'namespace=~"{escape_string(alternatives)}"', *extra]
        return "{" + ",".join(parts) + "}"


def label_matcher(label: str, values: Iterable[str]) -> str:
    alternatives = "|".join(escape_regex(v) for v in sorted(set(values)))
    return f'{label}=~"{escape_string(alternatives)}"'


# Containers and init containers (native sidecars among them) share one namespace of names in a
# pod, so their series are read together and told apart by nothing.
_RESTART_COUNTERS = (
    '__name__=~"kube_pod_container_status_restarts_total'
    '|kube_pod_init_container_status_restarts_total"'
)
_LAST_TERMINATED = (
    '__name__=~"kube_pod_container_status_last_terminated_reason'
    '|kube_pod_init_container_status_last_terminated_reason"'
)
# kube-state-metrics writes a pod's `uid` on its series: a pod deleted and recreated under the
# same name (a StatefulSet's, an evicted one) is another pod whose restarts add up.
_BY_POD_INSTANCE = f"{_BY_CONTAINER}, uid"


def _milliseconds(value: int) -> str:
    return duration(value // 1000) if value % 1000 == 0 else f"{value}ms"


def _counter_delta(selector: str, by: str, length_ms: int, offset_ms: int = 0) -> str:
    """How much a monotonic counter grew in the range of `length_ms` ending `offset_ms` before
    the evaluation time: its highest value in the range less its value at the range's start.

    Grouping `by` first merges what scrapes duplicate: two kube-state-metrics replicas (the same
    value under two `instance` labels) and a restarted one (a new `instance` that goes on with
    the value the old one had). `increase` per series would count either twice or once per
    stretch. No extrapolation either, so the count is exact on every engine. A series born in
    the range has no value at its start: its first value there stands in, given a second.
    """
    offset = f" offset {_milliseconds(offset_ms)}" if offset_ms else ""
    span = f"[{_milliseconds(length_ms)}]{offset}"
    at_start = f" offset {_milliseconds(offset_ms + length_ms)}"
    highest = f"max by ({by}) (max_over_time({selector}{span}))"
    before = f"max by ({by}) ({selector}{at_start})"
    # One sample tells no growth: a series needs two, as `increase` does.
    first = (
        f"max by ({by}) (min_over_time({selector}{span}) and count_over_time({selector}{span}) > 1)"
    )
    return f"{highest} - ({before} or {first})"


def restarts(scope: Scope, window_seconds: int) -> str:
    """Restarts per container in the window, its pods of every `uid` added up."""
    counters = scope.matchers(_RESTART_COUNTERS)
    delta = _counter_delta(counters, _BY_POD_INSTANCE, window_seconds * 1000)
    return f"sum by ({_BY_CONTAINER}) ({delta})"


def last_terminated_reason(scope: Scope, window_seconds: int) -> str:
    """When each reason was last current, so the newest one per container can be chosen."""
    selector = scope.matchers(_LAST_TERMINATED)
    return (
        f"max by ({_BY_CONTAINER}, reason) (last_over_time("
        f"timestamp({selector} == 1)[{duration(window_seconds)}:300s]))"
    )


def availability_successful(scope: Scope, window_seconds: int) -> str:
    return f"sum(sum_over_time(up{scope.matchers()}[{duration(window_seconds)}]))"


def availability_total(scope: Scope, window_seconds: int) -> str:
    return f"sum(count_over_time(up{scope.matchers()}[{duration(window_seconds)}]))"


# cAdvisor's series carry the cgroup's `id`; the kubelet's /metrics/resource endpoint writes the
# same names without it. Where both are scraped, cAdvisor's answer is taken and the other dropped
# (`or`): added up, usage would count twice.
_CADVISOR = 'id!=""'
_RESOURCE_ENDPOINT = 'id=""'


def _cpu_rate(scope: Scope) -> str:
    """The CPU used per container in the 5 minutes before each point, per second.

    cAdvisor: a restarted container gets a new cgroup `id` and so a new series: sum the
    instances. Two jobs scraping one cgroup (the kubelet's and another's) share the `id`: `max
    by id` drops the duplicate. The resource endpoint has one series per container, restarts
    being counter resets, so `max` alone merges duplicate scrapes.
    """
    name = "container_cpu_usage_seconds_total"
    # increase / 300 rather than rate: the same on Prometheus, but VictoriaMetrics' rate divides
    # by the span of a series' own samples, so a container's two cgroups around a restart would
    # both count at full speed for that point.
    cadvisor = f"increase({name}{scope.matchers(_CONTAINERS, _CADVISOR)}[5m]) / 300"
    endpoint = f"increase({name}{scope.matchers(_CONTAINERS, _RESOURCE_ENDPOINT)}[5m]) / 300"
    return (
        f"sum by ({_BY_CONTAINER}) (max by ({_BY_CONTAINER}, id) ({cadvisor}))"
        f" or max by ({_BY_CONTAINER}) ({endpoint})"
    )


def cpu_usage(scope: Scope, window_seconds: int, statistic: str) -> str:
    """`statistic` is avg, max or p95 of the 5-minute CPU rate, sampled every 5 minutes.

    The subquery spans a second less than the window, so its points are the window's own
    (start, end] on every engine: Prometheus 2 would add one at the start, measuring the five
    minutes before the window, where Prometheus 3 and VictoriaMetrics leave it out.
    """
    subquery = f"({_cpu_rate(scope)})[{duration(window_seconds - 1)}:300s]"
    if statistic == "p95":
        inner = f"quantile_over_time(0.95, {subquery})"
    elif statistic in ("avg", "max"):
        inner = f"{statistic}_over_time({subquery})"
    else:
        raise ValueError(f"unknown statistic {statistic!r}")
    return inner


def memory_usage(scope: Scope, window_seconds: int, statistic: str) -> str:
    if statistic not in ("avg", "max"):
        raise ValueError(f"unknown statistic {statistic!r}")
    span = duration(window_seconds)
    figures = []
    for source in (_CADVISOR, _RESOURCE_ENDPOINT):
        selector = f"container_memory_working_set_bytes{scope.matchers(_CONTAINERS, source)}"
        if statistic == "max":
            figures.append(f"max by ({_BY_CONTAINER}) (max_over_time({selector}[{span}]))")
        else:
            # The mean of every sample of every instance; duplicate jobs scale both sums alike.
            figures.append(
                f"sum by ({_BY_CONTAINER}) (sum_over_time({selector}[{span}]))"
                f" / sum by ({_BY_CONTAINER}) (count_over_time({selector}[{span}]))"
            )
    return " or ".join(f"({figure})" for figure in figures)


def resource_quantity(scope: Scope, window_seconds: int, kind: str) -> str:
    """Requests or limits per container and resource, of pods live (Pending or Running) at some
    time in the window: a Completed or Failed pod's reservation is not compared with usage.

    A pod's requests and limits do not change while it lives, so the largest value of a pod
    live in the window is its value while live. Range selectors rather than a subquery of the
    join: about 5x cheaper for Prometheus (2 s against 11 s at 5,000 pods).
    """
    if kind not in ("requests", "limits"):
        raise ValueError(f"unknown kind {kind!r}")
    span = duration(window_seconds)
    live_phase = scope.matchers('phase=~"Pending|Running"')
    live = (
        f"max by (namespace, pod) (max_over_time(kube_pod_status_phase{live_phase}[{span}])) == 1"
    )
    # An init container's request counts as a container's: a native sidecar runs beside the
    # others, and a plain init container runs first, with its own reservation.
    names = (
        f'__name__=~"kube_pod_container_resource_{kind}|kube_pod_init_container_resource_{kind}"'
    )
    quantity = scope.matchers(names, _CPU_OR_MEMORY)
    return (
        f"max by ({_BY_CONTAINER}, resource) (max_over_time({quantity}[{span}]))"
        f" * on (namespace, pod) group_left () ({live})"
    )


_HPA = "kube_horizontalpodautoscaler"
_BY_HPA = "namespace, horizontalpodautoscaler"


def hpa_rescales(scope: Scope, window_seconds: int, step: int) -> str:
    """How often current replicas changed in the window: the points of a subquery every `step`
    inside (start, end] whose count differs from the one a step before; 0 for an autoscaler that
    never rescaled.

    The series are merged first (`max by`), so a restarted kube-state-metrics (a new `instance`)
    does not split the window. A comparison rather than `changes`: VictoriaMetrics' `changes`
    counts a series' first sample as a change, so an autoscaler created in the window would gain
    one; here a point with nothing a step before compares with nothing.
    """
    series = f"{_HPA}_status_current_replicas{scope.matchers()}"
    now = f"max by ({_BY_HPA}) ({series})"
    before = f"max by ({_BY_HPA}) ({series} offset {duration(step)})"
    span = f"{duration(window_seconds - 1)}:{step}s"
    # `and` drops a point with nothing a step before: VictoriaMetrics compares a missing point as
    # unequal (a kube-state-metrics restart's gap would count as a rescale).
    differs = f"({now} != on ({_BY_HPA}) {before}) and on ({_BY_HPA}) {before}"
    changed = f"count_over_time(({differs})[{span}])"
    seen = f"0 * max by ({_BY_HPA}) (max_over_time({series}[{duration(window_seconds)}]))"
    return f"{changed} or {seen}"


def hpa_replicas(scope: Scope, window_seconds: int, which: str) -> str:
    """`peak` current replicas, or the `min`/`max` bounds last set in the window."""
    span = duration(window_seconds)
    if which == "peak":
        series = f"{_HPA}_status_current_replicas{scope.matchers()}"
        return f"max by ({_BY_HPA}) (max_over_time({series}[{span}]))"
    if which in ("min", "max"):
        series = f"{_HPA}_spec_{which}_replicas{scope.matchers()}"
        return f"max by ({_BY_HPA}) (last_over_time({series}[{span}]))"
    raise ValueError(f"unknown replica figure {which!r}")


# ------------------------------------------------------------------ steps of history queries

# Prometheus refuses range queries of more than 11,000 points per series.
_MAX_POINTS = 11_000
_STEPS = (60, 120, 300, 600, 900, 1800, 3600, 7200)


def history_step(window_seconds: int) -> int:
    """The step of range queries and counting subqueries: a minute for a day, coarser for longer.

    Steps divide an hour or a day, so they stay aligned with windows that start on the minute.
    """
    for step in _STEPS:
        if window_seconds // step <= _MAX_POINTS:
            return step
    return _STEPS[-1]


def _seconds_where(condition: str, window_seconds: int, step: int) -> str:
    """Seconds in [start, end) when `condition` held, sampled every `step`.

    A subquery evaluates at the multiples of `step` in [start, end]; `offset 1s` moves that to
    [start, end), so each step stands for the `step` seconds after it, as a range query's points
    do.
    """
    return f"{step} * count_over_time(({condition})[{duration(window_seconds)}:{step}s] offset 1s)"


# ------------------------------------------------------------------ trends (previous window)


def availability_ratio(scope: Scope, window_seconds: int) -> str:
    return (
        f"{availability_successful(scope, window_seconds)}"
        f" / {availability_total(scope, window_seconds)}"
    )


def restarts_total(scope: Scope, window_seconds: int) -> str:
    # Nothing (not 0) when there is no restart counter at all: then nothing was measured.
    return f"sum({restarts(scope, window_seconds)})"


def hpa_rescales_total(scope: Scope, window_seconds: int, step: int) -> str:
    return f"sum({hpa_rescales(scope, window_seconds, step)})"


# ------------------------------------------------------------------ HPA history


def _hpa_series(suffix: str, scope: Scope) -> str:
    return f"max by ({_BY_HPA}) ({_HPA}_{suffix}{scope.matchers()})"


def hpa_seconds_at_max(scope: Scope, window_seconds: int, step: int) -> str:
    """Time with current replicas at the maximum, for HPAs whose maximum is above the minimum."""
    current = _hpa_series("status_current_replicas", scope)
    maximum = _hpa_series("spec_max_replicas", scope)
    minimum = _hpa_series("spec_min_replicas", scope)
    condition = (
        f"{current} >= on ({_BY_HPA}) {maximum}"
        f" and on ({_BY_HPA}) ({maximum} > on ({_BY_HPA}) {minimum})"
    )
    return f"max by ({_BY_HPA}) ({_seconds_where(condition, window_seconds, step)})"


def hpa_seconds_not_at_desired(scope: Scope, window_seconds: int, step: int) -> str:
    """Time the HPA wanted another replica count than it had (scaling limited or pods late)."""
    current = _hpa_series("status_current_replicas", scope)
    desired = _hpa_series("status_desired_replicas", scope)
    condition = f"{desired} != on ({_BY_HPA}) {current}"
    return f"max by ({_BY_HPA}) ({_seconds_where(condition, window_seconds, step)})"


# ------------------------------------------------------------------ Deployments

_BY_DEPLOYMENT = "namespace, deployment"


def deployment_max_unavailable(scope: Scope, window_seconds: int) -> str:
    series = f"kube_deployment_status_replicas_unavailable{scope.matchers()}"
    return f"max by ({_BY_DEPLOYMENT}) (max_over_time({series}[{duration(window_seconds)}]))"


def deployment_seconds_unavailable(scope: Scope, window_seconds: int, step: int) -> str:
    series = f"kube_deployment_status_replicas_unavailable{scope.matchers()}"
    condition = f"max by ({_BY_DEPLOYMENT}) ({series}) > 0"
    return f"max by ({_BY_DEPLOYMENT}) ({_seconds_where(condition, window_seconds, step)})"


def deployment_spec_changes(scope: Scope, window_seconds: int) -> str:
    """How often the Deployment's spec changed (rollouts, and rescales, which edit replicas):
    the growth of its generation, which only grows."""
    series = f"kube_deployment_metadata_generation{scope.matchers()}"
    return _counter_delta(series, _BY_DEPLOYMENT, window_seconds * 1000)


# ------------------------------------------------------------------ CPU throttling


def cpu_throttling(scope: Scope, window_seconds: int, counter: str) -> str:
    """CFS periods (`periods`) or throttled periods (`throttled`) per container in the window.

    Like CPU usage: each restart is a new cgroup `id` (summed), and a kubelet and a cAdvisor job
    scraping the same cgroup are one (`max by id`).
    """
    names = {
        "periods": "container_cpu_cfs_periods_total",
        "throttled": "container_cpu_cfs_throttled_periods_total",
    }
    if counter not in names:
        raise ValueError(f"unknown counter {counter!r}")
    series = f"{names[counter]}{scope.matchers(_CONTAINERS)}"
    return (
        f"sum by ({_BY_CONTAINER}) (max by ({_BY_CONTAINER}, id) "
        f"(increase({series}[{duration(window_seconds)}])))"
    )


# ------------------------------------------------------------------ incidents and alerts


def down_targets(scope: Scope, step: int) -> str:
    """A range query: targets none of whose scrapes in the step before each point succeeded.

    A range selector (not an instant one) so a target that vanished is not seen for the 5 minutes
    of Prometheus' lookback; `step - 1` seconds so each sample counts in one step only.
    """
    return (
        "max by (namespace, job, pod, instance) "
        f"(max_over_time(up{scope.matchers()}[{step - 1}s])) == 0"
    )


_FIRING = 'alertstate="firing"'


def firing_alerts(scope: Scope, step: int) -> str:
    """A range query: alerts with a firing sample in the step before each point."""
    series = f"ALERTS{scope.matchers(_FIRING)}"
    return f"max by (alertname, severity, namespace) (max_over_time({series}[{step - 1}s]))"


# ------------------------------------------------------------------ traffic


def label_equals(selector: dict[str, str]) -> tuple[str, ...]:
    """`label="value"` matchers with every value escaped: a value can never end its literal."""
    return tuple(f'{name}="{escape_string(value)}"' for name, value in sorted(selector.items()))


def latency_quantiles(
    scope: Scope, window_seconds: int, histogram: str, selector: dict[str, str]
) -> str:
    """p50, p95 and p99 over the whole window, one query: a `quantile` label tells them apart."""
    buckets = f"{histogram}_bucket{scope.matchers(*label_equals(selector))}"
    counts = f"sum by (le) (increase({buckets}[{duration(window_seconds)}]))"
    return " or ".join(
        f'label_replace(histogram_quantile({q}, {counts}), "quantile", "{q}", "", "")'
        for q in ("0.5", "0.95", "0.99")
    )


def requests_total(
    scope: Scope, window_seconds: int, counter: str, selector: dict[str, str]
) -> str:
    series = f"{counter}{scope.matchers(*label_equals(selector))}"
    return f"sum(increase({series}[{duration(window_seconds)}]))"


_SERVER_ERROR = 'code=~"5.."'
_HAS_CODE = 'code!=""'


def requests_failed(
    scope: Scope, window_seconds: int, counter: str, selector: dict[str, str]
) -> str:
    """5xx responses; 0 when the counter has `code` labels but no 5xx, nothing without codes."""
    span = duration(window_seconds)
    matchers = label_equals(selector)
    errors = f"{counter}{scope.matchers(*matchers, _SERVER_ERROR)}"
    coded = f"{counter}{scope.matchers(*matchers, _HAS_CODE)}"
    return f"sum(increase({errors}[{span}])) or 0 * sum(increase({coded}[{span}]))"


# ------------------------------------------------------------------ user PromQL

WINDOW_VARIABLE = "$__window"


def substitute_window(query: str, window_seconds: int) -> str:
    return query.replace(WINDOW_VARIABLE, duration(window_seconds))


def owners(scope: Scope, window_seconds: int) -> str:
    """Pod -> owner, ReplicaSet -> owner and Job -> owner in one query, each row labelled
    `figure` with its kind.

    The metric tells the rows apart, not the labels present: behind `honorLabels`,
    kube-prometheus-stack's kube-state-metrics target adds its own `pod` label to every series
    that has none, `kube_replicaset_owner` included.
    """
    span = duration(window_seconds)

    def owner_of(metric: str, by: str) -> str:
        series = f"{metric}{scope.matchers()}"
        return f"max by ({by}, owner_kind, owner_name) (max_over_time({series}[{span}]))"

    return labelled(
        {
            "pod": owner_of("kube_pod_owner", "namespace, pod"),
            "replicaset": owner_of("kube_replicaset_owner", "namespace, replicaset"),
            "job": owner_of("kube_job_owner", "namespace, job_name"),
        }
    )


def labelled(figures: dict[str, str]) -> str:
    """Several queries as one: each result gets a `figure` label naming it."""
    return " or ".join(
        f'label_replace({expr}, "figure", "{name}", "", "")' for name, expr in figures.items()
    )


# ------------------------------------------------------------------ time series over the window

# Series are kept small (they go into the report's JSON and SVG), so coarser than history steps.
_SERIES_POINTS = 750
_SERIES_STEPS = (60, 120, 300, 600, 900, 1800, 3600, 7200)


def series_step(window_seconds: int, boundaries: Iterable[int] = ()) -> tuple[int, bool]:
    """The step of the per-step series, and whether it is aligned: the finest step that keeps a
    series within 750 points (else the coarsest within Prometheus' 11,000) and puts the window's
    end and every boundary (seconds from the window's start: its weeks) on the grid.

    A window that starts or ends between whole minutes may have no aligned step: then the finest
    step within 750 points, not aligned (a last stretch shorter than a step has no point).
    """
    offsets = [window_seconds, *boundaries]
    aligned = [step for step in _SERIES_STEPS if all(o % step == 0 for o in offsets)]
    for step in aligned:
        if window_seconds // step <= _SERIES_POINTS:
            return step, True
    for step in reversed(aligned):  # the fewest points past 750
        if window_seconds // step <= _MAX_POINTS:
            return step, True
    fitting = [step for step in _SERIES_STEPS if window_seconds // step <= _SERIES_POINTS]
    return (fitting[0] if fitting else _SERIES_STEPS[-1]), False


def _step_range(step: int) -> str:
    """A range selector of one step, [t, t + step), for a point evaluated at t + step.

    `[step] offset 1ms` at t + step selects [t - 1ms, t + step - 1ms] on Prometheus 2, whose
    ranges are closed, and (t - 1ms, t + step - 1ms] on Prometheus 3 and VictoriaMetrics,
    whose ranges leave out their start: on every engine a sample at t falls in this step, one at
    t + step in the next. They would part only over a sample at t - 1 ms to the millisecond.
    """
    return f"[{duration(step)}] offset 1ms"


def scope_series(scope: Scope, step: int) -> str:
    """Per step [t, t + step): successful and total scrapes of `up`.

    Restarts are counted per week instead (`restarts_by_week`): per step they need a join of
    every container at every step, which passes Prometheus' 2-minute limit at 10,000 pods.
    """
    up = f"up{scope.matchers()}"
    return labelled(
        {
            "successful": f"sum(sum_over_time({up}{_step_range(step)}))",
            "total": f"sum(count_over_time({up}{_step_range(step)}))",
        }
    )


def restarts_by_week(scope: Scope, end: float, weeks: Iterable[tuple[float, float]]) -> str:
    """Restarts in each week (start, end] (Unix seconds), evaluated at the window's `end`, each
    row labelled `week` with its index. Each week is the window's own `restarts` figure over
    its span: growth past the value at the week's start, so the weeks add up to the window."""
    counters = scope.matchers(_RESTART_COUNTERS)
    terms = []
    for index, (start, stop) in enumerate(weeks):
        length = round((stop - start) * 1000)
        offset = round((end - stop) * 1000)
        delta = _counter_delta(counters, _BY_POD_INSTANCE, length, offset)
        terms.append(f'label_replace(sum({delta}), "week", "{index}", "", "")')
    return " or ".join(terms)


def hpa_replica_series(scope: Scope, names: Iterable[str], step: int) -> str:
    """Per step, the highest current and desired replicas of the HPAs named (any namespace in
    scope; the caller keeps the pairs it asked for)."""
    matchers = scope.matchers(label_matcher("horizontalpodautoscaler", names))
    return labelled(
        {
            which: f"max by ({_BY_HPA}) (max_over_time("
            f"{_HPA}_status_{which}_replicas{matchers}{_step_range(step)}))"
            for which in ("current", "desired")
        }
    )


def traffic_series(
    scope: Scope, step: int, histogram: str | None, counter: str | None, selector: dict[str, str]
) -> str:
    """Per step: the latency histogram's bucket increases (quantiles are taken from sums of
    them, per step and per week), requests and 5xx errors, each `increase(...[step])`."""
    figures = {}
    if histogram:
        buckets = f"{histogram}_bucket{scope.matchers(*label_equals(selector))}"
        figures["buckets"] = f"sum by (le) (increase({buckets}[{duration(step)}]))"
    if counter:
        figures["requests"] = requests_total(scope, step, counter, selector)
        figures["errors"] = requests_failed(scope, step, counter, selector)
    return labelled(figures)
