"""``naavre-batch``: the extension's features headless, for terminals and CI pipelines.

Each subcommand is a pair of functions: ``_add_<name>(subparsers)`` declares its arguments and
``_cmd_<name>(args) -> int`` parses, calls the core and prints. Register new ones in
:func:`build_parser`.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from . import SPEC_API_VERSION, __version__

if TYPE_CHECKING:  # the subcommands import the core lazily, so --help stays fast
    from .core.notebook import NotebookError


def _fail_notebook(path: str, exc: NotebookError) -> int:
    """:func:`_fail` for a notebook the core cannot read, naming the file once."""
    message = exc.message if exc.message.startswith(f"{path}:") else f"{path}: {exc.message}"
    return _fail(message, exc.hint)


def _fail(message: str, hint: str = "") -> int:
    """A one-line error for a file the core cannot use (exit 2), never a traceback."""
    text = f"naavre-batch: error: {message}"
    if hint:
        text += f" (hint: {hint})"
    print(text, file=sys.stderr)
    return 2


_STOP_SIGNALS: tuple[int, ...] = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)
"""Signals that stop a run like Ctrl-C (Windows has no SIGHUP)."""


class _Stopped(Exception):
    """Raised in the main thread by SIGTERM or SIGHUP during ``run`` (see :func:`_cmd_run`)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_on_signals(*signums: int) -> Callable[[], None]:
    """Make each signal raise :class:`_Stopped` in the main thread; returns a function that puts
    the previous handlers back. Does nothing outside the main thread (signals cannot be set)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def raise_stopped(signum: int, frame: object) -> None:
        raise _Stopped(signum)

    previous = {signum: signal.signal(signum, raise_stopped) for signum in signums}

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    return restore


def _ignore_signals(*signums: int) -> None:
    if threading.current_thread() is threading.main_thread():
        for signum in signums:
            signal.signal(signum, signal.SIG_IGN)


def _add_check(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "check",
        help="report the diagnostics of a tagged notebook",
        description="Analyse NOTEBOOK and print 'file:cell N:line:col: error|warning: message' "
        "lines with a hint. Exit 1 on any error, 2 when the file is not a usable notebook.",
    )
    p.add_argument("notebook", metavar="NOTEBOOK")
    p.set_defaults(func=_cmd_check)


def _cmd_check(args: argparse.Namespace) -> int:
    from .core.diagnostics import format_diagnostic
    from .core.notebook import NotebookError
    from .core.spec import spec_for_path

    try:
        spec = spec_for_path(args.notebook)
    except NotebookError as exc:
        return _fail_notebook(args.notebook, exc)
    for d in spec["diagnostics"]:
        print(format_diagnostic(d, args.notebook))
    summary = spec["summary"]
    print(
        f"{args.notebook}: {len(spec['steps'])} steps, {len(spec['sections'])} sections, "
        f"{summary['errors']} errors, {summary['warnings']} warnings"
    )
    return 1 if summary["errors"] else 0


def _add_spec(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "spec",
        help="print or write the workflow spec (JSON) of a tagged notebook",
        description="Write the naavre-batch/v1 spec of NOTEBOOK to stdout or to FILE. "
        "Exit 1 when the spec has errors (it is still written), 2 for an unusable file.",
    )
    p.add_argument("notebook", metavar="NOTEBOOK")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.set_defaults(func=_cmd_spec)


def _cmd_spec(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .core.notebook import NotebookError
    from .core.spec import dumps_spec, spec_for_path
    from .exporters.export import ExportExistsError, ExportTargetError, write_export

    if args.output and Path(args.output).exists() and not args.force:
        return _fail(
            f"{args.output} exists", "use --force to overwrite it, or choose another -o FILE"
        )
    try:
        spec = spec_for_path(args.notebook)
    except NotebookError as exc:
        return _fail_notebook(args.notebook, exc)
    text = dumps_spec(spec)
    if args.output:
        try:
            write_export(args.output, text, force=args.force, source=args.notebook)
        except (ExportExistsError, ExportTargetError) as exc:
            return _fail(exc.message, exc.hint)
        except OSError as exc:
            return _fail(f"cannot write {args.output}: {exc.strerror}")
    else:
        sys.stdout.write(text)
    errors = spec["summary"]["errors"]
    if errors:
        print(
            f"naavre-batch: {errors} errors (run 'naavre-batch check {args.notebook}')",
            file=sys.stderr,
        )
    return 1 if errors else 0


def _add_tag(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "tag",
        help="set a cell's naavre: role in a notebook file",
        description="Set the role of code cell N (its index in the notebook, counting markdown "
        "cells, from 0) and save; every other tag and all metadata are kept.",
    )
    p.add_argument("notebook", metavar="NOTEBOOK")
    p.add_argument("--cell", type=int, required=True, metavar="N", help="cell index, from 0")
    p.add_argument("--role", required=True, choices=["splitter", "processor", "merger", "none"])
    p.add_argument(
        "--batch-count", metavar="X", help="splitter only: an integer >= 1 or a param_ name"
    )
    p.add_argument("--split", metavar="VAR", help="splitter only: the list variable to split")
    p.set_defaults(func=_cmd_tag)


def _cmd_tag(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .core.notebook import NotebookError, load_notebook, write_notebook
    from .core.tags import cell_annotation, set_cell_role

    try:
        nb = load_notebook(args.notebook)
        original = Path(args.notebook).read_text(encoding="utf-8")
    except NotebookError as exc:
        return _fail_notebook(args.notebook, exc)
    code_cells = ", ".join(str(i) for i, c in enumerate(nb.cells) if c.get("cell_type") == "code")
    hint = f"its code cells are {code_cells}" if code_cells else "the notebook has no code cell"
    if not 0 <= args.cell < len(nb.cells):
        where = f"cells 0 to {len(nb.cells) - 1}" if nb.cells else "no cells"
        return _fail(f"no cell {args.cell}: the notebook has {where}", hint)
    cell = nb.cells[args.cell]
    if cell.get("cell_type") != "code":
        return _fail(
            f"cell {args.cell} is a {cell.get('cell_type')} cell", f"tag a code cell: {hint}"
        )
    try:
        set_cell_role(cell, args.role, args.batch_count, args.split)
    except ValueError as exc:
        return _fail(str(exc))
    try:
        write_notebook(nb, args.notebook, like=original)
    except OSError as exc:
        return _fail(f"cannot write {args.notebook}: {exc.strerror}")
    tags = ", ".join(cell.metadata.get("tags", [])) or "no tags"
    print(f"{args.notebook}: cell {args.cell}: {tags}")
    # Saved as asked (the user may be tagging step by step), but a tag set that is still
    # incomplete, such as a splitter without a batch count, is said now rather than at run time.
    for problem in cell_annotation(cell).problems:
        print(
            f"{args.notebook}:cell {args.cell}: {problem.severity}: {problem.message}",
            file=sys.stderr,
        )
        print(f"    hint: {problem.hint}", file=sys.stderr)
    return 0


def _runnable(path: str) -> tuple[Any, dict[str, Any]] | int:
    """The notebook and its spec, ready to run; else the exit status after saying why (2 for an
    unusable file, 1 for analysis errors). Warnings (magics, no steps, ...) go to stderr: they
    explain surprises to come."""
    from .core.diagnostics import format_diagnostic
    from .core.notebook import NotebookError, load_notebook
    from .core.spec import build_spec

    try:
        nb = load_notebook(path)
        spec = build_spec(nb, path)  # an R notebook without R installed: NotebookError
    except NotebookError as exc:
        return _fail_notebook(path, exc)
    for d in spec["diagnostics"]:
        print(format_diagnostic(d, path), file=sys.stderr)
    if spec["summary"]["errors"]:
        print(f"naavre-batch: {spec['summary']['errors']} errors; nothing was run", file=sys.stderr)
        return 1
    return nb, spec


def _add_parameter_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a workflow parameter (a JSON literal, else text); repeatable",
    )


def _add_run(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "run",
        help="run a tagged notebook in notebook and/or workflow context and compare",
        description="Run NOTEBOOK in notebook context (one kernel), in workflow context (each step "
        "instance in its own process, as on a cluster) or both, and compare every value that "
        "crosses a step boundary. Exit 0 when every run succeeded (and, for both, gave the same "
        "result); 1 on failures, differences or analysis errors; 2 for bad input; 130 when "
        "interrupted (Ctrl-C), 143 on SIGTERM, 129 on SIGHUP (each first stops every step process "
        "and the kernel). Runs are kept in .naavre-batch/runs/<id>/ next to the notebook.",
    )
    p.add_argument("notebook", metavar="NOTEBOOK")
    p.add_argument(
        "--context",
        choices=["notebook", "workflow", "both", "cwl"],
        default="both",
        help="default: both; cwl runs the CWL export with cwltool (the naavre-batch-ext[cwl] "
        "extra) instead of the workflow context, and compares it with the notebook context",
    )
    _add_parameter_option(p)
    p.add_argument(
        "--parallelism",
        type=int,
        metavar="N",
        help="processor instances at a time (default: the CPU count)",
    )
    p.add_argument(
        "--kernel", metavar="NAME", help="kernel for notebook context (default: the notebook's)"
    )
    p.add_argument("--runs-dir", metavar="DIR", help="keep runs here instead of .naavre-batch/runs")
    p.add_argument(
        "--reuse",
        action="store_true",
        help="workflow context: take every task instance whose script, parameters and input "
        "bytes are unchanged from the runs folder's store instead of running it, and store the "
        "others (steps tagged naavre:no-reuse always run); see docs/running.md",
    )
    p.add_argument(
        "--resume",
        metavar="RUN_ID",
        help="workflow context: run again only the instances of run RUN_ID that failed or did not "
        "run (and what follows them), with that run's parameters (-p overrides them)",
    )
    p.add_argument(
        "--reuse-limit",
        type=int,
        metavar="MB",
        help="size bound of the reuse store in megabytes (default 2048); the least recently "
        "used entries are evicted at the end of a run",
    )
    p.add_argument("--json", action="store_true", help="print the whole result as JSON on stdout")
    p.set_defaults(func=_cmd_run)


def _cmd_run(args: argparse.Namespace) -> int:
    import json

    from .engines.runner import CancelHandle, RunError, parse_parameter_options, run
    from .progress import ProgressPrinter, format_comparison, format_errors, format_summary

    if args.parallelism is not None and args.parallelism < 1:
        return _fail("--parallelism must be at least 1")
    if args.reuse_limit is not None and args.reuse_limit < 1:
        return _fail("--reuse-limit must be at least 1 (megabytes)")
    if args.context == "cwl" and (args.reuse or args.resume):
        return _fail(
            "--reuse and --resume apply to the workflow context, not cwl",
            "use --context workflow or both",
        )
    loaded = _runnable(args.notebook)
    if isinstance(loaded, int):
        return loaded
    nb, spec = loaded
    try:
        parameters = parse_parameter_options(args.parameter, spec)
    except RunError as exc:
        return _fail(exc.message, exc.hint)
    cancel = CancelHandle()
    # The run happens in a worker thread so that Ctrl-C reaches the main thread, which cancels it.
    # The worker leaves exactly one of these three for the main thread to report.
    result: dict[str, Any] | None = None
    error: RunError | None = None
    crash: BaseException | None = None

    # Wait on an Event, not on Thread.join(): a KeyboardInterrupt inside join() can leave the
    # thread marked as stopped while it still runs (CPython gh-90882), so the CLI would exit
    # before the cancelled run had cleaned up.
    done = threading.Event()

    def work() -> None:
        nonlocal result, error, crash
        try:
            if args.context == "cwl":
                from .engines import cwl_runner

                result = cwl_runner.run(
                    args.notebook,
                    parameters,
                    spec=spec,
                    nb=nb,
                    kernel=args.kernel,
                    progress=ProgressPrinter(sys.stderr),
                    cancel=cancel,
                )
                return
            result = run(
                args.notebook,
                args.context,
                parameters,
                spec=spec,
                nb=nb,
                parallelism=args.parallelism,
                kernel=args.kernel,
                runs_dir=args.runs_dir,
                progress=ProgressPrinter(sys.stderr),
                cancel=cancel,
                reuse_store=args.reuse,
                resume=args.resume,
                reuse_limit=args.reuse_limit * 1024 * 1024 if args.reuse_limit else None,
            )
        except RunError as exc:
            error = exc
        except BaseException as exc:  # reported below, in the main thread
            crash = exc
        finally:
            done.set()

    worker = threading.Thread(target=work, name="naavre-batch-run", daemon=True)
    # SIGTERM (kill, systemd, a CI timeout) and SIGHUP (the terminal closed) stop the run as Ctrl-C
    # does. Left to their default they would end this process at once, and the step processes,
    # each in its own process group so that a terminal's Ctrl-C reaches only the CLI, would
    # run on forever.
    restore = _raise_on_signals(*_STOP_SIGNALS)
    try:
        worker.start()
        while not done.wait(0.2):
            pass
    except (KeyboardInterrupt, _Stopped) as exc:
        signum = exc.signum if isinstance(exc, _Stopped) else signal.SIGINT
        what = (
            "interrupted" if signum == signal.SIGINT else f"{signal.Signals(signum).name} received"
        )
        print(f"\nnaavre-batch: {what}; stopping every step process", file=sys.stderr)
        _ignore_signals(*_STOP_SIGNALS)  # a second one must not cut the clean-up
        cancel.cancel()
        if worker.ident is not None:  # started: it sets done once the run has cleaned up
            done.wait()
        return 128 + signum  # 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP, as shells report
    finally:
        restore()
    worker.join()
    if crash is not None:
        raise crash
    if error is not None:
        return _fail(error.message, error.hint)
    assert result is not None  # work() returned normally
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        for key in ("notebook_run", "workflow_run"):
            if key in result:
                print(format_summary(result[key]))
                errors = format_errors(result[key])
                if errors:
                    print(errors)
        if "comparison" in result:
            print(format_comparison(result["comparison"]))
    return {"ok": 0, "cancelled": 130}.get(result["status"], 1)


def _add_advise(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "advise",
        help="the expected processor time against the batch count, and the best batch count",
        description="Print, for each split/merge section of NOTEBOOK, the expected wall time of "
        "its processor stage for each batch count m, from the time per item measured by the "
        "newest run with the same parameters (the notebook context is run once when there is "
        "none), and the m that minimises it. See docs/panel.md#choosing-the-batch-count.",
    )
    p.add_argument("notebook", metavar="NOTEBOOK")
    _add_parameter_option(p)
    p.add_argument(
        "--parallelism",
        type=int,
        metavar="P",
        help="instances the cluster runs at once (default: the export parallelism of your "
        "settings, else no limit)",
    )
    p.add_argument(
        "--start-cost",
        type=float,
        metavar="S",
        help="seconds each instance costs beyond its items: pod start, value transfer "
        "(default: the overhead the notebook's last finished cluster run measured, else the "
        "advisorStartCost setting, else 10)",
    )
    p.add_argument(
        "--kernel", metavar="NAME", help="kernel for notebook context (default: the notebook's)"
    )
    p.add_argument(
        "--runs-dir", metavar="DIR", help="runs are kept here, not in .naavre-batch/runs"
    )
    p.add_argument("--json", action="store_true", help="print the tables as JSON on stdout")
    p.set_defaults(func=_cmd_advise)


def _cmd_advise(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from .engines import advisor, timings
    from .engines.runner import (
        RunError,
        check_runs_folder,
        new_run_id,
        parse_parameter_options,
        run,
    )
    from .progress import ProgressPrinter, format_advice, format_errors
    from .settings import SettingsError, advisor_start_cost, export_defaults

    if args.parallelism is not None and args.parallelism < 1:
        return _fail("--parallelism must be at least 1")
    if args.start_cost is not None and args.start_cost < 0:
        return _fail("--start-cost cannot be negative")
    loaded = _runnable(args.notebook)
    if isinstance(loaded, int):
        return loaded
    nb, spec = loaded
    if not spec.get("sections"):
        return _fail(
            "the notebook has no split/merge section: there is no batch count to choose",
            "tag a splitter, processors and a merger (naavre-batch tag)",
        )
    try:
        parameters = parse_parameter_options(args.parameter, spec)
        runs = check_runs_folder(args.notebook, args.runs_dir)
        parallelism = args.parallelism or export_defaults().get("parallelism")
        settings_cost = advisor_start_cost() if args.start_cost is None else None
    except RunError as exc:
        return _fail(exc.message, exc.hint)
    except SettingsError as exc:
        return _fail(str(exc))
    values = {p["name"]: p["default"] for p in spec.get("parameters", [])} | parameters
    measurement = advisor.choose_measurement(timings.load_measurements(runs, args.notebook), values)
    if measurement is None:
        print(
            "naavre-batch: no run with these parameters measured the time per item; "
            "running the notebook context once",
            file=sys.stderr,
        )
        try:
            result = run(
                args.notebook,
                "notebook",
                parameters,
                spec=spec,
                nb=nb,
                kernel=args.kernel,
                progress=ProgressPrinter(sys.stderr),
            )
        except RunError as exc:
            return _fail(exc.message, exc.hint)
        notebook_run = result["notebook_run"]
        if notebook_run["status"] != "ok":
            print(format_errors(notebook_run), file=sys.stderr)
            return _fail("the notebook context failed; nothing to measure")
        folder = runs / new_run_id()
        folder.mkdir()
        timings.save_measurement(
            folder, str(Path(args.notebook).resolve()), values, notebook_run["timings"], None
        )
        measurement = {"notebook": notebook_run["timings"], "workflow": None}
    start_cost, source = advisor.choose_start_cost(
        args.start_cost,
        "--start-cost",
        timings.last_cluster_run(runs, args.notebook),
        measurement,
        settings_cost,
    )
    sections = advisor.advise_sections(
        spec, measurement, parameters, parallelism, start_cost, source
    )
    if not sections:
        return _fail(
            "the run measured no section (did the splitter hand on a list?)",
            "naavre-batch run NOTEBOOK shows what each step handed on",
        )
    if args.json:
        print(json.dumps({"sections": sections, "model": advisor.MODEL}, indent=1))
    else:
        print(format_advice(sections, advisor.MODEL))
    return 0


class _ArgoDefault(str):
    """Help text that names a default of :class:`~naavre_batch_ext.exporters.argo.ArgoOptions`, looked up
    only when argparse formats the help: importing the Argo exporter (PyYAML, the step scripts)
    would otherwise slow every command, ``--version`` included, by tens of milliseconds."""

    attr: str

    def __new__(cls, template: str, attr: str) -> _ArgoDefault:
        text = super().__new__(cls, template)
        text.attr = attr
        return text

    def __mod__(self, params: Any) -> str:
        from .exporters.argo import ArgoOptions

        return str.__mod__(str(self), {**params, "argo_default": getattr(ArgoOptions(), self.attr)})


def _add_argo_options(p: argparse.ArgumentParser, namespace_help: str) -> None:
    """The Argo export's options, the same for ``export`` and ``submit``."""
    p.add_argument(
        "--image",
        metavar="IMG",
        help=_ArgoDefault("container image of every step (default: %(argo_default)s)", "image"),
    )
    for role in ("splitter", "processor", "merger"):
        p.add_argument(
            f"--image-{role}", metavar="IMG", help=f"image of the {role} (default: --image)"
        )
    p.add_argument(
        "--parallelism", type=int, metavar="N", help="at most N pods at a time (default: no cap)"
    )
    p.add_argument(
        "--retries",
        type=int,
        metavar="N",
        help=_ArgoDefault(
            "retries of a failed processor pod (default: %(argo_default)s)", "retries"
        ),
    )
    p.add_argument("--namespace", metavar="NS", help=namespace_help)
    p.add_argument("--service-account", metavar="SA", help="service account the pods run as")
    p.add_argument("--cpu", metavar="REQ", help="CPU request of each pod, e.g. 500m")
    p.add_argument("--memory", metavar="REQ", help="memory request of each pod, e.g. 1Gi")
    p.add_argument(
        "--values",
        choices=["parameters", "artifacts"],
        help=_ArgoDefault(
            "how values cross steps: parameters (small values, no artifact repository) or "
            "artifacts (any size, in the cluster's artifact repository) "
            "(default: %(argo_default)s)",
            "values",
        ),
    )
    p.add_argument(
        "--artifact-repository-ref",
        metavar="NAME",
        help="with --values artifacts: the repository NAME of the artifact-repositories config "
        "map instead of the namespace's default",
    )
    p.add_argument(
        "--pod-gc",
        metavar="STRATEGY",
        type=_or_none(str),
        help=_ArgoDefault(
            "when Argo deletes pods: OnPodSuccess, OnPodCompletion, OnWorkflowSuccess, "
            "OnWorkflowCompletion or none (default: %(argo_default)s)",
            "pod_gc",
        ),
    )
    p.add_argument(
        "--ttl-after-success",
        metavar="SECONDS",
        type=_or_none(int),
        help=_ArgoDefault(
            "delete the workflow this long after it succeeded; none keeps it "
            "(default: %(argo_default)s)",
            "ttl_after_success",
        ),
    )
    p.add_argument(
        "--ttl-after-failure",
        metavar="SECONDS",
        type=_or_none(int),
        help=_ArgoDefault(
            "delete the workflow this long after it failed; none keeps it "
            "(default: %(argo_default)s)",
            "ttl_after_failure",
        ),
    )
    p.add_argument(
        "--active-deadline",
        metavar="SECONDS",
        type=_or_none(int),
        help=_ArgoDefault(
            "stop the workflow when it runs longer (activeDeadlineSeconds); none: no limit "
            "(default: %(argo_default)s)",
            "active_deadline_seconds",
        ),
    )
    p.add_argument(
        "--retry-backoff",
        metavar="DURATION",
        help=_ArgoDefault(
            "first wait before retrying a processor pod, doubling up to 10 minutes "
            "(default: %(argo_default)s)",
            "retry_backoff",
        ),
    )


