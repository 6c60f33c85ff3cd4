"""The stories: the demo cluster, with the awkward cases a report must get right, and scaled
clusters of any size for benchmarks. Both build a `Story` subclass (`Scenario`) field by field.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterable
from typing import TypeVar

from tests.support.scenario.model import (
    DAY,
    HOUR,
    HPA,
    MINUTE,
    AlertRule,
    Container,
    Dip,
    GiB,
    Handler,
    MiB,
    Node,
    Pod,
    Restart,
    ScrapeGap,
    Story,
    Workload,
    WorkloadKind,
    _dt,
    _restart_ts,
)

S = TypeVar("S", bound=Story)
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what Kubernetes uses for generated names


def _name_suffix(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(_NAME_ALPHABET) for _ in range(length))


class _Builder:
    """Accumulates a cluster: names, IPs and uids stay deterministic in insertion order."""

    def __init__(self, seed: int, nodes: int) -> None:
        self.rng = random.Random(f"{seed}|names")
        self.nodes = tuple(
            Node(
                f"node-{chr(ord('a') + i)}" if nodes <= 26 else f"node-{i:03d}",
                f"10.0.{i // 200 + 1}.{i % 200 + 11}",
                f"10.{244 + i // 256}.{i % 256}.0/24",
            )
            for i in range(nodes)
        )
        self._next_ip = [2] * nodes
        self._next_node = 0
        self.workloads: list[Workload] = []
        self.pods: list[Pod] = []

    def workload(
        self,
        namespace: str,
        kind: WorkloadKind,
        name: str,
        replicas: int,
        containers: tuple[Container, ...],
        *,
        tier: str,
        metrics_port: int | None,
        http: tuple[Handler, ...] = (),
    ) -> Workload:
        template_hash = _name_suffix(self.rng, 10 if kind == "Deployment" else 9)
        w = Workload(
            namespace,
            kind,
            name,
            replicas,
            containers,
            labels={"app": name, "tier": tier},
            template_hash=template_hash,
            metrics_port=metrics_port,
            generation=1 + self.rng.randrange(5),
            http=http,
        )
        self.workloads.append(w)
        return w

    def rollout(self, w: Workload, at: int) -> Workload:
        """A new pod template at `at`; its pods are built with the returned hash."""
        # Not from self.rng: names drawn after this stay what they were without the rollout.
        new_hash = _name_suffix(random.Random(f"{w.namespace}|{w.name}|{at}"), 10)
        rolled = dataclasses.replace(
            w, rollouts=(*w.rollouts, (at, new_hash)), revision=w.revision + 2
        )
        self.workloads[self.workloads.index(w)] = rolled
        return rolled

    def pod(
        self,
        w: Workload,
        created: int,
        *,
        name: str | None = None,
        node: int | None = None,
        deleted: int | None = None,
        restarts: Iterable[Restart] = (),
        template_hash: str = "",
    ) -> Pod:
        if node is None:
            node, self._next_node = self._next_node, (self._next_node + 1) % len(self.nodes)
        if name is None:
            suffix = _name_suffix(self.rng, 5)
            replicaset = f"{w.name}-{template_hash or w.template_hash}"
            name = f"{replicaset}-{suffix}" if w.kind == "Deployment" else f"{w.name}-{suffix}"
        ip = f"10.{244 + node // 256}.{node % 256}.{self._next_ip[node]}"
        self._next_ip[node] += 1
        pod = Pod(
            w.namespace,
            name,
            self.nodes[node].name,
            ip,
            w.key,
            created,
            deleted,
            tuple(sorted(restarts, key=_restart_ts)),
            template_hash,
        )
        self.pods.append(pod)
        return pod


def _crash_loop(
    container: str, *, first: int | None = None, last: int | None = None, crashes: int, run: int
) -> list[Restart]:
    """Crashes with kubelet's doubling back-off (10 s .. 5 min), anchored at either end."""
    backoffs = [min(10 * 2**k, 300) for k in range(crashes)]
    times: list[int] = []
    if first is not None:
        t = first
        for b in backoffs:
            times.append(t)
            t += b + run
    else:
        assert last is not None
        t = last
        for b in reversed(backoffs[:-1]):
            times.append(t)
            t -= run + b
        times.append(t)
        times.reverse()
    return [Restart(t, container, "Error", 1, b) for t, b in zip(times, backoffs, strict=True)]


