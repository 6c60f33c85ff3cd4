"""A streaming OpenMetrics text writer shaped for `promtool tsdb create-blocks-from openmetrics`.

promtool is strict in ways that fail silently, so the writer enforces them:
timestamps are whole seconds (milliseconds land in the year 50,000), each series'
samples ascend (an older sample is dropped without a word), each family is written
once with its `# TYPE` line, and the file ends with `# EOF`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Literal, Self

MetricType = Literal["counter", "gauge"]
Sample = tuple[int, float]

# Anything above this is surely milliseconds (it is the year 2286 in seconds).
_MAX_SECONDS = 10_000_000_000


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def format_labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{escape_label_value(v)}"' for k, v in labels.items()) + "}"


def format_value(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if math.isfinite(value):
        # repr() is the shortest text that parses back to the same float64, so
        # Prometheus stores exactly the value the expected answers are computed from.
        return repr(value)
    if math.isnan(value):
        return "NaN"
    return "+Inf" if value > 0 else "-Inf"


class OpenMetricsWriter:
    """Writes families one after another; use as a context manager to get `# EOF`."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out
        self._family: str | None = None
        self._type: MetricType = "gauge"
        self._seen: set[str] = set()
        self.samples_written = 0

    @classmethod
    def open(cls, path: Path) -> Self:
        return cls(path.open("w", encoding="utf-8", buffering=1 << 20))

    def family(self, name: str, metric_type: MetricType, help_text: str | None = None) -> None:
        """Start a family; `name` is the sample name (counters end in `_total`)."""
        if name in self._seen:
            raise ValueError(f"family {name} written twice; promtool needs families contiguous")
        if metric_type == "counter" and not name.endswith("_total"):
            raise ValueError(f"counter {name} must end in _total")
        self._seen.add(name)
        self._family = name
        self._type = metric_type
        # OpenMetrics names a counter family without its `_total` suffix.
        family_name = name.removesuffix("_total") if metric_type == "counter" else name
        self._out.write(f"# TYPE {family_name} {metric_type}\n")
        if help_text:
            self._out.write(f"# HELP {family_name} {help_text}\n")

    def series(self, labels: Mapping[str, str], samples: Iterable[Sample]) -> int:
        """Write one series of the current family; returns how many samples were written."""
        if self._family is None:
            raise ValueError("series() before family()")
        prefix = f"{self._family}{format_labels(labels)} "
        lines: list[str] = []
        last = -1
        for ts, value in samples:
            if ts <= last or not isinstance(ts, int):
                raise ValueError(f"{prefix}: timestamp {ts!r} is not an int above {last}")
            last = ts
            lines.append(f"{prefix}{format_value(value)} {ts}\n")
        if last > _MAX_SECONDS:  # ascending, so the last one is the largest
            raise ValueError(f"{prefix}: timestamp {last} is milliseconds, not seconds")
        self._out.writelines(lines)
        self.samples_written += len(lines)
        return len(lines)

    def close(self) -> None:
        if not self._out.closed:
            self._out.write("# EOF\n")
            self._out.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
        else:
            # A truncated file must not look complete to promtool.
            self._out.close()
