"""Benchmark: ``POST /naavre-batch-ext/spec`` against a real Jupyter server, as the editor calls it.

Goal (issue 6): median under 30 ms for the tagged seed notebook, so the front-end can ask for the
spec on every edit. Starts ``jupyter server`` in a subprocess on a free loopback port (never 8888)
with a token and the extension enabled, then sends N requests per case over one keep-alive
connection and prints median and p90 in ms (and the median's ratio to the goal for the seed).

Cases: the seed and the 1,000-code-cell notebook of ``bench_analysis.py``, each read from disk
through the contents manager (``{"path"}``) and sent as unsaved content (``{"path", "notebook"}``).
Run from the repository root: ``python benchmarks/bench_rest.py [--requests 50]``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import nbformat
from bench_analysis import generate
from helpers import tagged_seed_notebook

ROOT = Path(__file__).resolve().parents[1]

GOAL_MS = 30.0


def free_port() -> int:
    """A free loopback port other than 8888 (the UI tests' port)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port != 8888:
            return port


def start_server(root: Path, port: int, token: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        sys.executable, "-m", "jupyter_server",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--ServerApp.open_browser=False", "--ServerApp.allow_root=True",
        "--ServerApp.jpserver_extensions={'naavre_batch_ext': True}",
        "--ServerApp.log_level=WARN",
    ]  # fmt: skip
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_ready(port: int, token: str, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(
                f"server exited: {server.stderr.read().decode() if server.stderr else ''}"
            )
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request(
                "GET", "/naavre-batch-ext/info", headers={"Authorization": f"token {token}"}
            )
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("server did not answer within 60 s")


def measure(
    conn: http.client.HTTPConnection, token: str, body: dict[str, Any], n: int
) -> list[float]:
    data = json.dumps(body).encode()
    headers = {"Authorization": f"token {token}", "Content-Type": "application/json"}
    times = []
    for _ in range(n + 3):  # 3 warm-up requests, not counted
        start = time.perf_counter()
        conn.request("POST", "/naavre-batch-ext/spec", body=data, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        times.append((time.perf_counter() - start) * 1000)
        if response.status != 200:
            raise SystemExit(f"POST spec answered {response.status}: {payload[:300]!r}")
    return times[3:]


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    token = secrets.token_hex(16)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="naavre-bench-rest-") as tmp:
        root = Path(tmp)
        seed, big = tagged_seed_notebook(), generate()
        nbformat.write(seed, str(root / "seed.ipynb"))
        nbformat.write(big, str(root / "big.ipynb"))
        big_cells = sum(1 for c in big.cells if c.cell_type == "code")
        server = start_server(root, port, token)
        try:
            wait_ready(port, token, server)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            cases = [
                ("seed, from disk", {"path": "seed.ipynb"}),
                ("seed, unsaved content", {"path": "seed.ipynb", "notebook": seed}),
                (f"{big_cells} code cells, from disk", {"path": "big.ipynb"}),
                (
                    f"{big_cells} code cells, unsaved content",
                    {"path": "big.ipynb", "notebook": big},
                ),
            ]
            print(f"POST /naavre-batch-ext/spec, {args.requests} requests per case, port {port}")
            print(f"{'case':<36} {'median ms':>10} {'p90 ms':>8}")
            for label, body in cases:
                times = measure(conn, token, body, args.requests)
                median = statistics.median(times)
                print(f"{label:<36} {median:>10.1f} {p90(times):>8.1f}", end="")
                if label.startswith("seed"):
                    print(f"   {median / GOAL_MS:.2f} x the {GOAL_MS:.0f} ms goal", end="")
                print()
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
