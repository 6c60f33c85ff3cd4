"""The reference PromQL whose results `Expected` predicts (tests/support_tests run it)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from tests.support.scenario.names import CPU, HPA_CURRENT, MEMORY, RESTARTS


def promql(window: str, namespaces: Iterable[str] | None = None, step: int = 60) -> dict[str, str]:
    """The PromQL whose results `Expected` predicts, evaluated at `time=window_end`."""
    scope = _namespace_matcher(namespaces)

    def sel(*matchers: str) -> str:
        parts = [m for m in (*matchers, scope) if m]
        return "{" + ",".join(parts) + "}" if parts else ""

    cadvisor = sel(
        'job="kubelet"', 'metrics_path="/metrics/cadvisor"', 'container!=""', 'container!="POD"'
    )
    by = "by (namespace, pod, container)"
    cpu = f"sum {by} (rate({CPU}{cadvisor}[5m]))"
    memory = f"{MEMORY}{cadvisor}"
    current = f"{HPA_CURRENT}{sel()}"
    maximum = f"kube_horizontalpodautoscaler_spec_max_replicas{sel()}"
    restarts = f"round(increase({RESTARTS}{sel()}[{window}]))"
    return {
        "restarts": restarts,
        "restarts_total": f"sum({restarts})",
        "last_reason": f"kube_pod_container_status_last_terminated_reason{sel()}",
        "availability": (
            f"sum(sum_over_time(up{sel()}[{window}])) / sum(count_over_time(up{sel()}[{window}]))"
        ),
        # A second short of the window: the subquery's points are the window's own (start, end].
        "cpu_avg": f"avg_over_time(({cpu})[{_seconds(window) - 1}s:5m])",
        "cpu_p95": f"quantile_over_time(0.95, ({cpu})[{_seconds(window) - 1}s:5m])",
        "cpu_max": f"max_over_time(({cpu})[{_seconds(window) - 1}s:5m])",
        "memory_avg": (
            f"sum {by} (sum_over_time({memory}[{window}]))"
            f" / sum {by} (count_over_time({memory}[{window}]))"
        ),
        "memory_max": f"max {by} (max_over_time({memory}[{window}]))",
        "hpa_rescales": f"changes({current}[{window}])",
        "hpa_peak": f"max_over_time({current}[{window}])",
        "hpa_samples_at_max": (
            f"count_over_time(({current} == on (namespace, horizontalpodautoscaler)"
            f" {maximum})[{window}:{step}s])"
        ),
    }


_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _seconds(window: str) -> int:
    """A PromQL duration such as `24h` or `1h30m` in seconds."""
    parts = re.findall(r"(\d+)([smhd])", window)
    if "".join(n + u for n, u in parts) != window:
        raise ValueError(f"not a duration: {window!r}")
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)


def _namespace_matcher(namespaces: Iterable[str] | None) -> str:
    if namespaces is None:
        return ""
    names = sorted(namespaces)
    if not names:
        raise ValueError("an empty namespace scope matches nothing")
    return 'namespace=~"' + "|".join(n.replace(".", "\\\\.") for n in names) + '"'
