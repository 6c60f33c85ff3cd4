"""`python -m bench`: a report's time, memory and output for clusters of N pods, against the same
queries sent by a bare HTTP client, and the operator's memory with many schedules.

Pod counts take an optional step, PODS@SECONDS (e.g. 10000@120), for histories too costly to
generate at the default step. See docs/performance.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from bench.history import DEFAULT_CACHE, DEFAULT_CHUNK_PODS, REPO, log
from bench.operator_bench import measure_operator
from bench.reports import SizeOptions, SizeResult, measure_size
from bench.runtime import runtime_python

Json = dict[str, Any]
MiB = 2**20


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = int(line.split()[1]) * 1024
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory / 2**30:.1f} GiB memory, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def parse_sizes(text: str, default_step: int) -> list[tuple[int, int]]:
    sizes = []
    for item in filter(None, text.split(",")):
        pods, _, step = item.strip().partition("@")
        sizes.append((int(pods), int(step or default_step)))
    return sizes


def table(runs: list[Json], steps: dict[int, int]) -> str:
    head = (
        f"{'pods':>6} {'step':>5} {'queries':>7} {'API':>4} {'total s':>8} {'collect':>8} "
        f"{'render':>7} {'deliver':>7} {'baseline':>8} {'ratio':>6} {'peak RSS':>9} "
        f"{'md KiB':>7} {'html KiB':>8} {'json KiB':>8} {'CM KiB':>7}"
    )
    lines = [head, "-" * len(head)]
    for run in runs:
        seconds, out = run["seconds"], run["outputBytes"]
        lines.append(
            f"{run['pods']:>6} {steps.get(run['pods'], '-'):>4}s {run['promQueries']:>7} "
            f"{run['apiRequests']:>4} {seconds['median']:>8.3f} {seconds['collect']:>8.3f} "
            f"{seconds['render']:>7.3f} {seconds['deliver']:>7.3f} {run['baselineSeconds']:>8.3f} "
            f"{run['ratio']:>6.2f} {run['peakRssBytes'] / MiB:>5.0f} MiB "
            f"{out.get('markdown', 0) / 1024:>7.0f} {out.get('html', 0) / 1024:>8.0f} "
            f"{out.get('json', 0) / 1024:>8.0f} {out.get('configMap', 0) / 1024:>7.0f}"
        )
    return "\n".join(lines)


def verdicts(output: Json) -> list[str]:
    """Issue #9's targets, judged on what was measured (at the largest N when 10,000 is absent)."""
    runs = {run["pods"]: run for run in output["runs"]}
    lines = []

    def say(met: bool | None, text: str) -> None:
        lines.append(f"{'n/a ' if met is None else 'MET ' if met else 'NOT '} {text}")

    if runs:
        counts = {pods: run["promQueries"] for pods, run in sorted(runs.items())}
        say(
            len(set(counts.values())) == 1 and max(counts.values()) <= 40,
            f"PromQL queries constant in N and <= 40: {counts}",
        )
        # The least is a page per kind listed, and a page per 500 objects of a kind: sizes from
        # 1,000 pods span enough namespaces (5+) for cluster-wide lists; smaller scopes are listed
        # per namespace, 8 requests each, which is more requests but reads nothing out of scope.
        pages = {
            pods: (run["apiRequests"], run.get("apiListPages"), -(-pods // 500))
            for pods, run in sorted(runs.items())
        }
        say(
            all(
                least is not None and sent <= least
                for pods, (sent, least, _) in pages.items()
                if pods >= 1000
            ),
            f"API requests = list pages from 1,000 pods (sent, pages of the kinds listed, N/500):"
            f" {pages}",
        )
        top = max(runs)
        big = runs[top]
        say(
            big["ratio"] is not None and big["ratio"] <= 1.5,
            f"time <= 1.5x baseline at {top} pods: {big['ratio']}x",
        )
        say(
            big["peakRssBytes"] <= 300 * 10**6,
            f"peak RSS <= 300 MB at {top} pods: {big['peakRssBytes'] / MiB:.0f} MiB",
        )
        render = big["seconds"]["render"]
        say(render <= 1.0, f"render (3 formats) <= 1 s at {top} pods: {render:.3f} s")
        if 1000 in runs and top > 1000:
            growth = big["seconds"]["median"] / runs[1000]["seconds"]["median"]
            say(
                growth <= 12 * top / 10000,
                f"time({top})/time(1000) = {growth:.2f}"
                f" (<= 12 at 10,000 pods; scaled to {top}: <= {12 * top / 10000:g})",
            )
    idle = output.get("idleOperatorRssBytes")
    schedules = (output.get("scheduleBurst") or {}).get("schedules", 0)
    say(
        None if idle is None else idle <= 150 * 10**6,
        f"idle operator <= 150 MB with {schedules} schedules (target: 500): "
        f"{'not measured' if idle is None else f'{idle / MiB:.0f} MiB'}",
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--pods", default="100,1000,5000,10000", help="PODS[@STEP],...")
    parser.add_argument("--runs", type=int, default=3, help="measured runs per size (median)")
    parser.add_argument("--step", type=int, default=60, help="history step, seconds")
    parser.add_argument("--history-hours", type=float, default=24.0)
    parser.add_argument("--chunk-pods", type=int, default=DEFAULT_CHUNK_PODS)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--regenerate", action="store_true", help="ignore cached histories")
    parser.add_argument("--no-warmup", action="store_true", help="skip the unmeasured first run")
    parser.add_argument("--schedules", type=int, default=500, help="0 skips the operator part")
    parser.add_argument("--operator-pods", type=int, default=100, help="the burst's cluster")
    parser.add_argument(
        "--operator-dev-venv",
        action="store_true",
        help="run the operator on this interpreter (test tools installed), not the runtime venv",
    )
    parser.add_argument("--idle-seconds", type=float, default=20.0, help="idle RSS sampling")
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results.json")
    parser.add_argument(
        "--detail", type=Path, default=DEFAULT_CACHE / "last-run.json", help="every raw figure"
    )
    parser.add_argument("--profile-dir", type=Path, help="profile the report at --profile-pods")
    parser.add_argument("--profile-pods", default="", help="sizes to profile, e.g. 5000,10000")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep what --output already holds for sizes (and the operator) not measured now",
    )
    args = parser.parse_args(argv)

    sizes = parse_sizes(args.pods, args.step)
    profiled = {int(p) for p in args.profile_pods.split(",") if p}
    history_seconds = int(args.history_hours * 3600)
    results: list[SizeResult] = []
    for pods, step in sizes:
        log(f"{pods} pods, {args.history_hours:g} h of history at {step} s")
        options = SizeOptions(
            runs=args.runs,
            history_seconds=history_seconds,
            step_seconds=step,
            chunk_pods=args.chunk_pods,
            cache_dir=args.cache_dir,
            regenerate=args.regenerate,
            warmup=not args.no_warmup,
            profile_dir=args.profile_dir if pods in profiled else None,
        )
        results.append(measure_size(pods, options))

    operator = (
        measure_operator(
            args.schedules,
            pods=args.operator_pods,
            history_seconds=history_seconds,
            cache_dir=args.cache_dir,
            idle_seconds=args.idle_seconds,
            # Not in --cache-dir: the smoke test's cache is temporary, the venv worth keeping.
            python=None if args.operator_dev_venv else runtime_python(DEFAULT_CACHE),
        )
        if args.schedules
        else None
    )
    steps = {pods: step for pods, step in sizes}
    history = f"{args.history_hours:g} h of history at a {args.step} s step"
    # Sizes measured at another step say so, here and in a merged file's later runs.
    notes = [f" ({pods} pods: {step} s)" for pods, step in sizes if step != args.step]
    runs = [result.summary() for result in results]
    previous: Json = {}
    if args.merge and args.output.is_file():
        previous = json.loads(args.output.read_text())
        measured = {run["pods"] for run in runs}
        kept = [run for run in previous.get("runs") or [] if run["pods"] not in measured]
        runs = sorted([*kept, *runs], key=lambda run: run["pods"])
        if previous.get("machine"):
            base, *old_notes = previous["machine"].split("; ", 1)[-1].split(" (")
            kept_notes = [f" ({note}" for note in old_notes if int(note.split()[0]) not in measured]
            history, notes = base, kept_notes + notes
    output: Json = {
        "machine": f"{machine()}; {history}{''.join(notes)}",
        "runs": runs,
        "idleOperatorRssBytes": operator.idle_rss
        if operator
        else previous.get("idleOperatorRssBytes"),
        "scheduleBurst": {
            "schedules": operator.schedules,
            "seconds": round(operator.burst_seconds, 2),
            "peakRssBytes": operator.burst_peak,
        }
        if operator
        else previous.get("scheduleBurst"),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(output, indent=2) + "\n")
    args.detail.parent.mkdir(parents=True, exist_ok=True)
    args.detail.write_text(
        json.dumps(
            {
                **output,
                "sizes": [result.detail() for result in results],
                "operator": operator.detail() if operator else None,
            },
            indent=2,
        )
        + "\n"
    )
    print(output["machine"])
    print(table(runs, steps))
    if operator:
        print(
            f"operator: idle RSS {operator.idle_rss / MiB:.0f} MiB with {operator.schedules} "
            f"schedules; {operator.schedules} run-now reports in {operator.burst_seconds:.1f} s, "
            f"peak RSS {operator.burst_peak / MiB:.0f} MiB"
        )
    print("\n".join(verdicts(output)))
    print(f"wrote {args.output} and {args.detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
