"""The ``naavre:`` cell-tag grammar: read and write roles in standard Jupyter cell tags.

Roles live in ``cell.metadata.tags`` (not in a private metadata key) so that JupyterLab's own tag
editor shows them, every Jupyter tool keeps them, and a user can set them by hand anywhere.

Grammar (see docs/tags.md):

- ``naavre:splitter`` / ``naavre:processor`` / ``naavre:merger``: the role, at most one per cell;
- ``naavre:batch-count:<N>`` (integer N >= 1) or ``naavre:batch-count:<param_name>`` (a workflow
  parameter): only on a splitter, and required there;
- ``naavre:split:<variable>``: optional on a splitter, names the list to split;
- ``naavre:no-reuse``: on any code cell, the step holding it (every step, on a header cell) always
  runs: a run with reuse never takes its results from the store (its code reads files, clocks or
  random numbers, which the reuse key cannot see).

Parsing never raises: problems come back as :class:`TagProblem` values so the analysis can locate
them. Writing (:func:`set_role`) only touches ``naavre:`` tags and keeps every other tag in order.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PREFIX = "naavre:"
ROLES: tuple[str, ...] = ("splitter", "processor", "merger")
BATCH_COUNT = "batch-count"
SPLIT = "split"
NO_REUSE = "no-reuse"

_INT_RE = re.compile(r"[+-]?[0-9]+")

__all__ = [
    "NO_REUSE",
    "PREFIX",
    "ROLES",
    "Annotation",
    "TagProblem",
    "cell_annotation",
    "naavre_tags",
    "parse_tags",
    "set_cell_role",
    "set_role",
]


@dataclass(frozen=True)
class TagProblem:
    """One thing wrong with a cell's ``naavre:`` tags; located to a cell by the analysis."""

    code: str
    severity: str
    message: str
    hint: str


@dataclass
class Annotation:
    """What a cell's tags say: its role, batch count and split variable, plus any problems.

    ``batch_count`` is an ``int`` for ``naavre:batch-count:5`` and a ``str`` (the parameter name)
    for ``naavre:batch-count:param_x``; ``None`` when absent or unusable.
    """

    role: str | None = None
    batch_count: int | str | None = None
    split: str | None = None
    no_reuse: bool = False
    problems: list[TagProblem] = field(default_factory=list)

    def batch_count_json(self) -> dict[str, Any] | None:
        """The batch count in the spec's shape, without a parameter default (analysis adds it)."""
        if isinstance(self.batch_count, int):
            return {"value": self.batch_count}
        if isinstance(self.batch_count, str):
            return {"parameter": self.batch_count}
        return None

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON view, the shape of ``tests/fixtures/tags.json`` (shared with the front-end)."""
        return {
            "role": self.role,
            "batch_count": self.batch_count_json(),
            "split": self.split,
            "no_reuse": self.no_reuse,
            "codes": [p.code for p in self.problems],
        }


def _is_identifier(text: str) -> bool:
    return text.isidentifier() and not keyword.iskeyword(text)


def naavre_tags(tags: Iterable[Any]) -> list[str]:
    """The tags that belong to this grammar (prefix ``naavre:``, any case), in their order."""
    return [t for t in tags if isinstance(t, str) and t.lower().startswith(PREFIX)]


def _problem(code: str, message: str, hint: str, severity: str = "error") -> TagProblem:
    return TagProblem(code=code, severity=severity, message=message, hint=hint)


def parse_tags(tags: Sequence[Any] | None) -> Annotation:
    """Read a cell's tag list. Non-``naavre:`` tags are ignored; nothing raises."""
    ann = Annotation()
    roles: list[str] = []
    counts: list[str] = []
    splits: list[str] = []
    for tag in naavre_tags(tags or []):
        body = tag[len(PREFIX) :]
        if not tag.startswith(PREFIX):
            ann.problems.append(
                _problem(
                    "unknown-tag",
                    f"unknown tag '{tag}'",
                    f"naavre: tags are lower case: write '{PREFIX}{body.lower()}'",
                )
            )
            continue
        if body in ROLES:
            roles.append(body)
        elif body.startswith(BATCH_COUNT + ":"):
            counts.append(body[len(BATCH_COUNT) + 1 :])
        elif body.startswith(SPLIT + ":"):
            splits.append(body[len(SPLIT) + 1 :])
        elif body == NO_REUSE:
            ann.no_reuse = True
        else:
            ann.problems.append(
                _problem(
                    "unknown-tag",
                    f"unknown tag '{tag}'",
                    "use naavre:splitter, naavre:processor, naavre:merger, "
                    "naavre:batch-count:<N or param_name>, naavre:split:<variable> "
                    "or naavre:no-reuse",
                )
            )

    distinct_roles = list(dict.fromkeys(roles))
    if len(distinct_roles) > 1:
        ann.problems.append(
            _problem(
                "several-roles",
                "cell has several roles: " + ", ".join(f"naavre:{r}" for r in distinct_roles),
                "keep one role tag per cell; split the cell if it does two jobs",
            )
        )
    elif distinct_roles:
        ann.role = distinct_roles[0]

    if counts:
        if len(set(counts)) > 1:
            ann.problems.append(
                _problem(
                    "several-batch-counts",
                    "cell has several batch counts: " + ", ".join(counts),
                    "keep one naavre:batch-count: tag",
                )
            )
        else:
            raw = counts[0].strip()
            if _INT_RE.fullmatch(raw):
                value = int(raw)
                if value >= 1:
                    ann.batch_count = value
                else:
                    ann.problems.append(
                        _problem(
                            "bad-batch-count",
                            f"batch count must be at least 1, got {value}",
                            "use naavre:batch-count:<N> with N >= 1, or name a param_ parameter",
                        )
                    )
            elif _is_identifier(raw):
                ann.batch_count = raw
            else:
                ann.problems.append(
                    _problem(
                        "bad-batch-count",
                        f"batch count '{counts[0]}' is neither an integer nor a parameter name",
                        "use naavre:batch-count:<N> with N >= 1, or "
                        "naavre:batch-count:param_<name> naming a header parameter",
                    )
                )
        if ann.role is not None and ann.role != "splitter":
            ann.problems.append(
                _problem(
                    "batch-count-not-on-splitter",
                    f"naavre:batch-count on a {ann.role}",
                    "only a splitter has a batch count: move the tag to the section's splitter",
                )
            )
            ann.batch_count = None

    if splits:
        if len(set(splits)) > 1:
            ann.problems.append(
                _problem(
                    "several-split-variables",
                    "cell names several split variables: " + ", ".join(splits),
                    "keep one naavre:split: tag",
                )
            )
        elif _is_identifier(splits[0].strip()):
            ann.split = splits[0].strip()
        else:
            ann.problems.append(
                _problem(
                    "bad-split-variable",
                    f"split variable '{splits[0]}' is not a Python name",
                    "write naavre:split:<variable> with the name of the list to split",
                )
            )
        if ann.role is not None and ann.role != "splitter":
            ann.problems.append(
                _problem(
                    "split-not-on-splitter",
                    f"naavre:split on a {ann.role}",
                    "only a splitter names a split variable: move the tag to the splitter",
                )
            )
            ann.split = None

    if ann.role is None:
        if (counts or splits) and not distinct_roles:
            ann.problems.append(
                _problem(
                    "option-without-role",
                    "naavre:batch-count or naavre:split on a cell without a role",
                    "add naavre:splitter to this cell, or remove the option tags",
                )
            )
        ann.batch_count = None
        ann.split = None

    if ann.role == "splitter" and not counts:
        ann.problems.append(
            _problem(
                "missing-batch-count",
                "splitter has no batch count",
                "add naavre:batch-count:<N> or naavre:batch-count:param_<name> to the cell",
            )
        )
    return ann