def _add_export(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "export",
        help="write an Argo Workflow, a CWL workflow (or the spec JSON) for a tagged notebook",
        description="Write NOTEBOOK as one Argo Workflow that 'argo submit' runs as is "
        "(--format argo, default FILE <stem>.argo.yaml beside the notebook), as one CWL v1.2 "
        "document that cwltool or toil-cwl-runner runs as is (--format cwl, <stem>.cwl and the "
        "job file <stem>.job.yml with the parameter defaults) or as its spec "
        "(--format json, <stem>.workflow.json). An existing FILE is never overwritten without "
        "--force. Exit 1 on analysis errors (nothing is written) or an existing FILE, 2 for an "
        "unusable notebook or bad options. Warnings go to stderr. --image, --parallelism and "
        "--retries default to the extension's JupyterLab settings (Settings Editor > Batch "
        "Workflow) when the user set them there, else to the values shown.",
    )
    p.add_argument("notebook", metavar="NOTEBOOK")
    p.add_argument(
        "--format",
        choices=["argo", "cwl", "json"],
        default="argo",
        help="default: argo; cwl writes <stem>.cwl and its job file <stem>.job.yml",
    )
    p.add_argument("-o", "--output", metavar="FILE", help="output file ('-' for stdout)")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    _add_argo_options(p, "Kubernetes namespace of the workflow")
    p.set_defaults(func=_cmd_export)


