"""Analysis of tagged notebooks: steps, header, parameters, data flow, sections, diagnostics."""

from __future__ import annotations

import pytest
from helpers import TUTORIALS, code_notebook, tagged_seed_notebook, tagged_tutorial

from naavre_batch_ext.core.analysis import Analysis, analyse, step_id_from_title

S = ["naavre:splitter", "naavre:batch-count:2"]
P = ["naavre:processor"]
M = ["naavre:merger"]


def run(*sources: str, tags: dict[int, list[str]] | None = None) -> Analysis:
    return analyse(code_notebook(*sources, tags=tags), "t")


def codes(a: Analysis) -> list[str]:
    return [d.code for d in a.diagnostics]


def step(a: Analysis, index: int):  # type: ignore[no-untyped-def]
    return a.steps[index]


# -- the seed and the tutorials ---------------------------------------------------------------


def test_seed_has_three_steps_in_one_section_without_diagnostics() -> None:
    a = analyse(tagged_seed_notebook(), "splitting-batches")
    assert [(s.id, s.role) for s in a.steps] == [
        ("gen-batches", "splitter"),
        ("process-batches", "processor"),
        ("retrieve-batches", "merger"),
    ]
    assert a.diagnostics == []


def test_seed_header_is_cell_2_with_both_parameters() -> None:
    a = analyse(tagged_seed_notebook(), "splitting-batches")
    assert [c.index for c in a.header_cells] == [2]
    assert [(p.name, p.default, p.type, p.line) for p in a.parameters] == [
        ("param_item_count", 28, "int", 2),
        ("param_max_batch_count", 5, "int", 3),
    ]


def test_seed_split_variable_batches_and_merged_processed_batches() -> None:
    a = analyse(tagged_seed_notebook(), "splitting-batches")
    (section,) = a.sections
    assert section.split_variable == "batches"
    assert section.merged == ["processed_batches"]
    assert section.batch_count == {"parameter": "param_max_batch_count", "default": 5}


def test_seed_inputs_and_outputs_follow_the_cells() -> None:
    a = analyse(tagged_seed_notebook(), "splitting-batches")
    assert [(s.inputs, s.outputs) for s in a.steps] == [
        ([], ["batches"]),
        (["batches"], ["processed_batches"]),
        (["processed_batches"], []),
    ]


@pytest.mark.parametrize("name", TUTORIALS)
def test_each_tutorial_analyses_into_one_clean_section(name: str) -> None:
    a = analyse(tagged_tutorial(name), name)
    assert a.errors == []
    assert len(a.sections) == 1 and a.sections[0].split_variable is not None


def test_classic_tutorial_splits_items_and_merges_processed_items() -> None:
    a = analyse(tagged_tutorial("splitting-classic"), "splitting-classic")
    assert (a.sections[0].split_variable, a.sections[0].merged) == ("items", ["processed_items"])


def test_exercise_two_has_literal_batch_count_and_no_header() -> None:
    a = analyse(tagged_tutorial("exercise-2-split-and-merge-solution"), "ex2")
    assert a.header_cells == [] and a.sections[0].batch_count == {"value": 2}


# -- steps and ids ------------------------------------------------------------------------------


def test_untagged_code_cell_joins_the_step_above() -> None:
    a = run("xs = [1]", "ys = xs", "zs = [y for y in ys]", "print(zs)", tags={0: S, 1: P, 3: M})
    assert [c.index for c in a.steps[1].cells] == [1, 2]


def test_markdown_cells_are_ignored_but_keep_their_index() -> None:
    nb = code_notebook("xs = [1]", "ys = list(xs)", "print(ys)", tags={0: S, 1: P, 2: M})
    import nbformat

    nb.cells.insert(1, nbformat.v4.new_markdown_cell("# notes"))
    a = analyse(nb, "t")
    assert [s.cells[0].index for s in a.steps] == [0, 2, 3] and a.errors == []


def test_step_id_uses_text_after_the_colon() -> None:
    assert step_id_from_title("split: gen batches") == "gen-batches"


def test_step_id_is_a_dns_label() -> None:
    assert step_id_from_title("Ünïcode & CAPS__here!! ") == "n-code-caps-here"


