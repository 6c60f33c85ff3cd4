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

_CONTAINERS = 'container!="",container!="POD"'
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


def restarts(scope: Scope, window_seconds: int) -> str:
    # max, not sum: two kube-state-metrics replicas must not double the count.
    return (
        f"round(max by ({_BY_CONTAINER}) (increase("
        f"kube_pod_container_status_restarts_total{scope.matchers()}[{duration(window_seconds)}]"
        "))) > 0"
    )


def last_terminated_reason(scope: Scope, window_seconds: int) -> str:
    """When each reason was last current, so the newest one per container can be chosen."""
    selector = f"kube_pod_container_status_last_terminated_reason{scope.matchers()}"
    return (
        f"max by ({_BY_CONTAINER}, reason) (last_over_time("
        f"timestamp({selector} == 1)[{duration(window_seconds)}:300s]))"
    )


def availability_successful(scope: Scope, window_seconds: int) -> str:
    return f"sum(sum_over_time(up{scope.matchers()}[{duration(window_seconds)}]))"


def availability_total(scope: Scope, window_seconds: int) -> str:
    return f"sum(count_over_time(up{scope.matchers()}[{duration(window_seconds)}]))"


def _cpu_rate(scope: Scope) -> str:
    # A restarted container gets a new cgroup `id` and so a new series: sum the instances. The
    # kubelet's and cAdvisor's jobs may both scrape one instance: `max by id` drops the duplicate.
    rate = f"rate(container_cpu_usage_seconds_total{scope.matchers(_CONTAINERS)}[5m])"
    return f"sum by ({_BY_CONTAINER}) (max by ({_BY_CONTAINER}, id) ({rate}))"


def cpu_usage(scope: Scope, window_seconds: int, statistic: str) -> str:
    """`statistic` is avg, max or p95 of the 5-minute CPU rate, sampled every 5 minutes."""
    subquery = f"{_cpu_rate(scope)}[{duration(window_seconds)}:300s]"
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
    selector = f"container_memory_working_set_bytes{scope.matchers(_CONTAINERS)}"
    span = duration(window_seconds)
    if statistic == "max":
        return f"max by ({_BY_CONTAINER}) (max_over_time({selector}[{span}]))"
    # The mean of every sample of every instance; duplicate jobs scale both sums alike.
    return (
        f"sum by ({_BY_CONTAINER}) (sum_over_time({selector}[{span}]))"
        f" / sum by ({_BY_CONTAINER}) (count_over_time({selector}[{span}]))"
    )


def resource_quantity(scope: Scope, window_seconds: int, kind: str) -> str:
    """Requests or limits of live (Pending or Running) pods, per container and resource."""
    if kind not in ("requests", "limits"):
        raise ValueError(f"unknown kind {kind!r}")
    live_phase = scope.matchers('phase=~"Pending|Running"')
    live = f"max by (namespace, pod) (kube_pod_status_phase{live_phase}) == 1"
    quantity = f"kube_pod_container_resource_{kind}{scope.matchers(_CPU_OR_MEMORY)}"
    return (
        f"max by ({_BY_CONTAINER}, resource) (max_over_time(("
        f"{quantity} * on (namespace, pod) group_left () ({live})"
        f")[{duration(window_seconds)}:300s]))"
    )


def pod_owners(scope: Scope, window_seconds: int) -> str:
    return (
        "max by (namespace, pod, owner_kind, owner_name) "
        f"(max_over_time(kube_pod_owner{scope.matchers()}[{duration(window_seconds)}]))"
    )


def replicaset_owners(scope: Scope, window_seconds: int) -> str:
    return (
        "max by (namespace, replicaset, owner_kind, owner_name) "
        f"(max_over_time(kube_replicaset_owner{scope.matchers()}[{duration(window_seconds)}]))"
    )


_HPA = "kube_horizontalpodautoscaler"
_BY_HPA = "namespace, horizontalpodautoscaler"


def hpa_rescales(scope: Scope, window_seconds: int) -> str:
    """How often current replicas changed in the window."""
    series = f"{_HPA}_status_current_replicas{scope.matchers()}"
    return f"max by ({_BY_HPA}) (changes({series}[{duration(window_seconds)}]))"


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