_NONE = object()
"""An option given as ``none``: set the field to ``None`` (remove the setting from the workflow)."""

EXPORT_FLAGS: dict[str, str] = {
    "image_splitter": "--image-splitter",
    "image_processor": "--image-processor",
    "image_merger": "--image-merger",
    "active_deadline_seconds": "--active-deadline",
}
"""ArgoOptions fields whose flag is not ``--`` + the field name with ``-`` for ``_``."""


def _or_none(kind: type) -> Any:
    """An argparse ``type`` that also takes ``none`` (any case) for "no such setting"."""

    def parse(text: str) -> Any:
        return _NONE if text.strip().lower() == "none" else kind(text)

    parse.__name__ = kind.__name__  # argparse names the type in "invalid int value"
    return parse


def _flag(option: str) -> str:
    """The ``export`` flag of an ArgoOptions field, for error messages."""
    return EXPORT_FLAGS.get(option, "--" + option.replace("_", "-"))


def _argo_options(args: argparse.Namespace, namespace: str | None) -> Any:
    """The export's ``ArgoOptions`` from the flags of :func:`_add_argo_options`, checked:
    ArgoOptions' defaults, then the user's JupyterLab settings, then the options the panel saved
    in the notebook's metadata (as the panel), then the flags. Raises ``SettingsError``,
    ``OptionError`` (naming the option) or ``ValueError``."""
    from .core.notebook import NotebookError, load_notebook_data
    from .exporters.argo import ArgoOptions
    from .settings import export_defaults, notebook_export_options

    try:
        saved = notebook_export_options(load_notebook_data(args.notebook), args.notebook)
    except (NotebookError, OSError):
        saved = {}  # the export reads the notebook next and says what is wrong with it

    given = {
        key: value
        for key, value in (
            ("image", args.image),
            ("parallelism", args.parallelism),
            ("retries", args.retries),
            ("namespace", namespace),
            ("service_account", args.service_account),
            ("cpu", args.cpu),
            ("memory", args.memory),
            ("values", args.values),
            ("artifact_repository_ref", args.artifact_repository_ref),
            ("pod_gc", args.pod_gc),
            ("ttl_after_success", args.ttl_after_success),
            ("ttl_after_failure", args.ttl_after_failure),
            ("active_deadline_seconds", args.active_deadline),
            ("retry_backoff", args.retry_backoff),
        )
        if value is not None
    }
    given = {key: (None if value is _NONE else value) for key, value in given.items()}
    images = {
        role: getattr(args, f"image_{role}")
        for role in ("splitter", "processor", "merger")
        if getattr(args, f"image_{role}") is not None
    }
    options = ArgoOptions(images=images, **{**export_defaults(), **saved, **given})
    options.check()
    return options