def test_step_id_falls_back_to_role_and_number_without_a_comment() -> None:
    a = run("xs = [1]", "ys = list(xs)", "print(ys)", tags={0: S, 1: P, 2: M})
    assert [s.id for s in a.steps] == ["splitter-1", "processor-1", "merger-1"]


def test_duplicate_step_titles_get_unique_ids() -> None:
    a = run(
        "# do it\nxs = [1]", "# do it\nys = list(xs)", "# do it\nprint(ys)", tags={0: S, 1: P, 2: M}
    )
    assert [s.id for s in a.steps] == ["do-it", "do-it-2", "do-it-3"]


def test_step_id_starting_with_a_digit_gets_the_role_prefix() -> None:
    a = run("# 1st\nxs = [1]", "ys = list(xs)", "print(ys)", tags={0: S, 1: P, 2: M})
    assert a.steps[0].id == "splitter-1st"


def test_empty_notebook_is_valid_with_a_warning() -> None:
    a = run()
    assert codes(a) == ["no-steps"] and a.errors == []


# -- data flow ----------------------------------------------------------------------------------


def test_input_comes_from_the_latest_provider() -> None:
    a = run(
        "xs = [1, 2]",
        "ys = [x * 2 for x in xs]",
        "xs = ys",
        "us = list(xs)",
        "vs = [u for u in us]",
        "print(vs, xs)",
        tags={0: S, 1: P, 2: M, 3: S, 4: P, 5: M},
    )
    # xs is rebound by the first merger: the last step reads it from there, not from the splitter.
    assert [
        (e.source, e.kind) for e in a.edges if e.target == "merger-2" and "xs" in e.variables
    ] == [("merger-1", "data")]


def test_builtins_and_header_names_are_not_inputs() -> None:
    a = run(
        "import math\nparam_n = 3",
        "xs = list(range(param_n))",
        "ys = [math.sqrt(x) for x in xs]",
        "print(ys)",
        tags={1: S, 2: P, 3: M},
    )
    assert a.steps[1].inputs == ["xs"] and a.errors == []


def test_name_bound_before_use_in_the_same_step_is_not_an_input() -> None:
    a = run(
        "xs = [1]",
        "total = 0\nfor x in xs:\n    total += x\nres = [total]",
        "print(res)",
        tags={0: S, 1: P, 2: M},
    )
    assert a.steps[1].inputs == ["xs"]


def test_append_makes_the_step_provide_the_name() -> None:
    a = run(
        "xs = [1]\nresults = []",
        "for x in xs:\n    results.append(x)",
        "print(results)",
        tags={0: ["naavre:splitter", "naavre:batch-count:2", "naavre:split:xs"], 1: P, 2: M},
    )
    assert a.steps[1].outputs == ["results"]
    assert ("processor-1", "merger-1", "merge") in [(e.source, e.target, e.kind) for e in a.edges]


@pytest.mark.parametrize(
    "mutation",
    [
        "results[0] = 1",
        "results += [1]",
        "results.update({1: 2})",
        "results.attr = 1",
        "del results[0]",
    ],
)
def test_in_place_change_counts_as_provided(mutation: str) -> None:
    a = run(
        "xs = [1]\nresults = []",
        f"ys = list(xs)\n{mutation}",
        "print(results, ys)",
        tags={0: ["naavre:splitter", "naavre:batch-count:2", "naavre:split:xs"], 1: P, 2: M},
    )
    assert "results" in a.steps[1].outputs and "results" in a.sections[0].merged


def test_method_call_on_a_module_is_not_a_mutation() -> None:
    a = run(
        "import os",
        "xs = [1]",
        "os.environ.update({'A': '1'})\nys = list(xs)",
        "print(ys)",
        tags={1: S, 2: P, 3: M},
    )
    assert "os" not in a.steps[2].outputs


def test_function_body_names_are_needed_at_the_end_of_the_step() -> None:
    a = run(
        "xs = [1]",
        "def f(v):\n    return v * k\nk = 2\nys = [f(x) for x in xs]",
        "print(ys)",
        tags={0: S, 1: P, 2: M},
    )
    assert a.steps[1].inputs == ["xs"] and a.errors == []


