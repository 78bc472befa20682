"""Write the R notebooks of every value shape (``python tests/notebooks/r/make_value_notebooks.py``).

Each is a small tagged R notebook (IRkernel, kernel ``ir``, base R only) whose values must cross the
step boundaries exactly (tests/test_r_values.py runs each in both contexts and under Argo and
cwltool): a data frame with factor, Date and integer columns; doubles with NA, NaN, -0 and Inf;
nested named lists with header functions and broadcast constants; POSIXct with a time zone; an
empty list; parameters of each R type. Each prints in its processor and its merger. The cells are
plain text here so a reader sees what each notebook does without opening JSON.
"""

from __future__ import annotations

from pathlib import Path

from make_notebooks import MERGER, PROCESSOR, notebook  # type: ignore[import-not-found]

HERE = Path(__file__).parent


def splitter(batch_count: str = "3") -> list[str]:
    return ["naavre:splitter", f"naavre:batch-count:{batch_count}"]


NOTEBOOKS: dict[str, list[tuple[list[str], str]]] = {
    "frame": [
        ([], "# parameters\nparam_rows <- 7L\nweight <- 3L\n"),
        (
            splitter(),
            "# split: observations\n"
            "obs <- data.frame(\n"
            '  plot = factor(rep(c("p2", "p1", "p3"), length.out = param_rows),\n'
            '                levels = c("p1", "p2", "p3", "unused")),\n'
            '  day = as.Date("2024-05-01") + seq_len(param_rows) - 1L,\n'
            "  count = seq_len(param_rows) * 2L,\n"
            '  row.names = paste0("obs", seq_len(param_rows))\n'
            ")\n",
        ),
        (
            [PROCESSOR],
            "# process: weigh\n"
            "weighed <- obs\n"
            "weighed$weight <- weighed$count * weight\n"
            'weighed$week <- format(weighed$day, "%V")\n'
            'cat("rows in this batch:", rownames(obs), "\\n")\n',
        ),
        (
            [MERGER],
            "# merge: report\n"
            "print(weighed)\n"
            'print(vapply(weighed, function(column) class(column)[1], ""))\n'
            "print(table(weighed$plot))\n",
        ),
    ],
    "doubles": [
        (
            splitter("4"),
            "# split: values\n"
            "values <- c(1.5, NA, NaN, -0, Inf, -Inf, 0.1 + 0.2, 1e-300, 5e-324, 2^53 + 1)\n",
        ),
        (
            [PROCESSOR],
            "# process: halve\n"
            "halves <- values / 2\n"
            "signs <- sign(1 / values)\n"
            'cat("halving", length(values), "values\\n")\n',
        ),
        (
            [MERGER],
            "# merge: exact\n"
            'cat(sprintf("%a", halves), "\\n")\n'
            "print(is.na(halves) & !is.nan(halves))\n"
            "print(signs)\n",
        ),
    ],
    "nested": [
        (
            [],
            "# header: a parameter, a constant and a function every step uses\n"
            "param_scale <- 2.5\n"
            "area_digits <- 1L\n"
            "describe_site <- function(site) {\n"
            "  area <- round(site$area * param_scale, area_digits)\n"
            "  list(name = site$name, area = area, tags = as.list(site$tags))\n"
            "}\n",
        ),
        (
            [*splitter("2"), "naavre:split:sites"],
            "# split: sites\n"
            "# units: a constant every processor instance gets whole (broadcast)\n"
            'units <- list(area = "ha", depth = list(unit = "m", precision = 2L))\n'
            "sites <- list(\n"
            '  north = list(name = "north", area = 1, tags = c("wet", "grass")),\n'
            '  east = list(name = "east", area = 2.25, tags = character(0)),\n'
            '  south = list(name = "south", area = NA_real_, tags = "dry"),\n'
            '  west = list(name = "west", area = 4L, tags = NULL)\n'
            ")\n",
        ),
        (
            [PROCESSOR],
            "# process: describe\n"
            "summaries <- lapply(sites, function(site) c(describe_site(site), list(units = units)))\n"
            'cat("described", names(sites), "\\n")\n',
        ),
        (
            [MERGER],
            '# merge: show\nstr(summaries)\ncat(names(summaries), "\\n")\n',
        ),
    ],
    "posixct": [
        (
            splitter("3"),
            "# split: times\n# across the change to summer time\n"
            'times <- as.POSIXct("2024-03-31 00:30:00", tz = "Europe/Amsterdam") + 3600 * 0:5\n',
        ),
        (
            [PROCESSOR],
            "# process: shift\n"
            "shifted <- times + 1800\n"
            'labels <- format(shifted, "%H:%M %Z")\n'
            'cat("shifted", format(times, "%H:%M"), "\\n")\n',
        ),
        (
            [MERGER],
            '# merge: show\nprint(shifted)\nprint(attr(shifted, "tzone"))\nprint(labels)\n',
        ),
    ],
    "empty": [
        (splitter("4"), "# split: nothing to do\nitems <- list()\n"),
        (
            [PROCESSOR],
            "# process: double\n"
            "doubled <- lapply(items, function(x) x * 2)\n"
            'cat("batch of", length(items), "items\\n")\n',
        ),
        (
            [MERGER],
            "# merge: show\nprint(length(doubled))\nprint(class(doubled))\nstr(doubled)\n",
        ),
    ],
    "parameters": [
        (
            [],
            "# parameters of each R type\n"
            "param_count <- 4L\n"
            "param_threshold <- 2.5\n"
            'param_label <- "plots"\n'
            "param_verbose <- TRUE\n",
        ),
        (splitter("param_count"), "# split: numbers\nnumbers <- seq_len(param_count)\n"),
        (
            [PROCESSOR],
            "# process: compare\nabove <- numbers[numbers > param_threshold]\n"
            'if (param_verbose) cat(param_label, ":", above, "\\n")\n',
        ),
        (
            [MERGER],
            "# merge: types\n"
            "print(above)\n"
            "print(c(class(param_count), class(param_threshold), class(param_label),\n"
            "        class(param_verbose)))\n"
            "print(list(param_count, param_threshold, param_label, param_verbose))\n",
        ),
    ],
}


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        import nbformat

        nbformat.write(notebook(cells), HERE / f"{name}.ipynb")


if __name__ == "__main__":
    main()
