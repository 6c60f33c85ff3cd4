"""`make demo`: the operator on the local stack, producing one true report.

Starts the Kubernetes API emulator seeded with the demo cluster, a real Prometheus holding the
same story's last 48 hours, and `opsreport operator`; applies a ReportSchedule with a run-now
annotation, waits for the report and prints it with where it is stored.
"""

from __future__ import annotations

import base64
import gzip
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.prometheus import prometheus_available
from tests.support.scenario import Scenario
from tests.support.stack import REPO, LocalStack, wait_for

SCHEDULE = "shop-daily"
NAMESPACE = "shop"
OUT = REPO / "artifacts" / "demo"


def _report_text(configmap: dict[str, Any], key: str) -> str:
    if key in (configmap.get("data") or {}):
        return str(configmap["data"][key])
    packed = (configmap.get("binaryData") or {})[f"{key}.gz"]
    return gzip.decompress(base64.b64decode(packed)).decode()


def main() -> int:
    if not prometheus_available():
        print("demo: prometheus is not installed; run `make install` as root", file=sys.stderr)
        return 1
    started = time.monotonic()
    # History up to the current minute and a little beyond, so a report "now" is fully covered.
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    scenario = Scenario.demo(end=end, extend_seconds=900)
    print(f"demo: generating the scenario's Prometheus history up to {end:%Y-%m-%d %H:%M} UTC …")
    with LocalStack(scenario) as stack:
        print(f"demo: Kubernetes API at {stack.kube.url}, Prometheus at {stack.prometheus_url}")
        operator = stack.start_operator()
        print(f"demo: operator running (pid {operator.pid}, log {operator.log_path})")
        stack.apply_schedule(
            SCHEDULE,
            NAMESPACE,
            {
                "schedule": "0 7 * * *",
                "timeZone": "Europe/Berlin",
                "window": {"duration": "24h"},
                "title": "Shop — daily operations report",
                "formats": ["markdown", "html", "json"],
                "scope": {"namespaces": ["shop", "payments"]},
                "outputs": [{"configMap": {}}],
            },
            annotations={"opsreport.dev/run-now": "demo"},
        )
        print(
            f"demo: applied ReportSchedule {NAMESPACE}/{SCHEDULE} with opsreport.dev/run-now=demo"
        )

        def delivered() -> dict[str, Any] | None:
            obj = stack.schedule(NAMESPACE, SCHEDULE) or {}
            status = obj.get("status") or {}
            return status if (status.get("runNow") or {}).get("value") == "demo" else None

        status = wait_for(delivered, timeout=90, interval=0.5, what="the demo report")
        location = status["lastReport"]["outputs"][0]["location"]
        name = location.rsplit("/", 1)[-1]
        configmap = stack.kube.get("v1", "configmaps", NAMESPACE, name) or {}
        OUT.mkdir(parents=True, exist_ok=True)
        for key in ("report.md", "report.html", "report.json"):
            (OUT / key).write_text(_report_text(configmap, key), encoding="utf-8")
        print()
        print(_report_text(configmap, "report.md"))
        ready = next(c for c in status["conditions"] if c["type"] == "Ready")
        print(
            f"NAME={SCHEDULE} READY={ready['status']} REASON={ready['reason']} "
            f"LAST SUCCESS={status.get('lastSuccessfulTime')} "
            f"NEXT RUN={status.get('nextScheduleTime')}"
        )
        print(
            f"demo: the report is stored in {location} (keys report.md, report.html, report.json)"
        )
        print(
            f"demo: copies written to {OUT.relative_to(REPO)}/ ; took "
            f"{timedelta(seconds=round(time.monotonic() - started))}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
