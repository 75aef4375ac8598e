"""Shared fixtures: the real dyaspora binary, started on a free loopback port."""

import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
BIN = Path(os.environ.get("DYASPORA_BIN", TARGET / "debug" / "dyaspora"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, db: Path, *args: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [str(BIN), "--db", str(db), "serve", "--addr", f"127.0.0.1:{self.port}", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.base + "/health/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("dyaspora did not start")

    def get(self, path: str, token: str | None = None) -> bytes:
        req = urllib.request.Request(self.base + path)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.read()

    def json(self, path: str, token: str | None = None):
        return json.loads(self.get(path, token))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def run(*args: str) -> str:
    out = subprocess.run([str(BIN), *args], check=True, capture_output=True, text=True)
    return out.stdout


@pytest.fixture(scope="session")
def demo_csv(tmp_path_factory) -> Path:
    """20,000 demo records written as a Kobo-shaped CSV by `dyaspora demo --csv`."""
    d = tmp_path_factory.mktemp("demo")
    path = d / "demo.csv"
    run("--db", str(d / "unused.db"), "demo", "--records", "20000", "--seed", "5", "--csv", str(path))
    return path


def admin_token(db: Path) -> str:
    """A new admin token for the database `db` (created with the CLI, as an operator would)."""
    out = run("--db", str(db), "token", "create", "--role", "admin", "--name", "pytest", "--json")
    return json.loads(out)["token"]


@pytest.fixture(scope="session")
def unsuppressed_server(tmp_path_factory, demo_csv):
    """The service over the imported demo CSV with k = 1, so that every figure is published;
    `server.admin` is an admin token (exact figures at /api/v1/admin/aggregates), `server.db`
    the database file."""
    d = tmp_path_factory.mktemp("k1")
    db = d / "k1.db"
    run("--db", str(db), "import", str(demo_csv), "--quiet", "--json")
    token = admin_token(db)
    server = Server(db, "--no-demo", "--min-count", "1")
    server.admin = token
    server.db = db
    yield server
    server.stop()