def _option_tags(tags: Sequence[str], option: str) -> list[str]:
    return [t for t in tags if t.startswith(f"{PREFIX}{option}:")]


def set_role(
    tags: Sequence[Any] | None,
    role: str | None,
    batch_count: int | str | None = None,
    split: str | None = None,
) -> list[str]:
    """Return ``tags`` with the cell's ``naavre:`` role set; all other tags kept in order.

    ``role`` is one of :data:`ROLES`, or ``None``/``"none"`` to remove every ``naavre:`` tag.
    A ``naavre:no-reuse`` tag stays when the role changes (it is not part of the role).
    For a splitter, ``batch_count=None`` keeps an existing ``naavre:batch-count:`` tag and
    ``split=None`` keeps an existing ``naavre:split:`` tag, so changing one option does not lose
    the other. Raises ``ValueError`` for a role, batch count or split variable the grammar rejects.
    """
    if role == "none":
        role = None
    if role is not None and role not in ROLES:
        raise ValueError(f"unknown role {role!r}: use one of {', '.join(ROLES)} or none")
    if role != "splitter" and (batch_count is not None or split is not None):
        raise ValueError("--batch-count and --split only apply to a splitter")
    existing = [t for t in (tags or [])]
    ours = naavre_tags(existing)
    kept = [t for t in existing if t not in ours]
    if role is None:
        return kept
    new = [f"{PREFIX}{role}"]
    if role == "splitter":
        if batch_count is not None:
            text = str(batch_count).strip()
            if isinstance(batch_count, bool) or not (
                (_INT_RE.fullmatch(text) and int(text) >= 1) or _is_identifier(text)
            ):
                raise ValueError(
                    f"batch count {batch_count!r} must be an integer >= 1 or a parameter name"
                )
            new.append(f"{PREFIX}{BATCH_COUNT}:{int(text) if _INT_RE.fullmatch(text) else text}")
        else:
            new.extend(_option_tags(ours, BATCH_COUNT)[:1])
        if split is not None:
            if not _is_identifier(split):
                raise ValueError(f"split variable {split!r} is not a Python name")
            new.append(f"{PREFIX}{SPLIT}:{split}")
        else:
            new.extend(_option_tags(ours, SPLIT)[:1])
    if f"{PREFIX}{NO_REUSE}" in ours:
        new.append(f"{PREFIX}{NO_REUSE}")
    return kept + new


def cell_annotation(cell: MutableMapping[str, Any]) -> Annotation:
    """Parse the tags of an nbformat cell (a missing ``metadata.tags`` means no tags)."""
    tags = (cell.get("metadata") or {}).get("tags") or []
    return parse_tags(tags if isinstance(tags, list) else [])


def set_cell_role(
    cell: MutableMapping[str, Any],
    role: str | None,
    batch_count: int | str | None = None,
    split: str | None = None,
) -> None:
    """Set a role on an nbformat cell in place, touching only ``metadata.tags``.

    A cell that had no ``tags`` key and ends with no tags keeps having no ``tags`` key, so removing
    a role from an untagged cell leaves the file byte for byte the same.
    """
    metadata = cell.setdefault("metadata", {})
    had_key = "tags" in metadata
    new = set_role(metadata.get("tags") or [], role, batch_count, split)
    if new or had_key:
        metadata["tags"] = new
