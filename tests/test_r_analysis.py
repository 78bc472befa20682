"""Analysis of R notebooks (IRkernel): R's own parser reads the cells, the rest is the Python path's.

Each test states one behaviour docs/r.md promises. They run R (``Rscript``) and skip only where R is
not installed; the test of the missing-R error runs everywhere.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers import NOTEBOOKS, api_error, api_post, code_notebook, r_notebook, write_tmp

from naavre_batch_ext.cli import main
from naavre_batch_ext.core import r_analysis
from naavre_batch_ext.core.analysis import Analysis, Step, analyse
from naavre_batch_ext.core.notebook import NotebookError, load_notebook_data
from naavre_batch_ext.core.spec import build_spec, spec_for_path, validate_spec

EXAMPLES = Path(__file__).parent.parent / "examples"
R_NOTEBOOKS = NOTEBOOKS / "r"

needs_r = pytest.mark.skipif(shutil.which("Rscript") is None, reason="R (Rscript) is not installed")

S = ["naavre:splitter", "naavre:batch-count:2"]
P = ["naavre:processor"]
M = ["naavre:merger"]


def run(*sources: str, tags: dict[int, list[str]] | None = None) -> Analysis:
    return analyse(r_notebook(*sources, tags=tags), "t")


def section(*cells: str, header: tuple[str, ...] = ()) -> Analysis:
    """Header cells, then splitter, processor(s) and merger on the given cells."""
    tags = {len(header): S, len(header) + len(cells) - 1: M}
    for i in range(len(header) + 1, len(header) + len(cells) - 1):
        tags[i] = P
    return run(*header, *cells, tags=tags)


def by_id(a: Analysis, step_id: str) -> Step:
    return next(s for s in a.steps if s.id == step_id)


def codes(a: Analysis) -> list[str]:
    return [d.code for d in a.diagnostics]


def located(a: Analysis, code: str) -> tuple[int | None, int | None, int | None]:
    (d,) = [d for d in a.diagnostics if d.code == code]
    return d.cell_index, d.line, d.column


# -- the seed in R -------------------------------------------------------------------------------


@needs_r
def test_r_seed_has_the_python_seeds_steps_parameters_sections_and_edges() -> None:
    r_spec = spec_for_path(EXAMPLES / "splitting-batches-r-tagged.ipynb")
    py_spec = spec_for_path(EXAMPLES / "splitting-batches-tagged.ipynb")
    for key in ("parameters", "sections", "edges", "diagnostics", "summary"):
        assert r_spec[key] == py_spec[key], key
    shape = ("id", "role", "inputs", "outputs", "batch_count", "split_variable", "imports")
    assert [{k: s[k] for k in shape} for s in r_spec["steps"]] == [
        {k: s[k] for k in shape} for s in py_spec["steps"]
    ]


@needs_r
def test_r_seed_spec_says_language_r_kernel_ir_and_validates() -> None:
    spec = spec_for_path(EXAMPLES / "splitting-batches-r-tagged.ipynb")
    assert spec["notebook"]["language"] == "R" and spec["notebook"]["kernel"] == "ir"
    validate_spec(spec)


@needs_r
def test_cell_source_of_an_r_cell_is_its_r_code() -> None:
    nb = load_notebook_data(EXAMPLES / "splitting-batches-r-tagged.ipynb")
    spec = build_spec(nb, "splitting-batches-r-tagged.ipynb")
    merger = spec["steps"][2]["cells"][0]
    assert merger["source"] == "".join(nb["cells"][8]["source"])
    assert merger["title"] == "split: retrieve batches"


@needs_r
def test_untagged_r_seed_analyses_without_steps() -> None:
    a = analyse(load_notebook_data(EXAMPLES / "splitting-batches-r.ipynb"), "seed")
    assert codes(a) == ["no-steps"] and a.language == "R"


# -- assignments ---------------------------------------------------------------------------------


@needs_r
def test_left_right_equals_and_super_assignments_all_define_a_variable() -> None:
    a = section("a <- 1\nb = 2\n3 -> c\nd <<- 4", "x <- a + b + c + d", "print(x)")
    assert by_id(a, "processor-1").inputs == ["a", "b", "c", "d"]
    assert by_id(a, "splitter-1").outputs == ["a", "b", "c", "d"]


@needs_r
def test_assign_with_a_literal_name_defines_that_variable() -> None:
    a = section('assign("items", 1:4)', "out <- items * 2", "print(out)")
    assert by_id(a, "processor-1").inputs == ["items"]


@needs_r
def test_get_with_a_literal_name_reads_that_variable() -> None:
    a = section("items <- 1:4", 'out <- get("items") * 2', "print(out)")
    assert by_id(a, "processor-1").inputs == ["items"]


@needs_r
@pytest.mark.parametrize(
    "change",
    ["x$col <- 1", "x[[2]] <- 0", 'names(x) <- c("a", "b", "c")', 'attr(x, "unit") <- "m"'],
)
def test_replacement_assignment_uses_and_defines_the_variable(change: str) -> None:
    a = section("x <- list(1, 2, 3)", "y <- 1", f"{change}\nprint(x)")
    merger = by_id(a, "merger-1")
    assert merger.inputs == ["x"]
    assert by_id(a, "splitter-1").outputs == ["x"]


@needs_r
def test_index_of_a_replacement_assignment_is_read() -> None:
    a = section("k <- 2\nx <- list(1, 2, 3)", "x[[k]] <- 0", "print(x)")
    assert by_id(a, "processor-1").inputs == ["k", "x"]


@needs_r
def test_replacement_of_a_variable_bound_earlier_in_the_step_is_no_input() -> None:
    a = section("n <- 3", "df <- data.frame(a = seq_len(n))\ndf$b <- df$a * 2", "print(df)")
    assert by_id(a, "processor-1").inputs == ["n"]


# -- functions -----------------------------------------------------------------------------------


@needs_r
def test_free_variables_of_a_function_body_are_inputs_of_its_step() -> None:
    a = section(
        "items <- 1:4\nscale <- 10",
        "f <- function(v) v * scale\nout <- f(items)",
        "print(out)",
    )
    assert by_id(a, "processor-1").inputs == ["items", "scale"]


@needs_r
def test_arguments_and_locals_of_a_function_are_not_inputs() -> None:
    a = section(
        "items <- 1:4\nv <- 0\ntotal <- 0",
        "f <- function(v, k = 2) {\n  total <- v * k\n  for (i in 1:2) total <- total + i\n  total\n}\n"
        "out <- sapply(items, f)",
        "print(out)",
    )
    assert by_id(a, "processor-1").inputs == ["items"]


@needs_r
def test_header_function_is_no_input_of_the_steps_that_call_it() -> None:
    a = section(
        "items <- 1:4",
        "out <- double_it(items)",
        "print(out)",
        header=("double_it <- function(x) x * 2",),
    )
    assert by_id(a, "processor-1").inputs == ["items"]
    assert a.header_names == ["double_it"]


@needs_r
def test_function_defined_in_one_step_and_called_in_another_is_not_passable() -> None:
    a = section("items <- 1:4\nf <- function(x) x * 2", "out <- f(items)", "print(out)")
    assert located(a, "not-passable") == (1, 1, 8)


@needs_r
def test_calling_a_base_function_whose_name_a_step_binds_to_a_value_is_no_input() -> None:
    a = section("t <- 5\nitems <- 1:4", "m <- t(matrix(items))", "print(m)")
    assert by_id(a, "processor-1").inputs == ["items"]


# -- packages, formulas and non-standard evaluation ----------------------------------------------


@needs_r
def test_library_require_and_pkg_calls_are_never_inputs_and_name_the_packages() -> None:
    a = section(
        "library(dplyr)\nrequire('tidyr')\nitems <- 1:4",
        "out <- lubridate::yday(Sys.Date()) + stats::median(items)",
        "print(out)",
    )
    assert by_id(a, "processor-1").inputs == ["items"]
    assert by_id(a, "processor-1").imports == ["lubridate"]
    assert by_id(a, "splitter-1").imports == ["dplyr", "tidyr"]


@needs_r
def test_packages_loaded_in_the_header_are_every_steps_imports() -> None:
    a = section("items <- 1:4", "out <- items", "print(out)", header=("library(ggplot2)",))
    assert [s.imports for s in a.steps] == [["ggplot2"]] * 3


@needs_r
def test_formula_terms_are_not_inputs() -> None:
    a = section(
        "obs <- data.frame(plot = c('a', 'b'), density = c(1, 2))",
        "means <- aggregate(density ~ plot, data = obs, FUN = mean)",
        "print(means)",
    )
    assert by_id(a, "processor-1").inputs == ["obs"]


@needs_r
def test_subset_with_and_transform_read_columns_not_variables() -> None:
    a = section(
        "df <- data.frame(x = 1:4, y = 4:1)",
        "big <- subset(df, x > 1, select = y)\nz <- with(df, x + y)\ndf2 <- transform(df, s = x + y)",
        "print(list(big, z, df2))",
    )
    assert by_id(a, "processor-1").inputs == ["df"]


@needs_r
def test_dplyr_verbs_in_a_pipe_read_columns_not_variables() -> None:
    a = section(
        "library(dplyr)\nobs <- data.frame(plot = 'a', value = 1)",
        "out <- obs %>% filter(value > 0) %>% group_by(plot) %>% summarise(total = sum(value))\n"
        "out2 <- obs |> dplyr::mutate(double = value * 2)",
        "print(out)",
    )
    assert by_id(a, "processor-1").inputs == ["obs"]


@needs_r
def test_magrittr_assignment_pipe_uses_and_changes_its_variable() -> None:
    a = section(
        "library(magrittr)\nlibrary(dplyr)\nobs <- data.frame(v = 1:4)",
        "obs %<>% filter(v > 1)",
        "print(obs)",
    )
    assert by_id(a, "processor-1").inputs == ["obs"]
    assert by_id(a, "processor-1").outputs == ["obs"]


@needs_r
def test_a_name_in_a_data_argument_is_an_input_when_an_earlier_step_binds_it() -> None:
    # `threshold` may be a column or a variable: R decides at run time, so a variable an earlier
    # step provides is passed (a column of that name costs a needless value, never a wrong result).
    a = section(
        "df <- data.frame(x = 1:4)\nthreshold <- 2",
        "big <- subset(df, x > threshold)",
        "print(big)",
    )
    assert by_id(a, "processor-1").inputs == ["df", "threshold"]


# -- loops and unknown names ---------------------------------------------------------------------


@needs_r
def test_for_loop_variable_is_defined_by_the_loop() -> None:
    a = section(
        "items <- 1:4", "total <- 0\nfor (item in items) total <- total + item", "print(total)"
    )
    assert by_id(a, "processor-1").inputs == ["items"]
    assert by_id(a, "processor-1").outputs == ["total"]


@needs_r
def test_names_no_cell_defines_are_neither_inputs_nor_errors() -> None:
    a = section(
        "items <- 1:4", "out <- items * pi + nrow(iris) + T\nbad <- some_column", "print(out)"
    )
    assert by_id(a, "processor-1").inputs == ["items"]
    assert a.errors == []


@needs_r
def test_name_only_a_later_cell_binds_is_a_located_undefined_name() -> None:
    a = section("items <- 1:4", "out <- items + late", "late <- 1\nprint(out)")
    assert located(a, "undefined-name") == (1, 1, 16)
    (d,) = a.errors
    assert "cell 2" in d.hint


@needs_r
def test_a_bare_name_or_constant_statement_is_read() -> None:
    a = section("items <- 1:4", "items\n42\n'text'\nout <- items", "out")
    assert by_id(a, "processor-1").inputs == ["items"] and by_id(a, "merger-1").inputs == ["out"]


# -- bad input: the Python path's located errors -------------------------------------------------


@needs_r
def test_syntax_error_is_located_from_rs_parser() -> None:
    a = section("items <- 1:4", "x <- 1\ny <- (2 +\nz z)", "print(y)")
    (d,) = a.errors
    assert (d.code, d.cell_index, d.line, d.column) == ("syntax-error", 1, 3, 3)
    assert d.message == "syntax error: unexpected symbol"


@needs_r
def test_unterminated_string_is_located_at_its_line() -> None:
    a = run("x <- 'abc")
    assert located(a, "syntax-error") == (0, 1, 6)
    assert "unexpected INCOMPLETE_STRING" in a.errors[0].message


@needs_r
def test_names_a_broken_cell_would_define_are_not_reported_missing() -> None:
    a = section("items <- 1:4 +", "out <- items", "print(out)")
    assert codes(a) == ["syntax-error"]


@needs_r
def test_columns_count_characters_where_r_counts_a_tab_as_up_to_8() -> None:
    a = section("a <- 1", "\tb <- a + late", "late <- 2")
    assert located(a, "undefined-name") == (1, 1, 11)
    broken = run("x <- 1\n\ty <- (2 +\n\tz z)")
    assert located(broken, "syntax-error") == (0, 3, 4)


@needs_r
def test_windows_line_ends_are_read_as_r_reads_lines() -> None:
    a = section("items <- 1:4\r\nscale <- 2\r\n", "out <- items * scale", "print(out)")
    assert codes(a) == ["ambiguous-split-variable"]  # both read: the cell parsed, line by line
    assert by_id(a, "processor-1").inputs == ["items", "scale"]


@needs_r
def test_a_backquoted_name_crossing_steps_is_a_located_unsupported_name() -> None:
    a = section("`my items` <- 1:4\nn <- 1", "x <- n\nout <- `my items` * 2", "print(out)")
    assert located(a, "unsupported-name") == (1, 2, 8)


@needs_r
def test_specs_of_the_r_test_notebooks_validate() -> None:
    for path in sorted(R_NOTEBOOKS.glob("*.ipynb")):
        validate_spec(spec_for_path(path))


@needs_r
def test_missing_merger_is_the_located_error_of_the_python_path() -> None:
    a = run("items <- 1:4", "out <- items", tags={0: S, 1: P})
    assert located(a, "splitter-without-merger") == (0, 1, 1)


@needs_r
def test_ambiguous_split_variable_is_the_located_error_of_the_python_path() -> None:
    a = section("a <- 1:4\nb <- 5:8", "out <- a + b", "print(out)")
    assert located(a, "ambiguous-split-variable") == (0, 1, 1)
    (d,) = a.errors
    assert "naavre:split:<variable>" in d.hint


@needs_r
def test_split_tag_resolves_the_ambiguity_as_in_python() -> None:
    a = run(
        "a <- 1:4\nb <- 5:8",
        "out <- a + b",
        "print(out)",
        tags={0: [*S, "naavre:split:a"], 1: P, 2: M},
    )
    assert a.errors == [] and a.sections[0].split_variable == "a"
    assert a.sections[0].broadcast == ["b"]


@needs_r
@pytest.mark.parametrize(
    ("code", "cells", "tags", "where"),
    [
        ("processor-outside-section", ["x = 1"], {0: P}, (0, 1, 1)),
        ("merger-without-section", ["x = 1"], {0: M}, (0, 1, 1)),
        ("merger-without-processors", ["x = 1", "print(x)"], {0: S, 1: M}, (1, 1, 1)),
        ("splitter-inside-section", ["x = 1", "y = 2"], {0: S, 1: S}, (1, 1, 1)),
        ("no-split-variable", ["x = 1", "y = 3", "print(y)"], {0: S, 1: P, 2: M}, (1, 1, 1)),
        (
            "split-variable-not-flowing",
            ["x = 1", "y = x", "print(y)"],
            {0: [*S, "naavre:split:z"], 1: P, 2: M},
            (0, 1, 1),
        ),
        (
            "unknown-batch-count-parameter",
            ["x = 1", "y = x", "print(y)"],
            {0: ["naavre:splitter", "naavre:batch-count:param_nope"], 1: P, 2: M},
            (0, 1, 1),
        ),
        ("unknown-tag", ["x = 1"], {0: ["naavre:splittr"]}, (0, 1, 1)),
    ],
)
def test_section_and_tag_errors_are_located_in_r_cells_as_in_python(
    code: str, cells: list[str], tags: dict[int, list[str]], where: tuple[int, int, int]
) -> None:
    r = run(*cells, tags=tags)
    python = analyse(code_notebook(*cells, tags=tags), "t")  # the cells are Python too
    assert located(r, code) == where == located(python, code)


@needs_r
@pytest.mark.parametrize("value", ["c(1, 2)", "NA", "Inf", "Sys.Date()", "1i", "list(a = 1)"])
def test_parameter_of_an_unsupported_type_is_located_parameter_not_literal(value: str) -> None:
    a = run("# params\nparam_ok <- 1L", f"param_x <- {value}")
    assert located(a, "parameter-not-literal") == (1, 1, 1)
    assert [p.name for p in a.parameters] == ["param_ok"]


# -- parameters and header -----------------------------------------------------------------------


@needs_r
def test_parameters_get_r_types_in_the_specs_type_vocabulary() -> None:
    a = run(
        'param_i <- 5L\nparam_d = 2.5\nparam_w <- 5\nparam_n <- -3L\nparam_s <- "a"\nparam_b <- TRUE\nparam_z <- NULL'
    )
    assert [(p.name, p.default, p.type) for p in a.parameters] == [
        ("param_i", 5, "int"),
        ("param_d", 2.5, "float"),
        ("param_w", 5.0, "float"),
        ("param_n", -3, "int"),
        ("param_s", "a", "str"),
        ("param_b", True, "bool"),
        ("param_z", None, "null"),
    ]
    assert isinstance(a.parameters[2].default, float)


@needs_r
def test_double_parameter_with_a_whole_value_can_be_the_batch_count() -> None:
    a = run(
        "param_n <- 3",
        "items <- 1:9",
        "out <- items",
        "print(out)",
        tags={1: ["naavre:splitter", "naavre:batch-count:param_n"], 2: P, 3: M},
    )
    assert a.errors == [] and a.sections[0].batch_count == {"parameter": "param_n", "default": 3}


@needs_r
def test_fractional_parameter_as_batch_count_is_the_python_error() -> None:
    a = run(
        "param_n <- 2.5",
        "items <- 1:9",
        "out <- items",
        "print(out)",
        tags={1: ["naavre:splitter", "naavre:batch-count:param_n"], 2: P, 3: M},
    )
    assert located(a, "bad-batch-count-default") == (1, 1, 1)


@needs_r
def test_header_work_duplicate_and_misplaced_parameters_are_warned_and_located() -> None:
    a = section(
        "items <- 1:4\nparam_late <- 1",
        "out <- items",
        "print(out)",
        header=(
            "param_a <- 1L\nparam_a <- 2L\nlibrary(stats)\nv <- c(1, 2)\ndata <- read.csv('x.csv')",
        ),
    )
    assert sorted((d.code, d.cell_index, d.line) for d in a.diagnostics) == [
        ("duplicate-parameter", 0, 2),
        ("header-work", 0, 5),
        ("parameter-outside-header", 1, 2),
    ]
    assert a.parameters[0].default == 2


@needs_r
def test_shell_commands_and_package_installs_are_warned_where_they_are() -> None:
    a = section("items <- 1:4", "system('ls')\nout <- items", "install.packages('x')\nprint(out)")
    assert sorted((d.code, d.cell_index, d.line, d.column) for d in a.diagnostics) == [
        ("install-packages", 2, 1, 1),
        ("shell-escape", 1, 1, 1),
    ]


# -- the NaaVRE notebooks' patterns --------------------------------------------------------------


@needs_r
def test_traits_notebook_needs_no_workarounds_for_columns_and_loop_variables() -> None:
    spec = spec_for_path(R_NOTEBOOKS / "traits.ipynb")
    assert spec["diagnostics"] == []
    assert [(s["id"], s["inputs"], s["outputs"]) for s in spec["steps"]] == [
        ("read-samples", [], ["samples"]),
        ("biovolume", ["samples"], ["traits"]),
        ("totals", ["traits"], []),
    ]
    assert spec["header"]["names"] == [
        "conf_biovolume",
        "conf_digits",
        "param_calc_type",
        "round_trait",
    ]


@needs_r
def test_pipelines_notebook_reads_columns_in_pipes_and_formulas_not_as_inputs() -> None:
    spec = spec_for_path(R_NOTEBOOKS / "pipelines.ipynb")
    assert spec["diagnostics"] == []
    assert [(s["id"], s["inputs"], s["outputs"]) for s in spec["steps"]] == [
        ("observations", [], ["obs", "plots"]),
        ("first-bud-burst-per-plot", ["obs", "plots"], ["budburst"]),
        ("report", ["budburst"], []),
    ]
    assert spec["sections"][0]["broadcast"] == ["obs"]


@needs_r
def test_the_bodies_of_rs_own_stats_functions_are_all_read() -> None:
    # R's own code as cells (each body's statements at the top level of a cell): every construct
    # base R uses; none may stop the analyser (a bare name as a statement once did).
    program = (
        "ns <- asNamespace('stats'); fs <- Filter(function(f) is.function(ns[[f]]) && "
        "!is.primitive(ns[[f]]), sort(ls(ns)))[1:200]; "
        "cat(vapply(fs, function(f) paste(deparse(body(ns[[f]])), collapse = '\\n'), ''), "
        "sep = '\\036')"
    )
    text = subprocess.run(
        ["Rscript", "--vanilla", "-e", program], capture_output=True, text=True, check=True
    ).stdout
    sources = text.split("\x1e")
    results = r_analysis.analyse_r_sources(sources)
    assert len(results) == len(sources) == 200
    assert [i for i, r in enumerate(results) if "events" not in r] == []


# -- the seam ------------------------------------------------------------------------------------


@needs_r
def test_one_rscript_process_reads_all_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    real = subprocess.run

    def counting(args: list[str], **kwargs: Any) -> Any:
        calls.append(args)
        return real(args, **kwargs)

    monkeypatch.setattr(r_analysis.subprocess, "run", counting)
    a = run(*[f"x{i} <- {i}" for i in range(20)])
    assert len(calls) == 1 and len(a.header_cells) == 20


def test_without_r_an_r_notebook_fails_with_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NotebookError) as err:
        run("x <- 1")
    assert "Rscript was not found" in err.value.message
    assert "r-base-core r-cran-codetools" in err.value.hint


def test_without_r_check_exits_2_with_one_line_and_no_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_tmp(r_notebook("x <- 1"), tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "needs R" in err and "r-base-core" in err and "Traceback" not in err


def test_without_r_cli_run_exits_2_with_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_tmp(r_notebook("x <- 1"), tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "r-base-core" in err and "Traceback" not in err


@needs_r
async def test_rest_spec_of_the_r_seed_is_the_core_spec(jp_fetch: Any, jp_root_dir: Path) -> None:
    shutil.copy(EXAMPLES / "splitting-batches-r-tagged.ipynb", jp_root_dir / "seed-r.ipynb")
    spec = await api_post(jp_fetch, "spec", {"path": "seed-r.ipynb"})
    assert spec == spec_for_path(jp_root_dir / "seed-r.ipynb", "seed-r.ipynb")
    assert spec["notebook"]["language"] == "R"


async def test_rest_spec_of_an_r_notebook_without_r_is_400_with_what_to_install(
    jp_fetch: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    body = {"path": "r.ipynb", "notebook": json.loads(json.dumps(r_notebook("x <- 1")))}
    code, reply = await api_error(jp_fetch, "spec", body)
    assert code == 400 and "Rscript was not found" in reply["message"]
    assert "r-base-core" in reply["hint"]


@pytest.mark.parametrize(
    ("source", "line"), [("%%R -i x\ny <- x * 2", 1), ("# split: go\n%%R\ny <- 2", 2)]
)
def test_python_notebook_with_an_rpy2_cell_magic_gets_a_located_error(
    source: str, line: int
) -> None:
    a = analyse(code_notebook("x = 1", source, tags={1: S}), "t")
    (d,) = [d for d in a.errors if d.code == "r-magic"]
    assert (d.cell_index, d.line) == (1, line) and "'%%R'" in d.message and "R notebook" in d.hint
    assert "magic" not in codes(a)


def test_kernel_in_another_language_is_refused_naming_it() -> None:
    nb = r_notebook("x <- 1")
    nb.metadata["kernelspec"] = {"name": "julia", "display_name": "Julia", "language": "julia"}
    nb.metadata["language_info"] = {"name": "julia"}
    with pytest.raises(NotebookError, match="kernel is julia, not Python or R"):
        analyse(json.loads(json.dumps(nb)), "t")