def test_undefined_name_is_a_located_error() -> None:
    a = run(
        "xs = [1]", "ys = [x for x in xs]\nzs = ys + missing", "print(zs)", tags={0: S, 1: P, 2: M}
    )
    (d,) = a.errors
    assert (d.code, d.cell_index, d.cell_id, d.line, d.column) == ("undefined-name", 1, "c1", 2, 11)


def test_name_defined_only_later_gets_a_move_hint() -> None:
    a = run("xs = [late]", "ys = list(xs)", "print(ys)\nlate = 1", tags={0: S, 1: P, 2: M})
    (d,) = a.errors
    assert d.code == "undefined-name" and "cell 2" in d.hint


def test_module_imported_in_a_step_and_used_in_another_is_an_error() -> None:
    a = run(
        "import json\nxs = [1]",
        "ys = [json.dumps(x) for x in xs]",
        "print(ys)",
        tags={0: ["naavre:splitter", "naavre:batch-count:2", "naavre:split:xs"], 1: P, 2: M},
    )
    assert "not-passable" in codes(a)


# -- syntax errors, magics, header ------------------------------------------------------------


def test_syntax_error_is_located_and_the_rest_is_analysed() -> None:
    a = run(
        "xs = [1]",
        "ys = [x for x in xs]\nthis is = not python",
        "print(ys)\nprint(nope)",
        tags={0: S, 1: P, 2: M},
    )
    syntax = [d for d in a.diagnostics if d.code == "syntax-error"]
    assert [(d.cell_index, d.line) for d in syntax] == [(1, 2)]
    assert len(a.steps) == 3


def test_undefined_name_in_a_cell_before_a_syntax_error_is_still_reported() -> None:
    a = run("xs = [nope]", "ys = list(xs)\n)", "print(ys)", tags={0: S, 1: P, 2: M})
    assert sorted(codes(a)) == ["syntax-error", "undefined-name"]


def test_line_magic_in_a_step_is_a_warning_at_its_line() -> None:
    a = run("xs = [1]", "ys = list(xs)\n%time zs = 1", "print(ys)", tags={0: S, 1: P, 2: M})
    (d,) = a.warnings
    assert (d.code, d.cell_index, d.line) == ("magic", 1, 2)


@pytest.mark.parametrize(
    ("magic", "shown"),
    [
        ("%matplotlib inline", "%matplotlib inline"),
        ("%matplotlib", "%matplotlib"),
        ('%config InlineBackend.figure_format = "retina"', "%config InlineBackend.figure_format"),
        ("%load_ext autoreload", "%load_ext autoreload"),
        ("%autoreload 2", "%autoreload 2"),
        ("%precision 3", "%precision 3"),
    ],
)
def test_display_magic_in_a_step_is_a_display_magic_warning(magic: str, shown: str) -> None:
    a = run("xs = [1]", f"ys = list(xs)\n{magic}", "print(ys)", tags={0: S, 1: P, 2: M})
    (d,) = a.warnings
    assert (d.code, d.cell_index, d.line) == ("display-magic", 1, 2)
    assert f"IPython magic '{shown}" in d.message
    assert "ignored in workflow steps" in d.message


def test_display_magic_in_the_header_is_a_display_magic_warning() -> None:
    a = run(
        "%matplotlib inline\nimport math",
        "xs = [1]",
        "ys = list(xs)",
        "print(ys)",
        tags={1: S, 2: P, 3: M},
    )
    assert [(d.code, d.cell_index, d.line) for d in a.warnings] == [("display-magic", 0, 1)]


@pytest.mark.parametrize(
    "magic",
    ["%load_ext sql", "%pylab", "%env X=1", "%run other.py", "get_ipython().magic('matplotlib')"],
)
def test_other_line_magics_keep_the_magic_warning(magic: str) -> None:
    a = run("xs = [1]", f"ys = list(xs)\n{magic}", "print(ys)", tags={0: S, 1: P, 2: M})
    assert [d.code for d in a.warnings] == ["magic"]


def test_display_magics_are_named_for_the_step_runtime() -> None:
    from naavre_batch_ext.core.analysis import DISPLAY_MAGICS, is_display_magic

    assert {"matplotlib", "config", "autoreload", "precision"} <= set(DISPLAY_MAGICS)
    assert is_display_magic("load_ext", "autoreload")
    assert not is_display_magic("load_ext", "sql")
    assert not is_display_magic("time", "x = 1")


