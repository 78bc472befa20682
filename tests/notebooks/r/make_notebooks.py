"""Write the R test notebooks (run from anywhere: ``python tests/notebooks/r/make_notebooks.py``).

Small tagged R notebooks (IRkernel, kernel ``ir``) that reproduce what the public NaaVRE R notebooks
(QCDIS/lifewatch-notebooks) do, without their workarounds; the cells are kept as plain text here so
a reader sees what each notebook does without opening JSON. Base R only, so they also run.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

HERE = Path(__file__).parent

SPLITTER = "naavre:splitter"
PROCESSOR = "naavre:processor"
MERGER = "naavre:merger"

NOTEBOOKS: dict[str, list[tuple[list[str], str]]] = {
    # TraitsComputation_NaaVRE's pattern: configuration in the header, a data frame whose columns
    # are read by subset(), with() and eval(parse()), names bound in loops and by [[<-, and no
    # `df.temp = ''` lines (NaaVRE needed them so that columns and later assignments were not
    # taken for inputs).
    "traits": [
        (
            [],
            (
                "# input parameters\n"
                'param_calc_type <- "advanced"\n'
                "conf_biovolume <- 1\n"
                "conf_digits <- 2L\n"
                "round_trait <- function(x) round(x, conf_digits)\n"
            ),
        ),
        (
            [SPLITTER, "naavre:batch-count:3"],
            (
                "# split: read samples\n"
                "samples <- data.frame(\n"
                '  scientificname = c("Ceratium", "Navicula", "Nitzschia", "Ceratium", "Navicula"),\n'
                '  measurementremarks = c("Cell", "CELL", "cell", "Colony", "cell"),\n'
                "  diameter = c(10, 4.5, 3, 12, 5),\n"
                "  height = c(20, 9, 30, 22, 10),\n"
                '  formula = c("pi/6*diameter^3", "pi/4*diameter^2*height", NA, "pi/6*diameter^3",\n'
                '              "pi/4*diameter^2*height"),\n'
                "  stringsAsFactors = FALSE\n"
                ")\n"
                'samples[, "measurementremarks"] <- tolower(samples[, "measurementremarks"])\n'
                'samples[, "index"] <- seq_len(nrow(samples))  # to restore the row order later\n'
            ),
        ),
        (
            [PROCESSOR],
            (
                "# process: biovolume\n"
                "traits <- samples\n"
                "if (conf_biovolume == 1 && param_calc_type == 'advanced') {\n"
                '  traits[, "biovolume"] <- rep(NA, length = nrow(traits))\n'
                '  concat <- traits[is.na(traits[, "formula"]), ]\n'
                '  for (form in unique(traits[!is.na(traits[, "formula"]), "formula"])) {\n'
                "    part <- subset(traits, formula == form)\n"
                '    part[["biovolume"]] <- round_trait(with(part, eval(parse(text = form))))\n'
                "    concat <- rbind(concat, part)\n"
                "  }\n"
                '  traits <- concat[order(concat[, "index"]), ]\n'
                "}\n"
            ),
        ),
        (
            [MERGER],
            (
                "# merge: totals\n"
                "traits$density <- 1000\n"
                "traits$totalbiovolume <- round_trait(traits$density * traits$biovolume)\n"
                "totals <- aggregate(totalbiovolume ~ scientificname, data = traits, FUN = sum)\n"
                "print(totals)\n"
            ),
        ),
    ],
    # Veluwe-proto-DT's pattern: data frame pipelines whose verbs read columns (dplyr style; here
    # base R's pipe and functions so the notebook needs no package), formula lambdas, tables made
    # by assign() at run time, and packages called as pkg::fun.
    "pipelines": [
        (
            [],
            ('# settings\ncrit_meas_type <- "bud burst stage"\ncrit_meas_value <- 1\n'),
        ),
        (
            [SPLITTER, "naavre:batch-count:2", "naavre:split:plots"],
            (
                "# split: observations\n"
                "obs <- data.frame(plot = rep(c('a', 'b', 'c'), each = 4),\n"
                "                  measurementType = 'bud burst stage',\n"
                "                  measurementValue = c(0, 1, 2, 3, 0, 0, 1, 2, 1, 2, 3, 3),\n"
                "                  eventDate = as.Date('2023-04-01') + 0:11)\n"
                "plots <- unique(obs$plot)\n"
            ),
        ),
        (
            [PROCESSOR],
            (
                "# process: first bud burst per plot\n"
                "crown <- obs |>\n"
                "  subset(measurementType == crit_meas_type & measurementValue >= crit_meas_value) |>\n"
                "  transform(DOY = as.integer(format(eventDate, '%j')))\n"
                "crown <- crown[crown$plot %in% plots, ]\n"
                "first <- aggregate(DOY ~ plot, data = crown, FUN = min)\n"
                "for (p in plots) assign(paste0('tbl_', p), subset(crown, plot == p))\n"
                "budburst <- stats::setNames(first$DOY, first$plot)\n"
            ),
        ),
        (
            [MERGER],
            (
                "# merge: report\n"
                "report <- Map(function(plot, doy) sprintf('%s: day %d', plot, doy),\n"
                "              names(budburst), budburst)\n"
                "cat(unlist(report), sep = '\\n')\n"
            ),
        ),
    ],
}


def notebook(cells: list[tuple[list[str], str]]) -> nbformat.NotebookNode:
    """An IRkernel notebook of these code cells (ids ``c0``, ``c1``...), tagged."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    nb.metadata["language_info"] = {"name": "R"}
    for i, (tags, source) in enumerate(cells):
        cell = nbformat.v4.new_code_cell(source)
        cell.id = f"c{i}"
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    return nb


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nbformat.write(notebook(cells), HERE / f"{name}.ipynb")


if __name__ == "__main__":
    main()
