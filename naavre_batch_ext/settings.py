"""The user's JupyterLab settings of the extension, read headless so the CLI exports like the panel.

JupyterLab keeps a user's settings in
``<jupyter config dir>/lab/user-settings/naavre-batch-ext/plugin.jupyterlab-settings`` (JSON5: it
may hold comments). The panel pre-fills its export options from ``exportImage``,
``exportParallelism`` and ``exportRetries``; ``naavre-batch export`` starts from the same values,
so an image chosen once in the Settings Editor is the default in both places. Options given on the
command line still win.
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


class SettingsError(Exception):
    """The settings file exists but cannot be used; the message names the file and the key."""


def settings_path(config_dir: str | Path | None = None) -> Path:
    """The user-settings file of the plugin (``JUPYTER_CONFIG_DIR`` is honoured)."""
    return Path(config_dir or jupyter_config_dir()) / SETTINGS_FILE


def export_defaults(config_dir: str | Path | None = None) -> dict[str, Any]:
    """The export options the user set in JupyterLab, as ``ArgoOptions`` keyword arguments.

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
    return options


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