def _cmd_export(args: argparse.Namespace) -> int:
    from .core.diagnostics import format_diagnostic
    from .core.notebook import NotebookError
    from .core.spec import spec_for_path
    from .exporters.argo import NothingToExportError, export_warnings
    from .exporters.export import (
        ExportExistsError,
        ExportTargetError,
        default_output_path,
        export_files,
        render_export,
        write_exports,
    )
    from .exporters.k8s_options import OptionError
    from .settings import SettingsError
    from .steps.scripts import PlanError

    if args.format == "cwl":
        # Cluster settings of Argo's; a CWL engine takes them on its own command line.
        for flag, value, hint in (
            ("--parallelism", args.parallelism, "cwltool --parallel, toil-cwl-runner --maxJobs N"),
            ("--retries", args.retries, "toil-cwl-runner --retryCount N"),
            ("--namespace", args.namespace, "the Kubernetes settings of toil-cwl-runner"),
            ("--service-account", args.service_account, "the Kubernetes settings of Toil"),
        ):
            if value is not None:
                return _fail(f"{flag} does not apply to --format cwl", f"give the engine {hint}")
    try:
        options = _argo_options(args, args.namespace)
        if args.format == "cwl":
            from .exporters.cwl import check_options

            check_options(options)
    except SettingsError as exc:
        return _fail(str(exc), exc.hint)
    except OptionError as exc:
        return _fail(f"{_flag(exc.option)}: {exc.problem}")
    except ValueError as exc:
        return _fail(str(exc))
    try:
        spec = spec_for_path(args.notebook)
    except NotebookError as exc:
        return _fail_notebook(args.notebook, exc)
    for d in spec["diagnostics"]:
        print(format_diagnostic(d, args.notebook), file=sys.stderr)
    errors = spec["summary"]["errors"]
    if errors:
        print(f"naavre-batch: {errors} errors; nothing was exported", file=sys.stderr)
        return 1
    try:
        text = render_export(spec, args.format, options)
    except NothingToExportError as exc:
        print(f"naavre-batch: error: {exc}", file=sys.stderr)
        return 1
    except PlanError as exc:
        return _fail(str(exc))
    warnings = []
    if args.format == "argo":
        warnings = export_warnings(spec, options, text)
    elif args.format == "cwl":  # the image warning applies; Argo's size limits do not
        warnings = [w for w in export_warnings(spec, options) if w.code == "third-party-imports"]
    for w in warnings:
        print(f"naavre-batch: warning: {w.message}", file=sys.stderr)
        if w.hint:
            print(f"    hint: {w.hint}", file=sys.stderr)
    if args.output == "-":
        sys.stdout.write(text)
        if args.format == "cwl":
            print(
                "naavre-batch: the job file was not written (stdout); cwltool takes the "
                "parameters as --NAME VALUE too",
                file=sys.stderr,
            )
        return 0
    target = args.output or default_output_path(args.notebook, args.format)
    try:
        files = export_files(spec, args.format, target, options, text=text)
        written, *others = write_exports(files, force=args.force, source=args.notebook)
    except ExportExistsError as exc:
        print(f"naavre-batch: error: {exc.message} (hint: {exc.hint})", file=sys.stderr)
        return 1
    except ExportTargetError as exc:
        return _fail(exc.message, exc.hint)
    except OSError as exc:
        return _fail(f"cannot write {target}: {exc.strerror}")
    if args.format == "argo":
        print(f"wrote {written}; submit it with: argo submit {_shell_word(written)} --watch")
    elif args.format == "cwl":
        job = others[0]
        document, job_file = _shell_word(written), _shell_word(job)
        print(f"wrote {written} and {job}; run them with: cwltool {document} {job_file}")
    else:
        print(f"wrote {written}")
    return 0


