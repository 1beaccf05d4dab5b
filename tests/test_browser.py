"""Neo4j Browser end to end: headless Chromium logs in to the managed test server, gets our style
and guide from post_connect_cmd, runs the guide's neighbourhood query and saves a screenshot
whose node colours must be the ones of cypher/browser/style.grass.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON
messages separated by NUL on fds 3/4), so no extra package is needed. Skipped only when
``chromium`` is not installed.
"""
from __future__ import annotations

import fcntl
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from graph import browser
from graph.settings import PROJECT_ROOT, Neo4jSettings, ServerConfig
from tests import known_graph

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--remote-debugging-pipe",
         "--window-size=1400,1000", "--hide-scrollbars")
SCREENSHOT_DIR = PROJECT_ROOT / "var" / "screenshots"
DOCS_IMAGE = PROJECT_ROOT / "docs" / "img" / "browser-neighbourhood.png"
USER = "u1"
TIMEOUT_S = 60.0


class Chromium:
    """A headless Chromium page driven over the DevTools protocol on a pipe."""

    def __init__(self, profile: Path):
        cmd_r, self._cmd_w = os.pipe()
        self._out_r, out_w = os.pipe()

        def wire_fds() -> None:  # in the child: fd 3 = commands in, fd 4 = replies out
            high_r, high_w = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10), fcntl.fcntl(out_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        # close_fds=False: the child keeps fds 3/4 (dup2 makes them inheritable); all our other
        # descriptors are close-on-exec anyway
        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                     preexec_fn=wire_fds, close_fds=False, start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(cmd_r)
        os.close(out_w)
        self._buffer = b""
        self._next_id = 0
        self.session: str | None = None
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Page.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=1400, height=1000, deviceScaleFactor=1, mobile=False)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        os.write(self._cmd_w, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._out_r, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def js(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"JS error in {expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, what: str, timeout: float = TIMEOUT_S) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.25)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; page text: "
                             f"{self.js('document.body.innerText.slice(0, 1500)')!r}")

    def screenshot(self, clip: dict[str, float] | None = None) -> bytes:
        import base64

        params: dict[str, Any] = {"format": "png"}
        if clip:
            params["clip"] = {**clip, "scale": 1}
        return base64.b64decode(self.call("Page.captureScreenshot", **params)["data"])

    def close(self) -> None:
        """Stop Chromium and its helper processes (its own session), so none still writes to the profile
        directory when it is removed."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.close(self._cmd_w)
        os.close(self._out_r)


# ---------------------------------------------------------------- page helpers
def _click(page: Chromium, selector: str, index: int = 0) -> None:
    page.wait_for(f"document.querySelectorAll({json.dumps(selector)}).length > {index}", selector)
    page.js(f"document.querySelectorAll({json.dumps(selector)})[{index}].click()")


def _run_editor(page: Chromium, text: str | None = None) -> None:
    """Run what is in the editor, after typing ``text`` into it if given."""
    if text is not None:
        page.js("document.querySelector('[data-testid=\"activeEditor\"] textarea').focus()")
        page.call("Input.insertText", text=text)
    _click(page, '[data-testid="editor-Run"]')


FIRST_CAROUSEL = "document.querySelector('[data-testid=\"carousel\"]')"  # the newest guide frame


def _guide_blocks(page: Chromium) -> list[str]:
    """Texts of the runnable blocks on the current slide of the newest guide frame."""
    return page.js(f"Array.from({FIRST_CAROUSEL}.querySelectorAll('pre.runnable')).map(e => e.textContent)") or []


def _next_slide(page: Chromium) -> None:
    page.js(f"{FIRST_CAROUSEL}.querySelector('[data-testid=\"nextSlide\"]').click()")
    time.sleep(0.3)


def _goto_slide_with(page: Chromium, needle: str) -> int:
    """Press 'next' in the guide until a runnable block contains ``needle``; its index."""
    for _ in range(20):
        for i, text in enumerate(_guide_blocks(page)):
            if needle in text:
                return i
        _next_slide(page)
    raise AssertionError(f"no guide slide has a block containing {needle!r}")


def _run(page: Chromium, action: Callable[[], None], what: str) -> str:
    """Do ``action`` (which runs something), wait for its new frame on top; that frame's text."""
    page.js("document.querySelectorAll('[data-testid=\"frame\"]').forEach(f => f.setAttribute('data-seen', '1'))")
    action()
    page.wait_for("(() => { const f = document.querySelector('[data-testid=\"frame\"]');"
                  " return !!f && !f.hasAttribute('data-seen'); })()", what)
    time.sleep(1.5)  # `:param x => v` evaluates v with a Cypher round trip after its frame appears
    return page.js("document.querySelector('[data-testid=\"frame\"]').innerText")


def _run_block(page: Chromium, index: int) -> str:
    def click_and_run() -> None:
        page.js(f"{FIRST_CAROUSEL}.querySelectorAll('pre.runnable')[{index}].click()")
        _run_editor(page)

    return _run(page, click_and_run, f"the frame of guide block {index}")


def _hex(color: str) -> tuple[int, int, int]:
    return tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def grass_node_colors(path: Path = browser.ASSETS_DIR / browser.STYLE_FILE) -> dict[str, tuple[int, int, int]]:
    """label -> fill colour, read from the GraSS file."""
    text = path.read_text()
    return {m[0]: _hex(m[1]) for m in re.findall(r"node\.(\w+)\s*\{[^}]*?\bcolor:\s*(#[0-9A-Fa-f]{6})", text)}


def small_png(png: bytes, colors: int = 96) -> bytes:
    """The PNG with a reduced palette, for the copy committed under docs/img/."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=colors).save(out, format="PNG", optimize=True)
    return out.getvalue()


def color_counts(png: bytes) -> dict[tuple[int, int, int], int]:
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    return {rgb: n for n, rgb in image.getcolors(maxcolors=1 << 24)}


# ---------------------------------------------------------------- tests
def test_grass_colors_parse():
    colors = grass_node_colors()
    assert set(colors) >= {"User", "Content", "Topic"}
    assert len(set(colors.values())) == len(colors), "each label needs its own colour"


def test_asset_server_serves_only_assets_with_cors():
    import threading
    from http.server import ThreadingHTTPServer

    from graph import browser_assets, server

    port = server.free_port()
    handler = functools.partial(browser_assets.AssetHandler, directory=str(browser.ASSETS_DIR))
    httpd = ThreadingHTTPServer((browser.ASSETS_HOST, port), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://{browser.ASSETS_HOST}:{port}"
    try:
        with urllib.request.urlopen(f"{base}/{browser.STYLE_FILE}", timeout=5) as resp:
            assert resp.headers["Access-Control-Allow-Origin"] == "*"
            assert resp.read() == (browser.ASSETS_DIR / browser.STYLE_FILE).read_bytes()
        preflight = urllib.request.Request(f"{base}/{browser.GUIDE_FILE}", method="OPTIONS",
                                           headers={"Access-Control-Request-Headers": "pragma,cache-control"})
        with urllib.request.urlopen(preflight, timeout=5) as resp:
            assert resp.status == 204 and resp.headers["Access-Control-Allow-Headers"] == "pragma,cache-control"
        for path in ("/", f"/{browser.GUIDE_TEMPLATE}", "/../../graph/db.py", "/missing.html"):
            with pytest.raises(urllib.error.HTTPError, match="404"):
                urllib.request.urlopen(base + path, timeout=5)
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_conf_lines_leave_extra_conf_keys_alone():
    cfg = ServerConfig(root=Path("/tmp/x"), http_port=7474, bolt_port=7687,
                       extra_conf=((browser.POST_CONNECT_KEY, "play start"),))
    lines = dict(browser.conf_lines(cfg))
    assert browser.POST_CONNECT_KEY not in lines and lines[browser.ALLOWLIST_KEY].endswith("127.0.0.1")
    assert browser.post_connect_commands(cfg)[0] == "style http://127.0.0.1:7476/style.grass"


def test_conf_points_browser_at_our_assets(server_config: ServerConfig | None):
    if server_config is None:
        pytest.skip("NEO4J_URI is set: the managed server (and its Browser settings) is not used")
    conf = (server_config.home / "conf" / "neo4j.conf").read_text()
    base = browser.assets_url(server_config)
    assert f"{browser.POST_CONNECT_KEY}=style {base}/{browser.STYLE_FILE};" in conf
    assert f"play {base}/{browser.GUIDE_FILE}" in conf
    assert f"{browser.ALLOWLIST_KEY}=" in conf and browser.ASSETS_HOST in conf
    for name in (browser.STYLE_FILE, browser.GUIDE_FILE):
        with urllib.request.urlopen(f"{base}/{name}", timeout=5) as resp:
            assert resp.status == 200 and resp.headers["Access-Control-Allow-Origin"] == "*"
            assert resp.read() == (browser.ASSETS_DIR / name).read_bytes()


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/setup.sh --browser installs it)")
def test_browser_guide_draws_styled_neighbourhood(graph, server_config: ServerConfig | None,
                                                  neo4j_settings: Neo4jSettings):
    if server_config is None:
        pytest.skip("NEO4J_URI is set: the managed server (and its Browser settings) is not used")
    known_graph.build(graph)
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:  # cleanup is not under test
        page = Chromium(Path(profile))
        try:
            png, frame_png = _drive(page, server_config, neo4j_settings.username, neo4j_settings.password)
            failures = _run_whole_guide(page, server_config)
        finally:
            page.close()
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    (SCREENSHOT_DIR / "browser-neighbourhood.png").write_bytes(png)
    (SCREENSHOT_DIR / "browser-neighbourhood-frame.png").write_bytes(frame_png)
    if not DOCS_IMAGE.exists() or os.environ.get("IKG_REFRESH_DOCS_IMG") == "1":  # tracked: refresh on request
        DOCS_IMAGE.parent.mkdir(parents=True, exist_ok=True)
        DOCS_IMAGE.write_bytes(small_png(frame_png))

    assert failures == [], f"guide blocks failing in Browser: {failures}"
    counts = color_counts(frame_png)
    assert len(counts) > 200, f"the frame looks blank: only {len(counts)} distinct colours"
    for label, rgb in grass_node_colors().items():
        if label == "ModelRun":
            continue  # not part of a neighbourhood
        assert counts.get(rgb, 0) > 300, f"{label} colour {rgb} from style.grass is not drawn ({counts.get(rgb, 0)} px)"


def _drive(page: Chromium, cfg: ServerConfig, username: str, password: str) -> tuple[bytes, bytes]:
    page.call("Page.navigate", url=cfg.browser_url)
    page.wait_for("!!document.querySelector('[data-testid=\"password\"]')", "the connect form")
    for field, value in (("username", username), ("password", password)):
        page.js(f"document.querySelector('[data-testid=\"{field}\"]').focus()")
        page.call("Input.insertText", text=value)
    _click(page, '[data-testid="connect"]')
    # post_connect_cmd: the style is loaded, then our guide opens as a frame (a carousel of slides)
    page.wait_for("document.querySelectorAll('[data-testid=\"carousel\"] pre.runnable').length > 0",
                  "the guide from post_connect_cmd")
    _run(page, lambda: _run_editor(page, f":param user_id => '{USER}'"), "the :param frame")
    index = _goto_slide_with(page, "INTERESTED_IN_HIGH")
    _run_block(page, index - 1)  # the slide's :param block
    _run_block(page, index)      # the neighbourhood query
    page.wait_for("document.querySelectorAll('[data-testid=\"frame\"] svg g.node').length >= 8",
                  "the graph view with the user's neighbourhood")
    time.sleep(4)  # let the force layout settle
    error = page.js("Array.from(document.querySelectorAll('[data-testid=\"frame\"]'))"
                    ".map(f => f.innerText).find(t => /Error/.test(t)) || ''")
    assert not error, f"a Browser frame shows an error: {error[:500]}"
    rect = page.js("(() => { const f = Array.from(document.querySelectorAll('[data-testid=\"frame\"]'))"
                   ".find(f => f.querySelector('svg g.node')); const r = f.getBoundingClientRect();"
                   " return {x: r.x, y: r.y, width: r.width, height: r.height}; })()")
    return page.screenshot(), page.screenshot(clip=rect)


def _run_whole_guide(page: Chromium, cfg: ServerConfig) -> list[tuple[int, int, str]]:
    """Open the guide afresh and run every block of every slide: (slide, block, frame text) of failures."""
    slides = (browser.ASSETS_DIR / browser.GUIDE_FILE).read_text().count("<slide")
    _run(page, lambda: _run_editor(page, f":play {browser.assets_url(cfg)}/{browser.GUIDE_FILE}"), "the guide")
    failures = []
    for slide in range(slides):
        for index in range(len(_guide_blocks(page))):
            text = _run_block(page, index)
            if re.search(r"\bERROR\b|Error", text):
                failures.append((slide, index, text[:300]))
        if slide < slides - 1:
            _next_slide(page)
    return failures
