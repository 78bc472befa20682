"""The user's JupyterLab settings of the extension, read headless so the CLI exports like the panel.

JupyterLab keeps a user's settings in
``<jupyter config dir>/lab/user-settings/naavre-batch-ext/plugin.jupyterlab-settings`` (JSON5: it
may hold comments). The panel pre-fills its export options from ``exportImage``,
``exportParallelism`` and ``exportRetries``; ``naavre-batch export`` starts from the same values,
so an image chosen once in the Settings Editor is the default in both places. The panel's
*Advanced* options (pod GC, TTLs, deadline, retry backoff, parallelism, retries) are kept per
notebook in its metadata (``metadata["naavre-batch"]["export"]``) and fall back to the setting
``exportAdvanced``; the CLI reads both the same way. Precedence, first found: the command-line
flag, the notebook's metadata, ``exportAdvanced``, ``exportImage``/``exportParallelism``/
``exportRetries``, :class:`~naavre_batch_ext.exporters.argo.ArgoOptions`' default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import json5
from jupyter_core.paths import jupyter_config_dir

SETTINGS_FILE = Path("lab", "user-settings", "naavre-batch-ext", "plugin.jupyterlab-settings")
"""Where JupyterLab writes the plugin's user settings, below the Jupyter config dir."""

EXPORT_SETTINGS: dict[str, str] = {
    "exportImage": "image",
    "exportParallelism": "parallelism",
    "exportRetries": "retries",
}
"""Settings key -> :class:`naavre_batch_ext.exporters.argo.ArgoOptions` field."""

ADVANCED_OPTIONS: dict[str, tuple[str, str, bool]] = {
    # REST name (as the panel writes it): (ArgoOptions field, JSON kind, null allowed)
    "podGC": ("pod_gc", "string", True),
    "ttlAfterSuccess": ("ttl_after_success", "integer", True),
    "ttlAfterFailure": ("ttl_after_failure", "integer", True),
    "activeDeadlineSeconds": ("active_deadline_seconds", "integer", True),
    "retryBackoff": ("retry_backoff", "string", False),
    "parallelism": ("parallelism", "integer", True),
    "retries": ("retries", "integer", False),
}
"""The panel's *Advanced* export options, as the setting ``exportAdvanced`` and the notebook's
metadata hold them; ``null`` means "leave it out of the workflow" (keep pods, no TTL, no deadline,
no parallelism limit). The values themselves are checked by ``ArgoOptions.check`` as any other."""

METADATA_KEY = "naavre-batch"
"""The notebook metadata entry of the extension; its ``export`` object holds the panel's options."""


class SettingsError(Exception):
    """The settings file (or a notebook's saved export options) exists but cannot be used; the
    message names the file and the key, ``hint`` where to fix it."""

    def __init__(
        self, message: str, hint: str = "fix or delete it in JupyterLab's Settings Editor"
    ):
        super().__init__(message)
        self.hint = hint


def settings_path(config_dir: str | Path | None = None) -> Path:
    """The user-settings file of the plugin (``JUPYTER_CONFIG_DIR`` is honoured)."""
    return Path(config_dir or jupyter_config_dir()) / SETTINGS_FILE


def export_defaults(config_dir: str | Path | None = None) -> dict[str, Any]:
    """The export options the user set in JupyterLab, as ``ArgoOptions`` keyword arguments:
    ``exportImage``, ``exportParallelism`` and ``exportRetries``, then ``exportAdvanced`` over them.

    A missing file or key means "not set" (ArgoOptions' own default applies); a value of the
    wrong type is a :class:`SettingsError` rather than a silently different workflow.
    """
    path = settings_path(config_dir)
    data = _read(path)
    options: dict[str, Any] = {}
    for key, field in EXPORT_SETTINGS.items():
        if key not in data or (field == "parallelism" and data[key] is None):
            continue
        value = data[key]
        ok = isinstance(value, str) if field == "image" else type(value) is int
        if not ok:
            raise SettingsError(f"{path}: setting {key} has the wrong type ({value!r})")
        options[field] = value
    options.update(advanced_options(data.get("exportAdvanced"), f"{path}: setting exportAdvanced"))
    return options


def advanced_options(saved: Any, where: str) -> dict[str, Any]:
    """The *Advanced* export options of ``saved`` (the ``exportAdvanced`` setting or a notebook's
    ``naavre-batch.export`` metadata) as ``ArgoOptions`` keyword arguments; unknown keys are
    left for the panel that may know them. A value of the wrong JSON type is a
    :class:`SettingsError` naming ``where`` and the key."""
    if saved is None:
        return {}
    if not isinstance(saved, dict):
        raise SettingsError(f"{where}: expected an object of export options, got {saved!r}")
    options: dict[str, Any] = {}
    for key, (field, kind, nullable) in ADVANCED_OPTIONS.items():
        if key not in saved:
            continue
        value = saved[key]
        ok = (value is None and nullable) or (
            isinstance(value, str) if kind == "string" else type(value) is int
        )
        if not ok:
            raise SettingsError(
                f"{where}.{key}: expected {_kind_text(kind, nullable)}, got {value!r}"
            )
        options[field] = value
    return options


def _kind_text(kind: str, nullable: bool) -> str:
    what = "a string" if kind == "string" else "an integer"
    return f"{what} or null" if nullable else what


def notebook_export_options(nb: Any, where: str = "the notebook") -> dict[str, Any]:
    """The export options saved in a notebook's metadata by the panel's *Advanced* section
    (``metadata["naavre-batch"]["export"]``), as ``ArgoOptions`` keyword arguments."""
    metadata = nb.get("metadata") if isinstance(nb, dict) else None
    entry = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    saved = entry.get("export") if isinstance(entry, dict) else None
    try:
        return advanced_options(saved, f"{where}: metadata {METADATA_KEY}.export")
    except SettingsError as exc:
        raise SettingsError(
            str(exc),
            "fix it in the Batch Workflow panel's Advanced export options, or give the flag",
        ) from None


def _read(path: Path) -> dict[str, Any]:
    """The settings file's object; ``{}`` when there is none."""
    try:
        data = json5.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise SettingsError(f"{path}: cannot read the extension's settings ({exc})") from exc
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: the extension's settings are not an object")
    return data


def advisor_start_cost(config_dir: str | Path | None = None) -> float | None:
    """The per-instance start cost the user set for the batch-count advisor
    (``advisorStartCost``, seconds), or ``None`` when not set."""
    path = settings_path(config_dir)
    value = _read(path).get("advisorStartCost")
    if value is None:
        return None
    if type(value) not in (int, float) or value < 0:
        raise SettingsError(f"{path}: setting advisorStartCost must be a number >= 0 ({value!r})")
    return float(value)