def build_demo(cls: type[S], end: int, seed: int, history: int = 2 * DAY) -> S:
    b = _Builder(seed, nodes=3)
    long_ago = end - max(9 * DAY, history + DAY)  # before the history, however long

    checkout = b.workload(
        "shop",
        "Deployment",
        "checkout",
        2,
        (
            Container(
                "checkout", "shop/checkout:1.14.2", 0.25, 256 * MiB, 1.0, 512 * MiB, 0.18, 300 * MiB
            ),
            # The sidecar has requests but no limits.
            Container(
                "envoy", "envoyproxy/envoy:v1.29.2", 0.05, 64 * MiB, None, None, 0.02, 40 * MiB
            ),
        ),
        tier="backend",
        metrics_port=8080,
        http=(
            Handler("/cart", 4.0, 0.004, (0.05, 0.15, 0.35, 0.25, 0.12, 0.05, 0.027)),
            # Quotes and a backslash: a user's selector must match it literally.
            Handler('/search?q="a\\b"', 1.0, 0.02, (0.01, 0.04, 0.15, 0.3, 0.3, 0.13, 0.065)),
        ),
    )
    frontend = b.workload(
        "shop",
        "Deployment",
        "frontend",
        2,
        # A memory limit but no CPU limit.
        (
            Container(
                "web", "shop/frontend:3.2.0", 0.1, 128 * MiB, None, 256 * MiB, 0.06, 150 * MiB
            ),
        ),
        tier="web",
        metrics_port=8080,
    )
    api = b.workload(
        "payments",
        "Deployment",
        "api",
        2,
        (Container("api", "payments/api:2.7.1", 0.2, 256 * MiB, 0.5, 512 * MiB, 0.12, 200 * MiB),),
        tier="backend",
        metrics_port=9090,
    )
    ledger = b.workload(
        "payments",
        "StatefulSet",
        "ledger",
        2,
        (
            Container(
                "ledger", "payments/ledger:5.0.3", 0.5, 1 * GiB, 1.0, 2 * GiB, 0.3, 1200 * MiB
            ),
            Container(
                "backup", "payments/backup:0.9.0", 0.01, 32 * MiB, None, None, 0.005, 20 * MiB
            ),
        ),
        tier="data",
        metrics_port=9187,
    )
    coredns = b.workload(
        "kube-system",
        "Deployment",
        "coredns",
        2,
        (
            Container(
                "coredns", "coredns/coredns:v1.11.1", 0.1, 70 * MiB, None, 170 * MiB, 0.01, 30 * MiB
            ),
        ),
        tier="system",
        metrics_port=9153,
    )
    kube_proxy = b.workload(
        "kube-system",
        "DaemonSet",
        "kube-proxy",
        3,
        # No requests and no limits at all: a BestEffort pod.
        (Container("kube-proxy", "kube-proxy:v1.29.4", cpu_usage=0.005, memory_usage=25 * MiB),),
        tier="system",
        metrics_port=None,
    )

    # shop/checkout: two long-lived pods, the rest follow the HPA.
    hpa = HPA(
        "shop",
        "checkout",
        "checkout",
        min_replicas=2,
        max_replicas=6,
        initial_replicas=2,
        rescales=tuple(
            (end - hours * HOUR, replicas)
            for hours, replicas in (
                (40, 3),
                (38, 4),
                (35, 3),
                (31, 2),  # the previous day
                (20, 4),
                (18, 6),
                (14, 5),
                (12, 3),
                (9, 2),
                (3, 4),
                (2, 6),  # the last day
            )
        ),
        # Its new pods waited 15 minutes for capacity: desired and current differ that long.
        slow=((end - 20 * HOUR, 15 * MINUTE),),
    )
    b.pod(
        checkout,
        long_ago,
        node=0,
        restarts=[
            Restart(end - 30 * HOUR + 17, "checkout", "OOMKilled", 137),
            Restart(end - 6 * HOUR - 10 * MINUTE + 17, "checkout", "OOMKilled", 137),
        ],
    )
    b.pod(checkout, long_ago, node=1, restarts=[Restart(end - 5 * DAY, "checkout", "Error", 2)])
    scaled: list[tuple[int, Workload]] = []  # (created, ...) of live HPA pods, newest last
    current = hpa.initial_replicas
    for ts, replicas in hpa.rescales:
        at = ts + hpa.lag(ts)  # pods follow the current replica count
        while current < replicas:
            scaled.append((at, checkout))
            current += 1
        while current > replicas:
            created, w = scaled.pop()
            b.pod(w, created, deleted=at)
            current -= 1
    for created, w in scaled:
        b.pod(w, created)

    # shop/frontend: a rollout 10 h before end replaces pod X by Z, then Y by W.
    rollout = end - 10 * HOUR
    frontend = b.rollout(frontend, rollout)
    new_hash = frontend.rollouts[-1][1]
    b.pod(
        frontend,
        long_ago,
        node=0,
        deleted=rollout,
        restarts=[
            Restart(end - 8 * DAY, "web", "Error", 1),
            Restart(end - 6 * DAY, "web", "OOMKilled", 137),
            Restart(end - 16 * HOUR + 23, "web", "Error", 1),
        ],
    )
    b.pod(
        frontend,
        long_ago,
        node=1,
        deleted=rollout + 2 * MINUTE,
        restarts=[Restart(end - 4 * DAY, "web", "Error", 143)],
    )
    b.pod(frontend, rollout, node=2, template_hash=new_hash)
    b.pod(frontend, rollout + 2 * MINUTE, node=0, template_hash=new_hash)

    # payments/api: P crash-loops twice; the second loop is still backing off at end.
    b.pod(
        api,
        long_ago,
        node=2,
        restarts=[
            *_crash_loop("api", first=end - 40 * HOUR + 7, crashes=4, run=50),
            *_crash_loop("api", last=end - 170, crashes=6, run=45),
        ],
    )
    b.pod(api, long_ago, node=0)

    b.pod(
        ledger,
        long_ago,
        name="ledger-0",
        node=1,
        restarts=[
            Restart(end - 36 * HOUR + 41, "ledger", "Error", 143),
            Restart(end - 20 * HOUR + 5, "backup", "Completed", 0),
        ],
    )
    b.pod(ledger, long_ago, name="ledger-1", node=2)

    b.pod(coredns, long_ago, node=0, restarts=[Restart(end - 8 * HOUR + 33, "coredns", "Error", 2)])
    b.pod(coredns, long_ago, node=1)
    for i in range(3):
        b.pod(kube_proxy, end - 20 * DAY, node=i)

    # An HPA that never rescales: payments/api stays at its minimum.
    steady = HPA("payments", "api", "api", min_replicas=2, max_replicas=4, initial_replicas=2)
    pods = sorted(b.pods, key=lambda p: (p.namespace, p.name))
    crash_looping = next(p for p in pods if p.restarts and p.workload == api.key)
    checkout_b = next(
        p
        for p in pods
        if p.workload == checkout.key and p.node == "node-b" and p.created == long_ago
    )
    return cls(
        end=_dt(end),
        seed=seed,
        namespaces=("default", "kube-system", "payments", "shop"),
        # node-d is NotReady and runs nothing.
        nodes=(*b.nodes, Node("node-d", "10.0.1.14", "10.244.3.0/24", ready=False)),
        workloads=tuple(b.workloads),
        pods=tuple(pods),
        hpas=(hpa, steady),
        dips=(
            Dip("shop", "checkout", end - 5 * HOUR, end - 5 * HOUR + 10 * MINUTE),
            Dip("payments", "ledger", end - 44 * HOUR, end - 44 * HOUR + 6 * MINUTE),
        ),
        alerts=(
            AlertRule(
                "KubePodCrashLooping",
                "warning",
                "payments",
                (("container", "api"), ("pod", crash_looping.name)),
                # The second loop still fires at the end of the history.
                (
                    (end - 40 * HOUR + 2 * MINUTE, end - 40 * HOUR + 10 * MINUTE),
                    (end - 9 * MINUTE, None),
                ),
            ),
            AlertRule(
                "TargetDown",
                "warning",
                "shop",
                (("job", "checkout"),),
                ((end - 5 * HOUR + 2 * MINUTE, end - 5 * HOUR + 10 * MINUTE),),
            ),
            AlertRule(
                "TargetDown",
                "warning",
                "payments",
                (("job", "ledger"),),
                ((end - 44 * HOUR + 2 * MINUTE, end - 44 * HOUR + 6 * MINUTE),),
            ),
            AlertRule(
                "KubeHpaMaxedOut",
                "warning",
                "shop",
                (("horizontalpodautoscaler", "checkout"),),
                _sustained(end, lambda t: hpa.current(t) == hpa.max_replicas, 15 * MINUTE),
            ),
            # Cluster-wide: no namespace, so no namespace scope includes them.
            AlertRule("Watchdog", "none", None, (), ((end - 3 * DAY, None),)),
            AlertRule(
                "KubeNodeNotReady", "warning", None, (("node", "node-d"),), ((end - 3 * DAY, None),)
            ),
        ),
        scrape_gaps=(
            ScrapeGap("shop", checkout_b.name, end - 15 * HOUR, end - 15 * HOUR + 15 * MINUTE),
        ),
    )