def test_shell_escape_in_a_step_is_a_warning() -> None:
    a = run("xs = [1]\n!ls", "ys = list(xs)", "print(ys)", tags={0: S, 1: P, 2: M})
    assert [(d.code, d.line) for d in a.warnings] == [("shell-escape", 2)]


def test_header_call_is_a_header_work_warning() -> None:
    a = run(
        "import math\nparam_n = 2\nbig = list(range(10**6))",
        "xs = [1]",
        "ys = list(xs)",
        "print(ys)",
        tags={1: S, 2: P, 3: M},
    )
    assert [(d.code, d.line) for d in a.warnings] == [("header-work", 3)]


def test_header_definitions_do_no_work() -> None:
    a = run(
        "import math\nfrom os import path\nK = 3\ndef f(x):\n    return x\nclass C:\n    pass",
        "xs = [1]",
        "ys = list(xs)",
        "print(ys)",
        tags={1: S, 2: P, 3: M},
    )
    assert a.diagnostics == []


def test_non_literal_parameter_is_a_warning() -> None:
    a = run("param_n = int('3')", "xs = [1]", "ys = list(xs)", "print(ys)", tags={1: S, 2: P, 3: M})
    assert "parameter-not-literal" in codes(a) and a.parameters == []


def test_parameter_types_are_recorded() -> None:
    a = run(
        "param_a = 1.5\nparam_b = 'x'\nparam_c = True\nparam_d = (1, 2)\nparam_e = None",
        "xs = [1]",
        "ys = list(xs)",
        "print(ys)",
        tags={1: S, 2: P, 3: M},
    )
    assert [(p.type, p.default) for p in a.parameters] == [
        ("float", 1.5),
        ("str", "x"),
        ("bool", True),
        ("list", [1, 2]),
        ("null", None),
    ]


def test_parameter_assigned_in_a_step_is_a_warning() -> None:
    a = run("xs = [1]\nparam_x = 3", "ys = list(xs)", "print(ys)", tags={0: S, 1: P, 2: M})
    assert "parameter-outside-header" in codes(a)


def test_third_party_imports_are_recorded_per_step_with_the_header_ones() -> None:
    a = run(
        "import numpy as np",
        "import itertools, pandas.io\nxs = [1]",
        "ys = list(xs)",
        "print(ys)",
        tags={1: S, 2: P, 3: M},
    )
    assert a.steps[0].imports == ["numpy", "pandas"] and a.steps[1].imports == ["numpy"]


def test_tag_problem_becomes_a_located_diagnostic() -> None:
    a = run("xs = [1]", tags={0: ["naavre:splitter"]})
    d = next(d for d in a.diagnostics if d.code == "missing-batch-count")
    assert (d.cell_index, d.cell_id, d.severity) == (0, "c0", "error")


# -- sections -----------------------------------------------------------------------------------


def test_two_sections_in_a_row() -> None:
    a = run(
        "xs = [1, 2]",
        "ys = [x + 1 for x in xs]",
        "zs = list(ys)",
        "us = list(zs)",
        "ws = [u * 2 for u in us]",
        "print(ws)",
        tags={0: S, 1: P, 2: M, 3: S, 4: P, 5: M},
    )
    assert [(s.splitter, s.split_variable, s.merged) for s in a.sections] == [
        ("splitter-1", "xs", ["ys"]),
        ("splitter-2", "us", ["ws"]),
    ]
    assert a.errors == []


def test_several_processors_chain_with_data_edges() -> None:
    a = run(
        "xs = [1]",
        "ys = [x + 1 for x in xs]",
        "zs = [y * 2 for y in ys]",
        "print(zs)",
        tags={0: S, 1: P, 2: P, 3: M},
    )
    kinds = {(e.source, e.target): e.kind for e in a.edges}
    assert kinds == {
        ("splitter-1", "processor-1"): "split",
        ("processor-1", "processor-2"): "data",
        ("processor-2", "merger-1"): "merge",
    }


