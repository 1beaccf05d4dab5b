"""Neo4j Browser experience (pure): the settings our managed server gives Browser, and the guide.

Neo4j's own HTTP server serves only Browser itself, so our style sheet (GraSS) and guide are
served by a tiny static server beside it (``graph.browser_assets``) on ``assets_port(cfg)``.
On connect, Browser 5.24 runs ``browser.post_connect_cmd`` (commands split on ``;``, each
prefixed with ``:``): it loads our style with ``:style <url>``, switches off "connect result
nodes" (otherwise every model run's INTERESTED_IN edges between shown nodes are drawn too),
keeps more frames and opens the guide with ``:play <url>``. ``:style``/``:play`` fetch only from hosts listed in
``browser.remote_content_hostname_whitelist`` (the 5.26 name of the allow-list setting).
"""
from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from graph.library import LibraryQuery
from graph.settings import ServerConfig

ASSETS_DIR = Path(__file__).resolve().parents[1] / "cypher" / "browser"
STYLE_FILE = "style.grass"
GUIDE_FILE = "guide.html"
GUIDE_TEMPLATE = "guide.template.html"
ASSETS_HOST = "127.0.0.1"
ALLOWLIST = ("guides.neo4j.com", "localhost", ASSETS_HOST)
ALLOWLIST_KEY = "browser.remote_content_hostname_whitelist"
POST_CONNECT_KEY = "browser.post_connect_cmd"
TELEMETRY_KEY = "client.allow_telemetry"  # offline machines: no usage banner, no calls home
KEEP = "keep"
MAX_FRAMES = 50
_QUERY_SLOT = re.compile(r"\{\{\s*query\s+([a-z0-9_]+)((?:\s+\w+=(?:'[^']*'|[^\s}]+))*)\s*\}\}")
_ARG = re.compile(r"(\w+)=('[^']*'|[^\s}]+)")


def assets_port(cfg: ServerConfig) -> int:
    """The static asset server's port: two above Neo4j's HTTP port (7476 by default)."""
    return cfg.http_port + 2 if cfg.http_port + 2 <= 65535 else cfg.http_port - 2


def assets_url(cfg: ServerConfig) -> str:
    return f"http://{ASSETS_HOST}:{assets_port(cfg)}"


def post_connect_commands(cfg: ServerConfig) -> list[str]:
    """What Browser runs after connecting: our style, no auto-connected result nodes, room for the
    guide's frames (Browser drops the oldest frame, the guide, after 15 by default), our guide."""
    base = assets_url(cfg)
    return [f"style {base}/{STYLE_FILE}", "config autoComplete: false", f"config maxFrames: {MAX_FRAMES}",
            f"play {base}/{GUIDE_FILE}"]


def conf_lines(cfg: ServerConfig) -> list[tuple[str, str]]:
    """neo4j.conf settings for Browser; a key the config's ``extra_conf`` sets is left to it."""
    own = {key for key, _ in cfg.extra_conf}
    lines = [(ALLOWLIST_KEY, ",".join(ALLOWLIST)), (POST_CONNECT_KEY, "; ".join(post_connect_commands(cfg))),
             (TELEMETRY_KEY, "false")]
    return [(key, value) for key, value in lines if key not in own]


def cypher_literal(value: Any) -> str:
    """A parameter value as a Cypher literal, for the guide's ``:param name => value`` commands."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, datetime):
        return f"datetime('{value.isoformat()}')"
    if isinstance(value, list):
        return "[" + ", ".join(cypher_literal(v) for v in value) + "]"
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def runnable(text: str) -> str:
    """A Browser guide code block: clicking it puts the text into the editor."""
    return f'<pre class="code runnable">{html.escape(text.strip())}</pre>'


def param_commands(query: LibraryQuery, values: Mapping[str, str]) -> str:
    """``:param`` commands setting every parameter of ``query``: ``values`` (Cypher literals) or defaults.

    A value of ``keep`` emits no command: the guide set that parameter on an earlier slide.
    """
    unknown = set(values) - {p.name for p in query.params}
    if unknown:
        raise KeyError(f"{GUIDE_TEMPLATE}: query {query.name!r} has no parameter {sorted(unknown)}")
    lines = []
    for p in query.params:
        if values.get(p.name) == KEEP:
            continue
        if p.name in values:
            literal = values[p.name]
        elif p.required:
            raise KeyError(f"{GUIDE_TEMPLATE}: query {query.name!r} needs a value for {p.name!r}")
        else:
            literal = cypher_literal(p.default)
        lines.append(f":param {p.name} => {literal};")
    return "\n".join(lines)


def render_guide(template: str, queries: Mapping[str, LibraryQuery]) -> str:
    """The guide HTML: every ``{{ query NAME [param=literal ...] }}`` becomes two runnable blocks,
    one setting the query's parameters (Browser has no defaults) and the library query itself."""
    def slot(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in queries:
            raise KeyError(f"{GUIDE_TEMPLATE} uses unknown library query {name!r}; known: {', '.join(queries)}")
        query = queries[name]
        values = dict(_ARG.findall(match.group(2) or ""))
        commands = param_commands(query, values)
        blocks = [runnable(commands)] if commands else []
        return "\n".join(blocks + [runnable(query.text)])

    banner = "<!-- Generated from guide.template.html by `ikg cypher docs`; edit the template. -->\n"
    return banner + _QUERY_SLOT.sub(slot, template)