def _shell_word(path: object) -> str:
    """A file name as one word of a command to paste into a shell: quoted (spaces, quotes), and
    ``./`` before a name starting with ``-``, which a command would take for an option."""
    import shlex

    text = str(path)
    return shlex.quote("./" + text if text.startswith("-") else text)


def _add_submit(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "submit",
        help="run a tagged notebook on an Argo server (export and create the workflow)",
        description="Export NOTEBOOK as 'naavre-batch export' does (same options) and create the "
        "Workflow on the Argo server named by ARGO_SERVER (ARGO_NAMESPACE, ARGO_TOKEN, "
        "ARGO_INSECURE_SKIP_VERIFY, ARGO_BASE_HREF as for the argo CLI; see docs/cluster.md). "
        "With --watch, follow it and print a progress table until it ends. Exit 0 when created "
        "(with --watch: when it succeeded), 1 when it failed or the notebook has errors, 2 for "
        "bad input or a connection problem, 130 when interrupted (the run goes on).",
    )
    p.add_argument("notebook", metavar="NOTEBOOK")
    p.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a workflow parameter's value for this run (a JSON literal, else text); repeatable",
    )
    p.add_argument("--watch", action="store_true", help="follow the run until it ends")
    p.add_argument(
        "--interval", type=float, default=2.0, metavar="S", help="seconds between polls (2)"
    )
    _add_argo_options(p, "namespace of the workflow (default: ARGO_NAMESPACE)")
    p.set_defaults(func=_cmd_submit)