def test_value_from_before_the_section_is_broadcast() -> None:
    a = run(
        "xs = [1]\nfactor = 3",
        "ys = [x * factor for x in xs]",
        "print(ys)",
        tags={0: ["naavre:splitter", "naavre:batch-count:2", "naavre:split:xs"], 1: P, 2: M},
    )
    assert a.sections[0].broadcast == ["factor"]
    assert {e.kind for e in a.edges} == {"split", "broadcast", "merge"}


@pytest.mark.parametrize(
    ("tags", "code", "cell"),
    [
        ({1: P, 2: M}, "processor-outside-section", 1),
        ({0: S, 2: M}, "merger-without-processors", 2),
        ({0: S, 1: P}, "splitter-without-merger", 0),
        ({0: S, 1: S, 2: M}, "splitter-inside-section", 1),
        ({2: M}, "merger-without-section", 2),
    ],
)
def test_section_structure_errors_name_the_cell(
    tags: dict[int, list[str]], code: str, cell: int
) -> None:
    a = run("xs = [1]", "ys = list(xs)", "print(ys)", tags=tags)
    found = [d for d in a.errors if d.code == code]
    assert [d.cell_index for d in found] == [cell] and found[0].hint


def test_no_split_variable_is_an_error() -> None:
    a = run("xs = [1]", "ys = [1]", "print(ys)", tags={0: S, 1: P, 2: M})
    assert "no-split-variable" in codes(a)


def test_several_candidates_without_a_split_tag_is_an_error() -> None:
    a = run("xs = [1]\nws = [2]", "ys = xs + ws", "print(ys)", tags={0: S, 1: P, 2: M})
    (d,) = [d for d in a.errors if d.code == "ambiguous-split-variable"]
    assert d.cell_index == 0 and "naavre:split:" in d.hint


def test_split_tag_picks_the_variable_and_the_other_is_broadcast() -> None:
    a = run(
        "xs = [1]\nws = [2]",
        "ys = xs + ws",
        "print(ys)",
        tags={0: ["naavre:splitter", "naavre:batch-count:2", "naavre:split:ws"], 1: P, 2: M},
    )
    assert (a.sections[0].split_variable, a.sections[0].broadcast) == ("ws", ["xs"])


def test_split_tag_naming_a_variable_not_set_by_the_splitter_is_an_error() -> None:
    a = run(
        "xs = [1]",
        "ys = list(xs)",
        "print(ys)",
        tags={0: ["naavre:splitter", "naavre:batch-count:2", "naavre:split:nope"], 1: P, 2: M},
    )
    assert "split-variable-not-flowing" in codes(a)


def test_unknown_batch_count_parameter_is_an_error() -> None:
    a = run(
        "param_n = 2",
        "xs = [1]",
        "ys = list(xs)",
        "print(ys)",
        tags={1: ["naavre:splitter", "naavre:batch-count:param_m"], 2: P, 3: M},
    )
    (d,) = a.errors
    assert d.code == "unknown-batch-count-parameter" and "param_n" in d.hint


def test_batch_count_parameter_with_a_non_integer_default_is_an_error() -> None:
    a = run(
        "param_m = 'two'",
        "xs = [1]",
        "ys = list(xs)",
        "print(ys)",
        tags={1: ["naavre:splitter", "naavre:batch-count:param_m"], 2: P, 3: M},
    )
    assert [d.code for d in a.errors] == ["bad-batch-count-default"]


def test_tags_on_a_markdown_cell_are_a_warning() -> None:
    import nbformat

    nb = code_notebook("xs = [1]")
    md = nbformat.v4.new_markdown_cell("hi")
    md.metadata["tags"] = ["naavre:processor"]
    nb.cells.append(md)
    assert [d.code for d in analyse(nb, "t").diagnostics] == ["no-steps", "tag-on-non-code-cell"]


def test_cell_magic_with_a_python_body_keeps_its_data_flow() -> None:
    a = run("xs = [1]", "%%time\nys = list(xs)", "print(ys)", tags={0: S, 1: P, 2: M})
    assert [d.code for d in a.diagnostics] == ["magic"]
    assert a.steps[1].inputs == ["xs"] and a.steps[1].outputs == ["ys"]


