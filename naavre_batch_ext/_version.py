"""The package version (its source is package.json), found without importing ``importlib.metadata``.

``naavre-batch --version`` must answer in a blink, and ``importlib.metadata`` alone costs about
30 ms at import, more than a bare Python start. So the version comes from the file hatchling's
version hook writes at build time (``_version.txt``), else from ``package.json`` in a source tree,
and only then from the installed distribution's metadata.
"""

from __future__ import annotations

import json
import os
import re

_HERE = os.path.dirname(os.path.abspath(__file__))


def _read_version() -> str:
    try:
        with open(os.path.join(_HERE, "_version.txt"), encoding="utf-8") as handle:
            match = re.search(r"""__version__ = VERSION = ['"]([^'"]+)['"]""", handle.read())
        if match:
            return match.group(1)
    except OSError:
        pass
    try:  # a source tree: package.json is the version's source
        with open(os.path.join(_HERE, os.pardir, "package.json"), encoding="utf-8") as handle:
            package = json.load(handle)
        if package.get("name") == "naavre-batch-ext" and isinstance(package.get("version"), str):
            return str(package["version"])
    except (OSError, ValueError, AttributeError):
        pass
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("naavre_batch_ext")
    except PackageNotFoundError:  # a copy of the package without its source tree or metadata
        return "0.0.0+unknown"


__version__: str = _read_version()
