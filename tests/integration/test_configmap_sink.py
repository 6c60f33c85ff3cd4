"""ConfigMap retention (`keep`) and the `<schedule>-latest` copy, against the emulated API."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from opsreport.deliver.base import (
    GuardedSink,
    OutputResult,
    ReportIdentity,
    ScheduleIdentity,
    Sink,
)
from opsreport.deliver.configmap import ConfigMapSink, latest_name, schedule_label
from opsreport.kube import KubeApi
from opsreport.model.outputs import ConfigMapOutput
from opsreport.model.spec import parse_spec
from opsreport.pipeline import ReportRequest, Sources, run_report
from opsreport.render.documents import Document
from opsreport.scheduling import Window
from tests.support.kube_emulator import KubeApiServer

NAMESPACE = "shop"
FIRST = datetime(2026, 11, 10, 6, tzinfo=UTC)
GENERATED = datetime(2026, 11, 20, 6, 5, tzinfo=UTC)
DOCS = [Document("markdown", "# Report\n"), Document("json", "{}\n")]


def day(n: int) -> Window:
    start = FIRST + timedelta(days=n)
    return Window(start, start + timedelta(days=1))


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


async def deliver(
    kube_api: KubeApi,
    schedule: str,
    n: int,
    output: ConfigMapOutput,
    documents: list[Document] = DOCS,
) -> OutputResult:
    ident = ReportIdentity(ScheduleIdentity(NAMESPACE, schedule, f"uid-{schedule}"), day(n))
    # The sink ignores ReportData; the documents carry the report.
    report: Any = None
    return await ConfigMapSink(kube_api, output).deliver(ident, report, documents, GENERATED)


def names(kube: KubeApiServer, schedule: str, namespace: str = NAMESPACE) -> list[str]:
    found = kube.list(
        "v1", "configmaps", namespace, label_selector=f"opsreport.dev/schedule={schedule}"
    )
    return sorted(item["metadata"]["name"] for item in found)


def plant(
    kube: KubeApiServer, name: str, labels: dict[str, str], namespace: str = NAMESPACE
) -> None:
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "data": {"x": "not a report of ours"},
        }
    )


async def test_keep_deletes_the_oldest_windows_and_nothing_else(
    kube_server: KubeApiServer, kube_api: KubeApi
) -> None:
    schedule = unique("kept")
    ours = {
        "app.kubernetes.io/managed-by": "opsreport",
        "opsreport.dev/schedule": schedule,
        "opsreport.dev/window-start": "20200101T000000Z",  # older than any report below
    }
    # Everything that looks a little like one of our reports, but is not in scope.
    plant(kube_server, f"{schedule}-other-namespace", ours, namespace="payments")
    plant(kube_server, f"{schedule}-hand-made", {**ours, "app.kubernetes.io/managed-by": "helm"})
    plant(kube_server, f"{schedule}-unlabelled", {})
    plant(
        kube_server, f"{schedule}-no-window", {k: v for k, v in ours.items() if "window" not in k}
    )
    other = unique("neighbour")
    assert (await deliver(kube_api, other, 0, ConfigMapOutput())).ok

    output = ConfigMapOutput(keep=2)
    for n in (0, 3, 1, 2):  # written out of order: retention goes by window
        result = await deliver(kube_api, schedule, n, output)
        assert result.ok, result.message
    assert names(kube_server, schedule) == sorted(
        [
            f"{schedule}-20261113-0600",
            f"{schedule}-20261112-0600",
            f"{schedule}-no-window",
            f"{schedule}-hand-made",
        ]
    )
    assert result.message == f"retention deleted {schedule}-20261111-0600"
    assert names(kube_server, schedule, namespace="payments") == [f"{schedule}-other-namespace"]
    assert kube_server.get("v1", "configmaps", NAMESPACE, f"{schedule}-unlabelled") is not None
    assert names(kube_server, other) == [f"{other}-20261110-0600"]

    # A late rerun of an old window stores it again and keeps it, though it is beyond `keep`.
    late = await deliver(kube_api, schedule, 0, output)
    assert late.ok
    assert f"{schedule}-20261110-0600" in names(kube_server, schedule)


async def test_latest_follows_the_newest_window(
    kube_server: KubeApiServer, kube_api: KubeApi
) -> None:
    schedule = unique("dash")
    output = ConfigMapOutput(keep=1, latest=True)
    assert (await deliver(kube_api, schedule, 0, output)).ok
    assert (await deliver(kube_api, schedule, 1, output, [Document("markdown", "# newer\n")])).ok
    latest = kube_server.get("v1", "configmaps", NAMESPACE, f"{schedule}-latest")
    assert latest is not None
    assert latest["data"] == {"report.md": "# newer\n"}
    meta = latest["metadata"]
    assert (
        meta["annotations"]["opsreport.dev/window"] == "2026-11-11T06:00:00Z/2026-11-12T06:00:00Z"
    )
    assert meta["labels"]["opsreport.dev/latest"] == "true"
    assert "opsreport.dev/window-start" not in meta["labels"]
    assert meta["ownerReferences"][0]["uid"] == f"uid-{schedule}"
    # keep=1 counted only the per-window reports: the latest copy is not one of them.
    assert names(kube_server, schedule) == [f"{schedule}-20261111-0600", f"{schedule}-latest"]

    # A late rerun of an older window does not move `latest` back.
    assert (await deliver(kube_api, schedule, 0, output, [Document("markdown", "# old\n")])).ok
    latest = kube_server.get("v1", "configmaps", NAMESPACE, f"{schedule}-latest")
    assert latest is not None
    assert latest["data"] == {"report.md": "# newer\n"}


async def test_retention_failure_keeps_the_delivered_report(
    kube_server: KubeApiServer, kube_api: KubeApi
) -> None:
    schedule = unique("denied")
    output = ConfigMapOutput(keep=1)
    assert (await deliver(kube_api, schedule, 0, output)).ok
    kube_server.inject_fault("DELETE", rf"/configmaps/{schedule}-", 403)
    result = await deliver(kube_api, schedule, 1, output)
    assert result.ok
    assert result.message.startswith("retention failed: Kubernetes API answered 403")
    assert names(kube_server, schedule) == [
        f"{schedule}-20261110-0600",
        f"{schedule}-20261111-0600",
    ]


class Exploding:
    type = "s3"

    async def deliver(self, *args: Any) -> OutputResult:
        raise RuntimeError("a bug in a sink")


async def test_one_failing_output_does_not_block_another(
    kube_server: KubeApiServer, kube_api: KubeApi
) -> None:
    schedule = unique("both")
    spec = parse_spec({"schedule": "@daily", "window": {"duration": "24h"}, "formats": ["json"]})
    request = ReportRequest(ScheduleIdentity(NAMESPACE, schedule), spec, day(0))
    sinks: list[Sink] = [GuardedSink(Exploding()), GuardedSink(ConfigMapSink(kube_api))]
    outcome = await run_report(
        request, Sources(kube=None, prometheus=None), sinks, lambda: GENERATED
    )
    failed, stored = outcome.outputs
    assert not failed.ok
    assert failed.reason == "DeliveryFailed"
    assert failed.message == "unexpected error: RuntimeError"
    assert stored.ok
    assert names(kube_server, schedule) == [f"{schedule}-20261110-0600"]
    assert not outcome.delivered  # so the run is retried; the rerun rewrites the same ConfigMap


async def test_a_configmap_we_did_not_write_is_never_replaced(
    kube_server: KubeApiServer, kube_api: KubeApi
) -> None:
    schedule = unique("squatted")
    plant(kube_server, f"{schedule}-20261110-0600", {"app": "someone-else"})
    plant(kube_server, f"{schedule}-latest", {"app": "someone-else"})
    refused = await deliver(kube_api, schedule, 0, ConfigMapOutput(latest=True))
    assert not refused.ok
    assert "exists and is not a report of this schedule" in refused.message
    stored = await deliver(kube_api, schedule, 1, ConfigMapOutput(latest=True))
    assert stored.ok
    assert stored.message == f"{schedule}-latest exists and is not this schedule's; left alone"
    for name in (f"{schedule}-20261110-0600", f"{schedule}-latest"):
        untouched = kube_server.get("v1", "configmaps", NAMESPACE, name)
        assert untouched is not None
        assert untouched["data"] == {"x": "not a report of ours"}


def test_long_schedule_names_fit_names_and_labels() -> None:
    long = "a" * 250
    assert len(latest_name(long)) <= 253
    assert latest_name(long).endswith("-latest")
    assert latest_name(long) != latest_name("a" * 249 + "b")
    assert latest_name("daily") == "daily-latest"
    assert len(schedule_label(long)) == 63
    assert schedule_label(long) != schedule_label("a" * 249 + "b")
    assert schedule_label("daily") == "daily"