def _sustained(
    end: int, condition: Callable[[int], bool], hold: int, step: int = MINUTE
) -> tuple[tuple[int, int | None], ...]:
    """Where `condition` held for `hold` seconds on the step grid: an alert's `for:`."""
    stretches: list[tuple[int, int | None]] = []
    since: int | None = None
    firing_from: int | None = None
    for t in range(end - 3 * DAY, end + DAY, step):
        if condition(t):
            since = t if since is None else since
            if t - since >= hold and firing_from is None:
                firing_from = t
        else:
            if firing_from is not None:
                stretches.append((firing_from, t))
            since = firing_from = None
    if firing_from is not None:
        stretches.append((firing_from, None))
    return tuple(stretches)


def build_scaled(cls: type[S], pods: int, end: int, seed: int, history: int, step: int) -> S:
    if pods < 1:
        raise ValueError("pods must be positive")
    b = _Builder(seed, nodes=max(1, -(-pods // 30)))
    rng = random.Random(f"{seed}|scaled")
    start = end - history
    created = start - 3 * DAY
    namespaces: list[str] = []
    made = 0
    index = 0
    while made < pods:
        namespace = f"team-{made // 50:02d}"
        if namespace not in namespaces:
            namespaces.append(namespace)
        size = min(5, pods - made)
        kind: WorkloadKind = "StatefulSet" if index % 7 == 6 else "Deployment"
        cpu = rng.choice((0.1, 0.25, 0.5))
        memory = rng.choice((128, 256, 512)) * MiB
        limited = index % 4 != 3
        containers = [
            Container(
                "app",
                f"team/svc-{index}:1.0.{index % 10}",
                cpu,
                memory,
                2 * cpu if limited else None,
                2 * memory if limited else None,
                cpu * rng.uniform(0.3, 0.9),
                int(memory * rng.uniform(0.5, 0.9)),
            )
        ]
        if index % 3 == 0:
            containers.append(Container("sidecar", "team/sidecar:0.3", 0.02, 32 * MiB, None, None))
        w = b.workload(
            namespace,
            kind,
            f"svc-{index:04d}",
            size,
            tuple(containers),
            tier="backend",
            metrics_port=8080,
        )
        for i in range(size):
            restarts: list[Restart] = []
            number = made + i
            # Fixed strides rather than dice, so that even a dozen pods have restarts.
            slots = range(start + HOUR, end - HOUR, 10 * MINUTE)
            if number % 16 == 5:
                restarts = [
                    Restart(t + rng.randrange(step), "app", "Error", 1)
                    for t in sorted(rng.sample(slots, rng.randint(1, 3)))
                ]
            elif number % 40 == 11 and limited:
                restarts = [Restart(rng.choice(slots) + 17, "app", "OOMKilled", 137)]
            name = f"{w.name}-{i}" if kind == "StatefulSet" else None
            b.pod(w, created, name=name, restarts=restarts)
        made += size
        index += 1
    first = b.workloads[0]
    return cls(
        end=_dt(end),
        history_seconds=history,
        step_seconds=step,
        seed=seed,
        namespaces=tuple(namespaces),
        nodes=b.nodes,
        workloads=tuple(b.workloads),
        pods=tuple(b.pods),
        dips=(Dip(first.namespace, first.name, end - 3 * HOUR, end - 3 * HOUR + 10 * MINUTE),),
    )
