"""The Galata tests start their own JupyterLab on a free port, never reuse a server they did not
start (the README's first command leaves one on 8888: reusing it gave its login page and a
time-out), and keep the server's log in a file, printed only when the run fails.

The configuration is JavaScript read by Playwright, so it is loaded here with ``node`` the way
Playwright loads it; running the browser tests themselves is ``jlpm test:ui``."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from traitlets.config import Config

UI_TESTS = Path(__file__).resolve().parents[1] / "ui-tests"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None
    or not (UI_TESTS / "node_modules" / "@jupyterlab" / "galata").is_dir(),
    reason="needs node and the ui-tests' node modules (.ci/install: cd ui-tests && jlpm install)",
)


def node(script: str, env: dict[str, str] | None = None) -> Any:
    """Run ``script`` with node in ui-tests/ and return the JSON it prints."""
    environment = {k: v for k, v in os.environ.items() if k != "NAAVRE_UI_TESTS_PORT"}
    result = subprocess.run(
        ["node", "-e", script],
        cwd=UI_TESTS,
        env={**environment, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(result.stdout)


def load_config(env: dict[str, str] | None = None) -> dict[str, Any]:
    config: dict[str, Any] = node(
        "const c = require('./playwright.config.js');"
        "console.log(JSON.stringify({port: process.env.NAAVRE_UI_TESTS_PORT, config: c}));",
        env,
    )
    return config


def test_the_ui_tests_never_reuse_a_server_and_pick_a_free_port_other_than_8888() -> None:
    loaded = load_config({"CI": ""})  # reuse used to be on outside CI
    port, config = loaded["port"], loaded["config"]
    assert config["webServer"]["reuseExistingServer"] is False
    assert port.isdigit() and port != "8888"
    assert config["webServer"]["url"] == f"http://localhost:{port}/lab"
    assert config["use"]["baseURL"] == f"http://localhost:{port}"
    with socket.socket() as probe:  # the port was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", int(port)))


def test_every_worker_gets_the_same_port() -> None:
    """Playwright loads the configuration again in each worker, which inherits the env."""
    assert load_config({"NAAVRE_UI_TESTS_PORT": "45678"})["port"] == "45678"
    config = load_config({"NAAVRE_UI_TESTS_PORT": "45678"})["config"]
    assert config["webServer"]["url"] == "http://localhost:45678/lab"


def test_the_server_listens_on_that_port_without_retrying_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """jupyter_server_test_config.py takes the port from the env; Galata's own 8888 otherwise."""
    monkeypatch.setenv("NAAVRE_UI_TESTS_PORT", "45678")
    monkeypatch.setenv("NAAVRE_UI_TESTS_FAKE_ARGO", "0")  # no fake Argo server, no ARGO_* set here
    c = Config()
    path = UI_TESTS / "jupyter_server_test_config.py"
    code = path.read_text(encoding="utf-8")
    # as traitlets' PyFileConfigLoader does: the config object and the file's own name
    exec(compile(code, str(path), "exec"), {"c": c, "__file__": str(path)})
    assert c.ServerApp.port == 45678 and c.ServerApp.port_retries == 0


def test_the_server_log_goes_to_a_file_kept_in_test_results() -> None:
    config = load_config()["config"]
    command = config["webServer"]["command"]
    assert command.endswith("> test-results/jupyter-server.log 2>&1")
    assert config.get("outputDir", "test-results") == "test-results"
    assert config["webServer"].get("stdout") in (None, "ignore")  # nothing piped into the output
    reporters = [r[0] for r in config["reporter"]]
    assert "./server-log-reporter.js" in reporters


@pytest.mark.parametrize(("status", "printed"), [("passed", False), ("failed", True)])
def test_the_server_log_is_printed_only_when_the_run_fails(
    tmp_path: Path, status: str, printed: bool
) -> None:
    log = tmp_path / "jupyter-server.log"
    log.write_text("[I ServerApp] server-log-marker\n", encoding="utf-8")
    out = node(
        "const R = require('./server-log-reporter.js');"
        f"const r = new R({{log: {json.dumps(str(log))}}});"
        "let text = ''; const write = process.stdout.write.bind(process.stdout);"
        "process.stdout.write = (s) => { text += s; return true; };"
        f"r.onEnd({{status: {json.dumps(status)}}});"
        "process.stdout.write = write; console.log(JSON.stringify(text));"
    )
    assert ("server-log-marker" in out) is printed
