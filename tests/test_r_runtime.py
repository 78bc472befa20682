"""The one split rule in R (naavre_batch_ext/steps/r_runtime.R), pinned to core/split.py.

The R step runtime carries its own copy of the rule (a step runs on an R image with no Python), so
the shared fixture tests/fixtures/split_sizes.json, generated from core/split.py, holds the sizes
both must give; the rest checks what R adds: each batch is the same kind of value as the whole, and
joining the batches gives back a value R calls identical().
"""

from __future__ import annotations

import json
from pathlib import Path

from r_helpers import needs_r, run_r

from naavre_batch_ext.core.split import batch_ranges
from naavre_batch_ext.steps import r_scripts

pytestmark = needs_r

FIXTURE = Path(__file__).parent / "fixtures" / "split_sizes.json"
CASES = json.loads(FIXTURE.read_text(encoding="utf-8"))["cases"]


def test_the_fixture_still_holds_the_python_rule() -> None:
    for case in CASES:
        sizes = [b - a for a, b in batch_ranges(case["n"], case["m"])]
        assert sizes == case["sizes"], case


def test_r_gives_the_fixture_sizes_for_every_n_and_m(tmp_path: Path) -> None:
    pairs = r_scripts.r_literal([[c["n"], c["m"]] for c in CASES])
    done = run_r(
        f"for (p in {pairs}) cat(paste(.naavre$batch_sizes(p[[1]], p[[2]]), collapse = ' '), '\\n')",
        tmp_path,
    )
    got = [[int(x) for x in line.split()] for line in done.stdout.splitlines()]
    assert got == [c["sizes"] for c in CASES]


SHAPES = """
shapes <- list(
  integers = 1:23,
  doubles = c(a = 1.5, b = NA, c = NaN, d = -0, e = Inf, f = 2),
  factor = factor(c("b", "a", "c", "a", "b"), levels = c("c", "b", "a", "unused")),
  date = as.Date("2024-03-01") + 0:9,
  posixct = as.POSIXct("2024-03-31 01:30:00", tz = "Europe/Amsterdam") + 3600 * 0:6,
  named_list = list(a = 1L, b = list(c = "x", d = NULL), e = 1:3, f = NULL),
  data_frame = data.frame(
    plot = factor(c("p1", "p2", "p1", "p3", "p2", "p3", "p1")),
    day = as.Date("2024-05-01") + 0:6,
    count = c(3L, NA, 5L, 0L, 2L, 8L, 1L),
    density = c(0.1, NA, NaN, -0, 2.5, Inf, 1e-300),
    row.names = paste0("r", 1:7)
  ),
  with_attribute = structure(c(1, 2, 3, 4), units = "m"),
  empty_list = list(),
  empty_character = character(0)
)
"""


def test_each_batch_is_the_same_kind_and_the_batches_join_back_identical(tmp_path: Path) -> None:
    done = run_r(
        SHAPES
        + """
for (name in names(shapes)) for (m in 1:8) {
  x <- shapes[[name]]
  parts <- .naavre$split_batches(x, m)
  same_kind <- all(vapply(parts, function(p) identical(class(p), class(x)) &&
    identical(attributes(p)[setdiff(names(attributes(p)), c("names", "row.names"))],
              attributes(x)[setdiff(names(attributes(x)), c("names", "row.names"))]), TRUE))
  back <- identical(.naavre$merge_batches(parts), x, num.eq = FALSE)
  cat(name, m, length(parts), same_kind, back, "\\n")
}
""",
        tmp_path,
    )
    rows = [line.split() for line in done.stdout.splitlines()]
    assert len(rows) == 10 * 8
    for name, m, count, same_kind, back in rows:
        assert (same_kind, back) == ("TRUE", "TRUE"), (name, m)
        assert int(count) >= 1


def test_no_items_give_one_empty_batch_of_the_same_kind(tmp_path: Path) -> None:
    done = run_r(
        """
df <- data.frame(a = integer(0), f = factor(character(0), levels = "x"))
parts <- .naavre$split_batches(df, 5)
cat(length(parts), nrow(parts[[1]]), identical(parts[[1]], df), "\\n")
parts <- .naavre$split_batches(as.Date(character(0)), 3)
cat(length(parts), class(parts[[1]]), "\\n")
""",
        tmp_path,
    )
    assert done.stdout.splitlines() == ["1 0 TRUE ", "1 Date "]


def test_a_data_frame_splits_by_rows_keeping_row_names_and_column_types(tmp_path: Path) -> None:
    done = run_r(
        SHAPES
        + """
parts <- .naavre$split_batches(shapes$data_frame, 3)
for (p in parts) cat(rownames(p), "|", vapply(p, function(col) class(col)[1], ""), "\\n")
""",
        tmp_path,
    )
    assert done.stdout.splitlines() == [
        "r1 r2 r3 | factor Date integer numeric ",
        "r4 r5 | factor Date integer numeric ",
        "r6 r7 | factor Date integer numeric ",
    ]


def test_split_refuses_a_matrix_naming_what_splits(tmp_path: Path) -> None:
    done = run_r(
        "tryCatch(.naavre$split_batches(matrix(1:4, 2), 2), error = function(e) "
        "cat(conditionMessage(e)))",
        tmp_path,
    )
    assert done.stdout == (
        "cannot split a value of class matrix/array: the split variable must be an atomic "
        "vector or a list (split by element) or a data frame (split by rows)"
    )


def test_merge_refuses_batches_of_different_kinds_naming_them(tmp_path: Path) -> None:
    done = run_r(
        "tryCatch(.naavre$merge_batches(list(1:2, list(3L), NULL)), error = function(e) "
        "cat(conditionMessage(e)))",
        tmp_path,
    )
    assert done.stdout == (
        "batch 0 gave a value of class integer but batch 1 gave one of class list: every batch "
        "must give the same kind of value to be joined"
    )


def test_batches_that_gave_null_join_with_the_others(tmp_path: Path) -> None:
    """A processor that appends to ``results <- c()`` leaves NULL in an empty batch."""
    done = run_r(
        "cat(identical(.naavre$merge_batches(list(NULL, c(1, 2), NULL, 3)), c(1, 2, 3)))",
        tmp_path,
    )
    assert done.stdout == "TRUE"


def test_the_runtime_is_printable_ascii_without_argo_template_markers() -> None:
    text = r_scripts.script_prefix()
    assert "{{" not in text and "}}" not in text
    assert all(" " <= c <= "~" or c == "\n" for c in text)