def _cmd_submit(args: argparse.Namespace) -> int:
    import asyncio
    import contextlib
    import os
    import time

    from .core.diagnostics import format_diagnostic
    from .core.notebook import NotebookError
    from .core.spec import spec_for_path
    from .engines.cluster import (
        ClusterConfigError,
        ClusterError,
        create_request,
        failure_location,
        format_status_table,
        get_request,
        item_range_text,
        log_request,
        log_text,
        missing_log_reason,
        run_status,
        settings_from,
        workflow_for,
    )
    from .engines.cluster_answers import read_workflow
    from .engines.cluster_client import ArgoClient
    from .engines.runner import RunError, parse_parameter_options
    from .engines.timings import record_cluster_run
    from .exporters.argo import NothingToExportError
    from .exporters.k8s_options import OptionError
    from .settings import SettingsError
    from .steps.scripts import PlanError

    try:
        settings = settings_from(os.environ)
        namespace = args.namespace or settings.namespace
        options = _argo_options(args, namespace)
    except ClusterConfigError as exc:
        return _fail(exc.message, exc.hint)
    except SettingsError as exc:
        return _fail(str(exc), exc.hint)
    except OptionError as exc:
        return _fail(f"{_flag(exc.option)}: {exc.problem}")
    except ValueError as exc:
        return _fail(str(exc))
    try:
        spec = spec_for_path(args.notebook)
    except NotebookError as exc:
        return _fail_notebook(args.notebook, exc)
    for d in spec["diagnostics"]:
        print(format_diagnostic(d, args.notebook), file=sys.stderr)
    if spec["summary"]["errors"]:
        print(
            f"naavre-batch: {spec['summary']['errors']} errors; nothing was submitted",
            file=sys.stderr,
        )
        return 1
    try:
        parameters = parse_parameter_options(args.parameter, spec)
        workflow = workflow_for(spec, args.notebook, options, parameters, namespace)
    except RunError as exc:
        return _fail(exc.message, exc.hint)
    except (NothingToExportError, PlanError, ValueError) as exc:
        return _fail(str(exc))
    client = ArgoClient(settings)

    async def follow() -> int:
        created = read_workflow(
            await client.send(create_request(namespace, workflow)),
            "create the workflow",
            created=True,
        )
        name = created["metadata"]["name"]
        print(f"submitted {name} to {settings.base_url} (namespace {namespace})")
        if not args.watch:
            print(f"follow it with: argo watch -n {namespace} {name}")
            return 0
        shown = ""
        while True:
            status = run_status(read_workflow(await client.send(get_request(namespace, name))))
            table = format_status_table({**status, "seconds": None})
            if table != shown:
                print(f"[{time.strftime('%H:%M:%S')}] " + format_status_table(status), flush=True)
                shown = table
            if status["finished"]:
                with contextlib.suppress(OSError):  # only the advisor's default is lost
                    record_cluster_run(args.notebook, status)
                await show_logs(name, status)
                return 0 if status["phase"] == "Succeeded" else 1
            await asyncio.sleep(max(0.05, args.interval))

    async def show_logs(name: str, status: dict[str, Any]) -> None:
        """The merger's printed output after success (as stored in the run's status, which
        outlives its pod); each failure's batch, items, cell and log tail."""
        if status["phase"] == "Succeeded":
            for step in status["steps"]:
                if step["kind"] == "merger":
                    text = await stored_or_log(name, status, step, step["state"])
                    print(f"--- output of {step['task']} ---\n{text.rstrip()}")
            return
        for failure in status["failures"]:
            text = log_text(await client.send(log_request(namespace, name, failure["podName"])))
            where = failure_location(text, failure["cells"])
            what = failure["task"]
            if failure["index"] is not None:
                items = item_range_text(failure["start"], failure["stop"])
                what += f" batch {failure['index']}" + (f" ({items})" if items else "")
            at = f"cell {where['cell_index']}" if where["cell_index"] is not None else "its cell"
            if where["line"]:
                at += f", line {where['line']}"
            if not text.strip():
                reason = missing_log_reason(status, "failed")
                print(f"--- {what} failed in {at}; no log: {reason} ---")
                continue
            tail = "\n".join(text.rstrip().splitlines()[-15:])
            print(f"--- {what} failed in {at}; the end of its log ---\n{tail}")

    async def stored_or_log(
        name: str, status: dict[str, Any], step: dict[str, Any], state: str
    ) -> str:
        """A merger's printed output: the copy in the run's status, else its pod's log, else
        why there is none."""
        stored = step.get("output")
        if stored:
            cut = stored["cutBytes"]
            note = f"[the first {cut:,} bytes are cut; the whole output is in the pod's log]\n"
            return (note if cut else "") + stored["text"]
        text = ""
        if step["podName"]:
            text = log_text(await client.send(log_request(namespace, name, step["podName"])))
        return text if text.strip() else f"[no output: {missing_log_reason(status, state)}]"

    try:
        return asyncio.run(follow())
    except ClusterError as exc:
        return _fail(exc.message, exc.hint)
    except _SHAPE_ERRORS as exc:
        return _bad_answer(exc)
    except KeyboardInterrupt:
        print("\nnaavre-batch: stopped watching; the run goes on on the cluster", file=sys.stderr)
        return 130


