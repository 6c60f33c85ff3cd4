"""A first check of user PromQL, made when the spec is parsed (so it lives with the spec model)."""

from __future__ import annotations

_OPENERS = {"(": ")", "[": "]", "{": "}"}


def check_promql(query: str) -> None:
    """Refuse PromQL whose brackets or string literals do not balance; ValueError says where.

    Not a parser: it catches the typos that would otherwise fail every run, and Prometheus judges
    the rest (its refusal becomes a DataGap).
    """
    if not query.strip():
        raise ValueError("the query is empty")
    stack: list[tuple[str, int]] = []
    i = 0
    while i < len(query):
        char = query[i]
        if char == "#":  # a comment runs to the end of the line
            newline = query.find("\n", i)
            i = len(query) if newline < 0 else newline
            continue
        if char in "\"'`":
            end = i + 1
            while end < len(query) and query[end] != char:
                end += 2 if char != "`" and query[end] == "\\" else 1
            if end >= len(query):
                raise ValueError(f"the string starting at character {i + 1} is not closed")
            i = end + 1
            continue
        if char in _OPENERS:
            stack.append((char, i))
        elif char in _OPENERS.values():
            if not stack or _OPENERS[stack[-1][0]] != char:
                raise ValueError(f"{char!r} at character {i + 1} closes nothing")
            stack.pop()
        i += 1
    if stack:
        opener, at = stack[-1]
        raise ValueError(f"{opener!r} at character {at + 1} is not closed")