def test_line_magic_with_python_keeps_its_data_flow() -> None:
    """`%time ys = list(xs)` reads xs and defines ys, as the line runs in IPython."""
    a = run("xs = [1]", "%time ys = list(xs)\nzs = ys", "print(zs)", tags={0: S, 1: P, 2: M})
    assert [d.code for d in a.diagnostics] == ["magic"]
    assert a.steps[1].inputs == ["xs"] and a.steps[1].outputs == ["zs"]


def test_leading_blank_lines_keep_the_cells_line_numbers() -> None:
    a = run("\n\n%time x = 1\ny = nope")
    assert [(d.code, d.line) for d in a.diagnostics if d.code != "no-steps"] == [
        ("magic", 3),
        ("undefined-name", 4),
    ]


@pytest.mark.parametrize("name", TUTORIALS)
def test_plain_python_fast_path_gives_what_ipython_gives(name: str) -> None:
    from IPython.core.inputtransformer2 import TransformerManager

    a = analyse(tagged_tutorial(name), name)
    manager = TransformerManager()
    for cell in [*a.header_cells, *(c for s in a.steps for c in s.cells)]:
        assert cell.source == manager.transform_cell(cell.original)


def test_untagged_notebook_warns_once_not_on_every_header_statement(seed_path) -> None:
    """Before any tag, the whole notebook is header: only "no cell is tagged" is worth saying."""
    from naavre_batch_ext.core.notebook import load_notebook

    a = analyse(load_notebook(seed_path), "splitting-batches")
    assert [d.code for d in a.diagnostics] == ["no-steps"]


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("matplotlib", "inline"),
        ("config", "InlineBackend.figure_format = 'retina'"),
        ("load_ext", "autoreload"),
        ("autoreload", "2"),
        ("precision", "3"),
        ("load_ext", "sql"),
        ("time", "x = 1"),
    ],
)
def test_check_and_the_step_runtime_agree_on_which_magics_are_skipped(name: str, line: str) -> None:
    # check's display-magic warning says "ignored in workflow steps": the step runtime's
    # get_ipython() stand-in must skip exactly those, and refuse the others.
    from naavre_batch_ext.core.analysis import is_display_magic
    from naavre_batch_ext.steps.step_runtime import _NoIPython

    skipped = True
    try:
        _NoIPython().run_line_magic(name, line)
    except RuntimeError:
        skipped = False
    assert skipped == is_display_magic(name, line)


# -- issue 22 ---------------------------------------------------------------------------------

VEC = "class Vec:\n    def __init__(self, x):\n        self.x = x\n\n    def double(self):\n        return Vec(self.x * 2)\n"


def test_a_header_class_whose_method_names_its_own_class_is_accepted() -> None:
    """Item 6: the method body runs when called, after ``class Vec`` has bound ``Vec``."""
    a = run(
        VEC,
        "xs = [Vec(1).double()]",
        "ys = [v.x for v in xs]",
        "print(ys)",
        tags={1: S, 2: P, 3: M},
    )
    assert codes(a) == []


def test_a_step_class_whose_method_names_its_own_class_is_accepted() -> None:
    a = run(
        VEC + "\nxs = [Vec(1).double().x]", "ys = list(xs)", "print(ys)", tags={0: S, 1: P, 2: M}
    )
    assert "undefined-name" not in codes(a)


def test_a_method_still_reports_a_name_nothing_defines() -> None:
    a = run(
        "class Vec:\n    def double(self):\n        return Vecc(1)\n",
        "xs = [1]",
        "ys = list(xs)",
        "print(ys)",
        tags={1: S, 2: P, 3: M},
    )
    assert [(d.code, d.cell_index, d.line) for d in a.errors] == [("undefined-name", 0, 3)]


def test_a_class_defined_in_a_step_that_hands_values_on_is_a_warning() -> None:
    """Item 12: its instances cannot be read in the next step's process: define it in the header."""
    a = run(
        "class P:\n    pass\n\n\nxs = [P(), P()]",
        "ys = [type(p).__name__ for p in xs]",
        "print(ys)",
        tags={0: S, 1: P, 2: M},
    )
    [warning] = [d for d in a.warnings if d.code == "class-in-step"]
    assert (warning.cell_index, warning.line) == (0, 1)
    assert "define classes in the header" in warning.hint
