"""Browser tests: the real app as a subprocess on a free port, driven by Debian's chromium through Playwright.

No browser is ever downloaded: Playwright's Python package drives /usr/bin/chromium (installed by
`make test` with apt-get when missing). Every request the page makes is recorded, and any host
other than the app's own fails the test.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("JOURNEYS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-quic", "--disable-extensions", "--disable-default-apps"]
NORTHGATE = sorted(p for p in (ROOT / "data_samples" / "northgate").iterdir() if p.suffix in (".csv", ".xml"))
RIVERSIDE = sorted((ROOT / "data_samples" / "riverside").glob("*.csv"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RunningApp:
    """`journeys serve` in a subprocess; stopped when the tests are done."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = ARTIFACTS / f"server-{self.port}.log"
        ARTIFACTS.mkdir(exist_ok=True)
        self.process = subprocess.Popen([sys.executable, "-m", "journeys.cli", "serve", *args, "--port", str(self.port)],
                                        cwd=ROOT, env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT)

    def wait(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the app stopped (exit {self.process.returncode}):\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(self.url + "/", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"the app did not answer within {timeout} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="session")
def app_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    key = tmp_path_factory.getbasetemp() / "browser.key"
    return dict(os.environ, JOURNEYS_KEY_FILE=str(key), PYTHONUNBUFFERED="1")


@pytest.fixture(scope="session")
def app_cache() -> Path:
    """Builds are cached between runs (keyed by input, config and code hashes), as the app itself does."""
    return ROOT / "build" / "test-cache"


@pytest.fixture(scope="session")
def two_authorities(app_env: dict[str, str], app_cache: Path) -> Iterator[RunningApp]:
    """The app serving northgate (SSDA903 + CIN census) and riverside (local extracts) side by side."""
    env = dict(app_env)
    build = app_cache / "riverside-build"
    if not (build / "report.json").is_file():
        subprocess.run([sys.executable, "-m", "journeys.cli", "build", "--quiet", "--config",
                        str(ROOT / "pathway_configs" / "riverside.yaml"), *map(str, RIVERSIDE), "--out", str(build)],
                       check=True, cwd=ROOT, env=env)
    app = RunningApp(["--config", str(ROOT / "pathway_configs" / "northgate.yaml"), *map(str, NORTHGATE),
                      "--data", str(build), "--cache", str(app_cache)], env)
    try:
        app.wait()
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="session")
def empty_app(app_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    app = RunningApp(["--cache", str(tmp_path_factory.mktemp("empty-cache"))], app_env)
    try:
        app.wait(60)
        yield app
    finally:
        app.stop()


@pytest.fixture
def fresh_app(app_env: dict[str, str], app_cache: Path, tmp_path: Path) -> Iterator[RunningApp]:
    """An app with nothing loaded, for tests that load data through the Data page.

    Its temporary files go to a folder of the test's own: once the app stops, no upload is left there.
    """
    temporary = tmp_path / "app-tmp"
    temporary.mkdir()
    app = RunningApp(["--cache", str(app_cache)], dict(app_env, TMPDIR=str(temporary)))
    try:
        app.wait(60)
        yield app
    finally:
        app.stop()
    assert not list(temporary.glob("care-journeys-uploads-*")), "uploads were left behind after the app stopped"


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail(f"Debian's chromium is not at {CHROMIUM}: `make test` installs it with apt-get "
                    "(apt-get install chromium chromium-driver)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Recorder:
    """Every request and console error of one page."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self.errors: list[str] = []

    def hosts(self) -> set[str]:
        from urllib.parse import urlsplit
        return {urlsplit(u).netloc for u in self.urls if urlsplit(u).scheme in ("http", "https", "ws", "wss")}


@pytest.fixture
def page(browser: object, tmp_path: Path) -> Iterator[tuple[object, Recorder]]:
    context = browser.new_context(viewport={"width": 1400, "height": 1100}, accept_downloads=True)  # type: ignore[attr-defined]
    page = context.new_page()
    recorder = Recorder()
    page.on("request", lambda request: recorder.urls.append(request.url))
    page.on("console", lambda message: recorder.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: recorder.errors.append(str(error)))
    try:
        yield page, recorder
    finally:
        context.close()
