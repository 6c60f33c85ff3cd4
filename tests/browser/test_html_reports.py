"""The built-in HTML reports in a real browser: headless Chromium from Debian.

Each report, rendered from the fixed scenarios, loads from a file with no console message, draws
its charts, and leaves screenshots (light, dark) and a printed PDF under artifacts/screenshots/ for
a person to look at. `scripts/ensure-chromium.sh` installs the browser; without it these tests are
skipped, except in CI, where a missing browser fails them.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from opsreport.model.report import ReportData
from opsreport.render.documents import render_documents
from tests.golden.scenario import full_report, sparse_report

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "screenshots"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
)
SCENARIOS: dict[str, Callable[[], ReportData]] = {"full": full_report, "sparse": sparse_report}
REPORTS = [(s, t) for s in SCENARIOS for t in ("daily", "monthly")]
CONSOLE = re.compile(r":CONSOLE[:(]")


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass(frozen=True)
class Run:
    dom: str
    log: str


def chromium(page: Path, *args: str) -> Run:
    binary = chromium_binary()
    assert binary is not None
    with tempfile.TemporaryDirectory(prefix="opsreport-chromium-") as profile:
        done = subprocess.run(
            [binary, *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    return Run(done.stdout, done.stderr)


def console_messages(log: str) -> list[str]:
    return [line for line in log.splitlines() if CONSOLE.search(line)]


def png_rows(path: Path, limit: int = 400) -> list[bytes]:
    """The first `limit` pixel rows of an 8-bit RGB or RGBA PNG, unfiltered (no imaging library)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width = bpp = 0
    idat = b""
    offset = 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        chunk = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            width = struct.unpack(">I", chunk[:4])[0]
            assert chunk[8] == 8, "expected 8 bits per channel"
            bpp = {2: 3, 6: 4}[chunk[9]]  # RGB or RGBA
        elif kind == b"IDAT":
            idat += chunk
        offset += 12 + length
    raw, stride = zlib.decompress(idat), width * bpp
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(min(limit, len(raw) // (stride + 1))):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = previous[x]
            c = previous[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + a) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + b) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return rows


def colours_and_brightness(rows: list[bytes]) -> tuple[int, float]:
    pixels = [row[x : x + 3] for row in rows[::4] for x in range(0, len(row) - 2, 12)]
    mean = sum(sum(p) for p in pixels) / (3 * len(pixels))
    return len(set(pixels)), mean


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    if chromium_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: run scripts/ensure-chromium.sh")
        pytest.skip("chromium is not installed (scripts/ensure-chromium.sh)")
    directory = tmp_path_factory.mktemp("reports")
    written = {}
    for scenario, template in REPORTS:
        (html,) = render_documents(SCENARIOS[scenario](), template, ("html",))
        path = directory / f"{scenario}-{template}.html"
        path.write_text(html.content, encoding="utf-8")
        written[(scenario, template)] = path
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return written


@pytest.fixture(scope="module")
def doms(pages: dict[tuple[str, str], Path]) -> dict[tuple[str, str], Run]:
    # Two cores: two browsers at a time.
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = pool.map(lambda key: chromium(pages[key], "--dump-dom"), REPORTS)
        return dict(zip(REPORTS, runs, strict=True))


@pytest.mark.parametrize(("scenario", "template"), REPORTS)
def test_report_loads_without_console_messages(
    doms: dict[tuple[str, str], Run], scenario: str, template: str
) -> None:
    run = doms[(scenario, template)]
    assert console_messages(run.log) == []
    assert "<h1>Shop daily</h1>" in run.dom
    assert "Executive summary" in run.dom


@pytest.mark.parametrize(("scenario", "template"), REPORTS)
def test_charts_have_drawn_elements(
    doms: dict[tuple[str, str], Run], scenario: str, template: str
) -> None:
    dom = doms[(scenario, template)].dom
    charts = re.findall(r"<svg class=\"chart chart-(\w+)\".*?</svg>", dom, flags=re.S)
    if scenario == "full":
        assert len(charts) == 5
        drawn = re.findall(r"<(rect|line|polyline|circle)\b", dom)
        assert len(drawn) > 40
        assert 'class="chart chart-usage"' in dom
        # Availability, replicas and latency are lines of measured series, each with points.
        svgs = re.findall(r"<svg class=\"chart chart-line\".*?</svg>", dom, flags=re.S)
        assert len(svgs) == 3
        for svg in svgs:
            points = re.findall(r'<polyline class="line[^"]*" points="([^"]+)"', svg)
            assert points, svg[:200]
            assert all(len(p.split()) >= 2 for p in points)
        assert 'class="line line-0 dashed"' in dom  # desired replicas next to current
    else:
        assert set(charts) <= {"empty"}  # nothing measured: placeholders that say so
        assert "No series collected" in dom or "Not measured" in dom


def test_the_console_check_catches_a_broken_page(tmp_path: Path, pages: object) -> None:
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><p>x</p><script>console.error('boom')</script>")
    assert console_messages(chromium(page, "--dump-dom").log)


def test_screenshots_are_readable_light_and_dark(pages: dict[tuple[str, str], Path]) -> None:
    jobs = [
        ("full-daily.png", pages[("full", "daily")], ()),
        ("full-monthly.png", pages[("full", "monthly")], ()),
        ("sparse-daily.png", pages[("sparse", "daily")], ()),
        ("full-daily-dark.png", pages[("full", "daily")], ("--force-dark-mode",)),
    ]

    def shoot(job: tuple[str, Path, tuple[str, ...]]) -> Path:
        name, page, extra = job
        target = ARTIFACTS / name
        target.unlink(missing_ok=True)
        chromium(
            page, "--window-size=1280,4000", "--hide-scrollbars", f"--screenshot={target}", *extra
        )
        return target

    with ThreadPoolExecutor(max_workers=2) as pool:
        shots = dict(zip([job[0] for job in jobs], pool.map(shoot, jobs), strict=True))
    levels = {}
    for name, path in shots.items():
        colours, levels[name] = colours_and_brightness(png_rows(path))
        assert colours > 20, f"{name} looks blank"
    assert levels["full-daily.png"] > 200  # a light page
    assert levels["full-daily-dark.png"] < 80  # dark mode applies


def test_the_report_prints(pages: dict[tuple[str, str], Path]) -> None:
    target = ARTIFACTS / "full-monthly.pdf"
    target.unlink(missing_ok=True)
    chromium(pages[("full", "monthly")], f"--print-to-pdf={target}", "--no-pdf-header-footer")
    pdf = target.read_bytes()
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) >= 3
