"""Numbers as people read them, where the model's own sentences need them (status reasons).

The render layer's filters build on these, so a reason and the report print a figure alike.
"""

from __future__ import annotations

NO_DATA = "no data"


def percent(value: float | None, digits: int = 2) -> str:
    if value is None:
        return NO_DATA
    text = f"{value:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"
