"""Short readable summaries of values JSON cannot show (placeholder until the full version lands)."""

from __future__ import annotations

from typing import Any

from .transport import type_name


def summarize(value: Any) -> dict[str, Any]:
    """``{"type", "summary", "preview"}`` of a value."""
    text = repr(value)
    return {"type": type_name(value), "summary": type_name(value), "preview": text[:200]}