_SHAPE_ERRORS = (AttributeError, TypeError, KeyError, IndexError, ValueError)
"""What reading a field of an Argo answer of another shape raises past the answer readers."""


def _bad_answer(exc: Exception) -> int:
    """Exit 2 for an Argo answer of another shape that a reader did not catch: no traceback."""
    return _fail(
        f"the Argo server's answer is not what Argo sends ({type(exc).__name__})",
        "is ARGO_SERVER an Argo server (not a proxy or its UI)?",
    )


def _add_debug(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "debug",
        help="write a notebook that loads a failed batch's inputs, to debug it",
        description="Write, next to the run's notebook, a small notebook whose first cell loads "
        "the header values and the inputs of one instance of run RUN_ID (the batch as the "
        "splitter's variable), read with the run's own step script, followed by that step's "
        "cells. With --cluster WORKFLOW, the failed batch of a cluster run instead: its script "
        "and inputs are read through the Argo server (ARGO_SERVER, ... as for submit; see "
        "docs/cluster.md). Never writes over a file: a taken name gets -2, -3, ... "
        "Exit 0 when written, 2 when the run, batch or its inputs cannot be read.",
    )
    p.add_argument("run_id", metavar="RUN_ID", nargs="?", help="a local run's id")
    p.add_argument(
        "--cluster",
        metavar="WORKFLOW",
        help="the name of a run on the Argo server (as submit printed it) instead of RUN_ID",
    )
    p.add_argument(
        "--notebook",
        metavar="NB",
        help="with --cluster: the notebook to write beside (default: the path it was "
        "submitted with)",
    )
    p.add_argument(
        "--batch",
        type=int,
        metavar="K",
        help="the batch (processor instance, from 0); default: the first failed instance",
    )
    p.add_argument("--task", metavar="TASK", help="the task, when several could match")
    p.add_argument(
        "--runs-dir",
        metavar="DIR",
        default=None,
        help="where the run is kept (default: .naavre-batch/runs in the current folder; with "
        "--cluster, beside the notebook)",
    )
    p.set_defaults(func=_cmd_debug)


