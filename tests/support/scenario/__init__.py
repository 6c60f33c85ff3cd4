"""Deterministic synthetic clusters whose Prometheus history and Kubernetes objects agree.

One model drives three outputs, so they tell the same story:

- `Scenario.write_openmetrics()`: kube-state-metrics v2 and cAdvisor series (CPU, memory, CFS
  throttling), scrape targets' `up`, an application's request counter (with a `code` label)
  and latency histogram, and `ALERTS`, for backfill;
- `Scenario.kube_objects()`: the API objects as of `end`, each Event through the API that
  wrote it (core/v1 or events.k8s.io/v1), ReplicaSets and ControllerRevisions with their
  creation times;
- `Scenario.expected()` (and `expected_traffic()`, `expected_series()`): report numbers
  computed in Python from the very samples (or the model's event series and revisions) that
  were written, emulating Prometheus 2.42's PromQL (see `promql()` and tests/support_tests
  for the queries).

The package, by concern:

- `model`: the cluster and its story (`Container`, `Restart`, `Node`, `Workload`, `Pod`, `HPA`,
  `AlertRule`, `ScrapeGap`, `Dip`, `EventSeries`) and `Story`, the fields and lookups below;
- `builders`: the demo and scaled stories;
- `names`: metric names and query constants shared by the writer, the oracle and promql();
- `series`: `SeriesWriter`, the OpenMetrics families as scraped (kube-prometheus' target labels);
- `kube`: `KubeObjects`, the objects for the API emulator and the event series;
- `oracle`: `Expected` and the other answers, computed from the model and the written samples
  only (PromQL 2.42's semantics emulated), by functions that `Scenario` takes as its methods;
- `promql`: the reference queries whose results `Expected` predicts.

The demo holds the awkward cases: pods replaced mid-window (an HPA and a rollout), counters that
reset (a container restart), containers without limits, an HPA that never rescales and one that
waited 15 minutes for capacity, an alert still firing at the end, a scrape gap, a NotReady node,
and a handler named with quotes and a backslash.

Everything derives from the scenario's fields and `seed` through seeded `random.Random`
instances and uuid5, so two runs write byte-identical files. Times are Unix seconds on a
`step_seconds` grid; restarts may fall between grid points, as they do in a cluster.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tests.support.scenario import oracle
from tests.support.scenario.builders import build_demo, build_scaled
from tests.support.scenario.kube import KubeObjects
from tests.support.scenario.model import (
    DAY,
    HOUR,
    HPA,
    MINUTE,
    AlertRule,
    Container,
    ContainerKey,
    Dip,
    EventSeries,
    GiB,
    Handler,
    HPAKey,
    KiB,
    MiB,
    Node,
    Pod,
    PodKey,
    Restart,
    ScrapeGap,
    Workload,
    WorkloadKey,
    _ts,
    window,
)
from tests.support.scenario.oracle import (
    AlertSummary,
    ContainerUsage,
    DeploymentSummary,
    Downtime,
    EventSummary,
    Expected,
    HPASummary,
    RestartRecord,
    RolloutSummary,
    SeriesSummary,
    Stretch,
    TrafficSummary,
    WeekSummary,
    WorkloadSummary,
)
from tests.support.scenario.promql import promql
from tests.support.scenario.series import KSM_TARGET, SeriesWriter

# What the written history depends on: every module but the oracle's (which only reads the model
# and the written samples) and promql's, and the OpenMetrics writer.
_GENERATOR_SOURCES = (
    *sorted(
        path
        for path in Path(__file__).parent.glob("*.py")
        if path.name not in ("oracle.py", "promql.py")
    ),
    Path(__file__).parents[1] / "openmetrics.py",
)


@dataclass(frozen=True)
class Scenario(SeriesWriter, KubeObjects):
    """A cluster and its history; build one with demo() or scaled(), or field by field.

    Its outputs: write_openmetrics() (`SeriesWriter`), kube_objects() (`KubeObjects`), and the
    expected answers, which the functions of `oracle` compute.
    """

    @classmethod
    def demo(
        cls,
        end: datetime,
        *,
        seed: int = 1,
        extend_seconds: int = 0,
        history_seconds: int = 2 * DAY,
        step_seconds: int = 60,
    ) -> Scenario:
        """~17 live pods in shop, payments and kube-system, with the stories a report tells.

        - shop/checkout (Deployment, HPA 2..6): rescales 4 times the previous day and 7
          times the last day, at max for 4 h and again for the last 2 h; pod checkout-A
          is OOMKilled twice (working set climbs to its 512Mi limit first); a 10 min dip.
        - shop/frontend: one pod replaced 10 h before end (it had an Error restart 6 h
          earlier); the other has restarts older than the history only.
        - payments/api: one pod crash-loops (Error, exit 1) twice, the second time into
          the last minutes, so at `end` it waits in CrashLoopBackOff.
        - payments/ledger (StatefulSet): ledger Error/143 the previous day, backup sidecar
          Completed/0 the last day; a 6 min dip the previous day.
        - kube-system: coredns with an Error restart, kube-proxy DaemonSet; out of scope
          for shop/payments reports.

        A longer `history_seconds` (e.g. two months at a 300 s step, for a monthly report and
        its previous month) adds quiet history before the same story: the long-lived pods
        exist from before its start; nothing else happens there.
        """
        demo = build_demo(cls, _ts(end), seed, history_seconds)
        return dataclasses.replace(
            demo,
            extend_seconds=extend_seconds,
            history_seconds=history_seconds,
            step_seconds=step_seconds,
        )

    @classmethod
    def scaled(
        cls,
        pods: int,
        end: datetime,
        *,
        seed: int = 7,
        history_seconds: int = DAY,
        step_seconds: int = 60,
        extend_seconds: int = 0,
    ) -> Scenario:
        """`pods` pods in Deployments/StatefulSets of 5 across namespaces of 50, for benchmarks.

        Every pod lives through the whole history; one in 16 crashes with Error 1-3 times
        and one in 40 is OOMKilled. write_openmetrics() streams: it holds one pod's samples
        at a time. Cost at a 60 s step: about 8 MB of text and 0.1 s per pod and day.
        """
        scenario = build_scaled(cls, pods, _ts(end), seed, history_seconds, step_seconds)
        return dataclasses.replace(scenario, extend_seconds=extend_seconds)

    def cache_key(self) -> str:
        """Changes with any field and with the generator's code."""
        source = b"".join(path.read_bytes() for path in _GENERATOR_SOURCES)
        return hashlib.sha256(source + repr(self).encode()).hexdigest()[:24]

    # The expected answers: functions of a scenario (oracle.py), taken as its methods.
    expected = oracle.expected
    expected_traffic = oracle.expected_traffic
    expected_series = oracle.expected_series
    nodes_at_end = oracle.nodes_at_end
    workload_status_at_end = oracle.workload_status_at_end


__all__ = [
    "DAY",
    "HOUR",
    "HPA",
    "KSM_TARGET",
    "MINUTE",
    "AlertRule",
    "AlertSummary",
    "Container",
    "ContainerKey",
    "ContainerUsage",
    "DeploymentSummary",
    "Dip",
    "Downtime",
    "EventSeries",
    "EventSummary",
    "Expected",
    "GiB",
    "HPAKey",
    "HPASummary",
    "Handler",
    "KiB",
    "MiB",
    "Node",
    "Pod",
    "PodKey",
    "Restart",
    "RestartRecord",
    "RolloutSummary",
    "Scenario",
    "ScrapeGap",
    "SeriesSummary",
    "Stretch",
    "TrafficSummary",
    "WeekSummary",
    "Workload",
    "WorkloadKey",
    "WorkloadSummary",
    "promql",
    "window",
]
