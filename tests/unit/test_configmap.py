"""The ConfigMap payload: identity, labels, size handling."""

from __future__ import annotations

import base64
import gzip
import random
import string
from datetime import UTC, datetime

import pytest

from opsreport.deliver.base import DeliveryError, ReportIdentity, ScheduleIdentity
from opsreport.deliver.configmap import MAX_CONFIGMAP_BYTES, build_configmap, report_name
from opsreport.render.documents import Document
from opsreport.scheduling import Window

WINDOW = Window(datetime(2026, 11, 21, 6, tzinfo=UTC), datetime(2026, 11, 22, 6, tzinfo=UTC))
IDENTITY = ReportIdentity(ScheduleIdentity("shop", "daily", "uid-1"), WINDOW)
NOW = datetime(2026, 11, 22, 6, 1, tzinfo=UTC)


def test_name_is_deterministic_per_window() -> None:
    assert report_name("daily", WINDOW.start) == "daily-20261121-0600"


def test_long_names_are_shortened_with_a_hash() -> None:
    long = "a" * 250
    name = report_name(long, WINDOW.start)
    assert len(name) <= 253
    assert name.endswith("-20261121-0600")
    assert name != report_name("a" * 249 + "b", WINDOW.start)


def test_labels_annotations_owner() -> None:
    body = build_configmap(IDENTITY, [Document("markdown", "# hi\n")], NOW)
    meta = body["metadata"]
    assert meta["labels"] == {
        "app.kubernetes.io/managed-by": "opsreport",
        "opsreport.dev/schedule": "daily",
        "opsreport.dev/window-start": "20261121T060000Z",
    }
    assert "app.kubernetes.io/instance" not in meta["labels"]
    assert (
        meta["annotations"]["opsreport.dev/window"] == "2026-11-21T06:00:00Z/2026-11-22T06:00:00Z"
    )
    assert meta["ownerReferences"][0]["uid"] == "uid-1"
    assert body["data"] == {"report.md": "# hi\n"}


def test_big_reports_are_compressed_into_binary_data() -> None:
    text = "| row | value |\n" * 100_000  # 1.6 MB, compressible
    body = build_configmap(IDENTITY, [Document("markdown", text)], NOW)
    assert "data" not in body
    stored = base64.b64decode(body["binaryData"]["report.md.gz"])
    assert gzip.decompress(stored).decode() == text
    assert len(body["binaryData"]["report.md.gz"]) < MAX_CONFIGMAP_BYTES


def test_incompressible_oversized_reports_are_refused() -> None:
    noise = "".join(random.Random(1).choices(string.printable, k=3 * 1024 * 1024))
    with pytest.raises(DeliveryError) as caught:
        build_configmap(IDENTITY, [Document("html", noise)], NOW)
    assert caught.value.reason == "ReportTooLarge"
    assert "S3" in str(caught.value)


def test_run_now_windows_keep_their_seconds() -> None:
    start = WINDOW.start.replace(second=30)
    assert report_name("daily", start) == "daily-20261121-060030"
    assert report_name("daily", start) != report_name("daily", start.replace(second=45))