def _cmd_debug(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from .engines import debug

    if args.cluster:
        if args.run_id:
            return _fail("give RUN_ID or --cluster WORKFLOW, not both")
        return _debug_cluster(args)
    if not args.run_id:
        return _fail("give a run id (naavre-batch run printed it) or --cluster WORKFLOW")
    runs = Path(args.runs_dir or ".naavre-batch/runs")
    try:
        target = debug.find_target(runs, args.run_id, args.batch, args.task)
    except debug.DebugError as exc:
        return _fail(exc.message, exc.hint)
    try:
        result = json.loads((target.run_folder / "result.json").read_text(encoding="utf-8"))
        notebook = Path(result["notebook"])
    except (OSError, ValueError, KeyError):
        notebook = runs.resolve().parent.parent / f"{target.spec['notebook']['name']}.ipynb"
    return _write_debug_notebook(target, notebook, args.run_id)


def _write_debug_notebook(target: Any, notebook: Any, run: str) -> int:
    """Write the debug notebook beside ``notebook`` and say what to do with it."""
    from .engines import debug

    path = debug.write_notebook(target, notebook)
    print(path)
    where = f"cell {target.failing_cell}" if target.failing_cell is not None else "its first cell"
    print(
        f"naavre-batch: {target.what} of run {run}: open {path.name}, run the first cell "
        f"to load its inputs, then the step's cells (the failure was in {where} of the notebook)",
        file=sys.stderr,
    )
    return 0


def _debug_cluster(args: argparse.Namespace) -> int:
    """``debug --cluster WORKFLOW``: the failed batch of a cluster run, laid out in the runs
    folder beside the notebook (engines/cluster_debug.py), then the same debug notebook."""
    import asyncio
    import os
    from pathlib import Path

    from .engines.cluster import (
        ANNOTATION_NOTEBOOK_PATH,
        ClusterConfigError,
        ClusterError,
        check_object_name,
        get_request,
        settings_from,
    )
    from .engines.cluster_answers import read_workflow
    from .engines.cluster_client import ArgoClient
    from .engines.cluster_debug import ClusterDebugError, load_cluster_target
    from .engines.runner import RunError, check_runs_folder

    try:
        settings = settings_from(os.environ)
        name = check_object_name(args.cluster)
    except ClusterConfigError as exc:
        return _fail(exc.message, exc.hint)
    except ValueError as exc:
        return _fail(f"--cluster: {exc}")
    client = ArgoClient(settings)

    async def load() -> tuple[Any, Path]:
        notebook = args.notebook
        if not notebook:
            workflow = read_workflow(await client.send(get_request(settings.namespace, name)))
            annotations = workflow["metadata"].get("annotations") or {}
            notebook = annotations.get(ANNOTATION_NOTEBOOK_PATH)
            if not notebook:
                raise ClusterDebugError(
                    f"run {name} does not name its notebook",
                    "give --notebook NB",
                    404,
                    "no-notebook",
                )
        if not Path(notebook).is_file():
            raise ClusterDebugError(
                f"run {name} was submitted from {notebook}, which is not a file here",
                "give --notebook NB, the notebook to write the debug notebook beside",
                404,
                "no-notebook",
            )
        runs = check_runs_folder(notebook, args.runs_dir)
        target = await load_cluster_target(
            client.send, settings.namespace, name, runs, args.batch, args.task
        )
        return target, Path(notebook)

    try:
        target, notebook = asyncio.run(load())
    except (ClusterError, ClusterDebugError, RunError) as exc:
        return _fail(exc.message, exc.hint)
    except _SHAPE_ERRORS as exc:
        return _bad_answer(exc)
    return _write_debug_notebook(target, notebook, name)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, so ``--help`` lists every subcommand."""
    parser = argparse.ArgumentParser(
        prog="naavre-batch",
        description=(
            "Analyse, run and export notebooks whose cells are tagged as splitter, processor "
            "and merger (naavre: cell tags) as a split/merge batch workflow."
        ),
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"naavre-batch {__version__} (spec {SPEC_API_VERSION})",
    )
    parser.set_defaults(func=None)
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_check(subparsers)
    _add_spec(subparsers)
    _add_tag(subparsers)
    _add_run(subparsers)
    _add_export(subparsers)
    _add_submit(subparsers)
    _add_debug(subparsers)
    _add_advise(subparsers)
    del subparsers  # subcommands register here
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``naavre-batch`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.func is None:
        parser.print_help()
        return 0
    try:
        return int(args.func(args))
    except KeyboardInterrupt:  # Ctrl-C outside a run (loading, analysing): no traceback
        print("\nnaavre-batch: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
