"""Log lines of a run name the schedule and the run, in kopf's JSON layout and in plain text."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import kopf
import pytest

from opsreport import logs


@pytest.fixture
def root() -> Iterator[logging.Logger]:
    """The root logger as `opsreport operator` sets it up, restored afterwards."""
    logger = logging.getLogger()
    saved = (logger.handlers[:], logger.level)
    yield logger
    logger.handlers[:], logger.level = saved


def configure(root: logging.Logger, log_format: str) -> io.StringIO:
    kopf.configure(
        log_format=kopf.LogFormat.JSON if log_format == "json" else kopf.LogFormat.FULL,
        verbose=True,
    )
    logs.install(log_format)
    stream = io.StringIO()
    for handler in root.handlers:
        if type(handler).__name__ == "_KopfStreamHandler":  # not pytest's capturing handlers
            handler.setStream(stream)
    return stream


def test_json_lines_carry_the_run_like_kopfs_own(root: logging.Logger) -> None:
    stream = configure(root, "json")
    ours = logging.getLogger("opsreport.service")
    ours.info("before any run")
    with logs.run_context("shop", "daily", "0badc0de"):
        ours.warning("collecting")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    outside, inside = lines
    assert "run_id" not in outside
    assert inside["message"] == "collecting"
    assert inside["severity"] == "warn"  # kopf's field names, not logging's
    assert inside["run_id"] == "0badc0de"
    assert inside["schedule"] == "shop/daily"
    assert inside["object"]["namespace"] == "shop"
    assert inside["object"]["name"] == "daily"
    assert inside["object"]["kind"] == "ReportSchedule"


async def test_tasks_started_by_a_run_inherit_its_context(root: logging.Logger) -> None:
    stream = configure(root, "plain")
    ours = logging.getLogger("opsreport.collect")

    async def section() -> None:
        ours.info("a section")

    with logs.run_context("shop", "daily", logs.new_run_id()) as context:
        await asyncio.gather(section(), section())
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert all(f"[shop/daily run={context.run_id}] a section" in line for line in lines)


def test_plain_lines_name_kopfs_object_too(root: logging.Logger) -> None:
    stream = configure(root, "plain")
    logging.getLogger("kopf.objects").info(
        "Timer 'tick' succeeded.", extra={"k8s_ref": {"namespace": "shop", "name": "daily"}}
    )
    assert "[shop/daily] Timer 'tick' succeeded." in stream.getvalue()


def test_run_ids_differ() -> None:
    assert len({logs.new_run_id() for _ in range(100)}) == 100


def test_libraries_that_log_credentials_stay_quiet_when_verbose(root: logging.Logger) -> None:
    stream = configure(root, "plain")
    logging.getLogger("botocore.endpoint").debug("Authorization: AWS4-HMAC-SHA256 Credential=AKIA…")
    logging.getLogger("opsreport.deliver").debug("our own debug line")
    assert "Credential" not in stream.getvalue()
    assert "our own debug line" in stream.getvalue()
