"""`kubectl get rsched` columns, evaluated by a real kubectl from the CRD's own definitions.

The emulator serves no server-side Table, so kubectl would ignore additionalPrinterColumns; we
turn the CRD's columns into `-o custom-columns`, which kubectl evaluates client-side with the
same JSONPath engine.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.kube_emulator import KubeApiServer, crd_from_file
from tests.support.stack import CRD_FILE, GROUP_VERSION
from tests.support.tools import ToolUnavailable, kubectl_binary


def test_printer_columns_show_schedule_state(kube_server: KubeApiServer, tmp_path: Path) -> None:
    try:
        kubectl = kubectl_binary()
    except ToolUnavailable as error:
        pytest.skip(str(error))
    version = crd_from_file(CRD_FILE)["spec"]["versions"][0]
    columns = version["additionalPrinterColumns"]
    names = [c["name"] for c in columns if not c.get("priority")]
    assert names == ["Schedule", "Suspend", "Ready", "Last Success", "Next Run", "Age"]
    kube_server.create(
        {
            "apiVersion": GROUP_VERSION,
            "kind": "ReportSchedule",
            "metadata": {"name": "columns", "namespace": "shop"},
            "spec": {"schedule": "@daily", "window": {"duration": "24h"}, "suspend": False},
            "status": {
                "conditions": [
                    {"type": "Degraded", "status": "False", "reason": "Complete"},
                    {"type": "Ready", "status": "True", "reason": "ReportDelivered"},
                ],
                "lastSuccessfulTime": "2026-11-20T07:00:05Z",
                "nextScheduleTime": "2026-11-21T07:00:00Z",
                "lastReport": {
                    "summary": {"status": "warning"},
                    "outputs": [{"type": "configMap", "location": "configmap/shop/x"}],
                },
            },
        }
    )
    spec = ",".join(f"{c['name'].replace(' ', '_')}:{{{c['jsonPath']}}}" for c in columns)
    kubeconfig = kube_server.write_kubeconfig(tmp_path / "kubeconfig")
    result = subprocess.run(
        [
            str(kubectl),
            f"--kubeconfig={kubeconfig}",
            f"--cache-dir={tmp_path / 'cache'}",
            "get",
            "rsched",
            "-n",
            "shop",
            "columns",
            "-o",
            f"custom-columns={spec}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.strip().splitlines()
    values = dict(zip(header.split(), row.split(), strict=True))
    assert values["Schedule"] == "@daily"
    assert values["Suspend"] == "false"
    assert values["Ready"] == "True"
    assert values["Last_Success"] == "2026-11-20T07:00:05Z"
    assert values["Next_Run"] == "2026-11-21T07:00:00Z"
    assert values["Reason"] == "ReportDelivered"
    assert values["Report_Status"] == "warning"
    assert values["Output"] == "configmap/shop/x"
