"""The analysts' Cypher library: named, documented, parameterised queries in ``cypher/queries/``.

Each ``<name>.cypher`` file starts with a ``//`` comment header, then the query::

    // One-line title.
    //
    // Purpose: free text, any number of lines.
    //
    // @param user_id: string                          the user's id
    // @param k: int = 10                              rows to return
    // @param by: string in (model, decayed) = model   ranking to sort by
    // @param since: datetime = null                   null means "no lower bound"
    // @column topic_id: string                        the topic's id
    // @example ikg cypher run NAME --param user_id=1
    // @requires gds

Parameter types: int, float, string, bool, datetime, list<string>, list<int>, list<float>
(``list`` alone means list<string>). Values reach Neo4j only as query parameters, through
``graph.db.Graph.read``; the query text is never formatted.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, LiteralString, Protocol, cast

from graph.errors import GraphError, InputError

logger = logging.getLogger(__name__)

QUERIES_DIR = Path(__file__).resolve().parents[1] / "cypher" / "queries"
SCALAR_TYPES = ("int", "float", "string", "bool", "datetime")
LIST_TYPES = ("list<string>", "list<int>", "list<float>")
PARAM_TYPES = SCALAR_TYPES + LIST_TYPES
PLUGINS = {"gds": "RETURN gds.version() AS version", "apoc": "RETURN apoc.version() AS version"}
RESERVED_PARAMS = frozenset({"query"})  # Graph.read(query, **params) takes the text as `query`
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PARAM = re.compile(r"^@param\s+(?P<name>\w+)\s*:\s*(?P<type>list<\w+>|list|\w+)"
                    r"(?:\s+in\s+\((?P<choices>[^)]*)\))?"
                    r"(?:\s*=\s*(?P<default>'[^']*'|\"[^\"]*\"|\S+))?(?:\s+(?P<doc>.*))?$")
_COLUMN = re.compile(r"^@column\s+(?P<name>\w+)\s*:\s*(?P<type>\S+)(?:\s+(?P<doc>.*))?$")
_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}
_NO_DEFAULT = object()


@dataclass(frozen=True)
class Param:
    """One typed query parameter; ``required`` when it has no default."""

    name: str
    type: str
    default: Any = _NO_DEFAULT
    choices: tuple[str, ...] = ()
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is _NO_DEFAULT

    def describe(self) -> str:
        """``name: type [in (..)] [= default]`` as written in the header."""
        text = f"{self.name}: {self.type}"
        if self.choices:
            text += f" in ({', '.join(self.choices)})"
        if not self.required:
            text += f" = {_show(self.default)}"
        return text


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    doc: str = ""


@dataclass(frozen=True)
class LibraryQuery:
    """A parsed library file: header metadata plus the query text."""

    name: str
    title: str
    description: str
    params: tuple[Param, ...]
    columns: tuple[Column, ...]
    examples: tuple[str, ...]
    requires: tuple[str, ...]
    text: str
    path: Path

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return ",".join(_show(v) for v in value)
    return str(value)


# ---------------------------------------------------------------- value conversion (pure)
def parse_datetime(text: str) -> datetime:
    """ISO-8601 date or date-time; a value without a zone is UTC."""
    value = datetime.fromisoformat(text.strip())
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _scalar(type_: str, value: Any) -> Any:
    if type_ == "string":
        if isinstance(value, str):
            return value
    elif type_ == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
    elif type_ == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
            return int(value)
    elif type_ == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif type_ == "datetime":
        if isinstance(value, datetime):
            return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        if isinstance(value, str):
            try:
                return parse_datetime(value)
            except ValueError:
                pass
    raise ValueError(f"expected {type_}, got {value!r}")


def convert(type_: str, value: Any) -> Any:
    """A Python value (or its command-line text) converted to ``type_``; ValueError if it is not one."""
    if value is None:
        return None
    if not type_.startswith("list<"):
        return _scalar(type_, value)
    element = type_[5:-1]
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                items = json.loads(text)
            except json.JSONDecodeError as e:
                raise ValueError(f"expected a JSON array or comma-separated {element}s, got {value!r}") from e
        else:
            items = [part.strip() for part in text.split(",")] if text else []
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise ValueError(f"expected {type_}, got {value!r}")
    return [_scalar(element, item) for item in items]


def bind(query: LibraryQuery, given: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter of ``query`` typed and checked, defaults applied.

    Raises InputError naming the parameter and listing the valid ones when a parameter is
    unknown, missing, of the wrong type or not one of its choices.
    """
    valid = ", ".join(p.describe() for p in query.params) or "(none)"
    unknown = sorted(set(given) - {p.name for p in query.params})
    if unknown:
        raise InputError(f"query {query.name!r} has no parameter {', '.join(map(repr, unknown))}; "
                         f"valid parameters: {valid}", field=unknown[0], value=given[unknown[0]])
    out: dict[str, Any] = {}
    for p in query.params:
        if p.name not in given:
            if p.required:
                raise InputError(f"query {query.name!r} needs parameter {p.name!r} ({p.type}); "
                                 f"valid parameters: {valid}", field=p.name)
            out[p.name] = p.default
            continue
        try:
            value = convert(p.type, given[p.name])
        except ValueError as e:
            raise InputError(f"query {query.name!r}, parameter {p.name!r}: {e}", field=p.name,
                             value=given[p.name]) from e
        if p.choices and value is not None and str(value) not in p.choices:
            raise InputError(f"query {query.name!r}, parameter {p.name!r} must be one of "
                             f"{', '.join(p.choices)}; got {value!r}", field=p.name, value=value)
        out[p.name] = value
    return out


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """``["k=10", "user_id=1"]`` (command line ``--param``) as a dict of raw strings."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--param expects NAME=VALUE, got {pair!r}", field="--param", value=pair)
        if name.strip() in out:
            raise InputError(f"--param {name.strip()} given twice", field="--param", value=pair)
        out[name.strip()] = value
    return out


# ---------------------------------------------------------------- header parsing (pure)
def parse(text: str, path: Path) -> LibraryQuery:
    """Parse one library file; InputError naming file, line and field on a malformed header."""
    name = path.stem
    if not _NAME.match(name):
        raise InputError("query file names must be lower_snake_case", file=str(path), field="name", value=name)
    lines = text.splitlines()
    header: list[tuple[int, str]] = []
    body_start = len(lines)
    for i, line in enumerate(lines):
        if line.startswith("//"):
            header.append((i + 1, line[2:].strip()))
        elif line.strip() or header:
            body_start = i
            break
    if not header or not header[0][1] or header[0][1].startswith("@"):
        raise InputError("the first line must be a `// Title` comment", file=str(path), line=1, field="title")
    title = header[0][1]
    prose: list[str] = []
    params: list[Param] = []
    columns: list[Column] = []
    examples: list[str] = []
    requires: list[str] = []
    for lineno, line in header[1:]:
        if not line.startswith("@"):
            prose.append(line)
            continue
        tag = line.split(None, 1)[0]
        if tag == "@param":
            params.append(_parse_param(line, path, lineno))
        elif tag == "@column":
            m = _COLUMN.match(line)
            if not m:
                raise InputError("expected `@column NAME: TYPE description`", file=str(path), line=lineno,
                                 field="@column", value=line)
            columns.append(Column(m["name"], m["type"], (m["doc"] or "").strip()))
        elif tag == "@example":
            examples.append(line[len("@example"):].strip())
        elif tag == "@requires":
            plugin = line[len("@requires"):].strip()
            if plugin not in PLUGINS:
                raise InputError(f"unknown plugin; known: {', '.join(PLUGINS)}", file=str(path), line=lineno,
                                 field="@requires", value=plugin)
            requires.append(plugin)
        else:
            raise InputError("unknown header tag; known: @param, @column, @example, @requires",
                             file=str(path), line=lineno, field=tag, value=line)
    body = "\n".join(lines[body_start:]).strip()
    if not body:
        raise InputError("the file has no query after its header", file=str(path), field="query")
    if not columns:
        raise InputError("the header documents no returned @column", file=str(path), field="@column")
    _check_unique(path, "@param", [p.name for p in params])
    _check_unique(path, "@column", [c.name for c in columns])
    used = set(re.findall(r"\$(\w+)", _strip_comments_and_strings(body)))
    declared = {p.name for p in params}
    if used - declared:
        raise InputError(f"the query uses undeclared parameters {sorted(used - declared)}", file=str(path),
                         field="@param", value=sorted(used - declared))
    if declared - used:
        raise InputError(f"declared parameters the query never uses: {sorted(declared - used)}", file=str(path),
                         field="@param", value=sorted(declared - used))
    description = "\n".join(prose).strip()
    return LibraryQuery(name=name, title=title, description=description, params=tuple(params),
                        columns=tuple(columns), examples=tuple(examples), requires=tuple(requires),
                        text=body, path=path)


def _parse_param(line: str, path: Path, lineno: int) -> Param:
    m = _PARAM.match(line)
    if not m:
        raise InputError("expected `@param NAME: TYPE [in (a, b)] [= DEFAULT] description`", file=str(path),
                         line=lineno, field="@param", value=line)
    name, type_ = m["name"], "list<string>" if m["type"] == "list" else m["type"]
    if type_ not in PARAM_TYPES:
        raise InputError(f"unknown parameter type; known: {', '.join(PARAM_TYPES)}", file=str(path), line=lineno,
                         field=name, value=type_)
    if name in RESERVED_PARAMS:
        raise InputError("reserved parameter name", file=str(path), line=lineno, field=name, value=name)
    choices = tuple(c.strip() for c in m["choices"].split(",")) if m["choices"] else ()
    default: Any = _NO_DEFAULT
    if m["default"] is not None:
        raw = m["default"]
        if raw == "null":
            default = None
        else:
            try:
                default = convert(type_, raw[1:-1] if raw[0] in "'\"" else raw)
            except ValueError as e:
                raise InputError(f"bad default: {e}", file=str(path), line=lineno, field=name, value=raw) from e
        if choices and default is not None and str(default) not in choices:
            raise InputError(f"default is not one of {choices}", file=str(path), line=lineno, field=name,
                             value=raw)
    return Param(name, type_, default, choices, (m["doc"] or "").strip())


def _check_unique(path: Path, tag: str, names: list[str]) -> None:
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"declared twice: {dupes}", file=str(path), field=tag, value=dupes)


def _strip_comments_and_strings(cypher: str) -> str:
    no_strings = re.sub(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", "''", cypher)
    return re.sub(r"//[^\n]*", "", no_strings)


# ---------------------------------------------------------------- loading (file I/O)
def load(directory: Path = QUERIES_DIR) -> dict[str, LibraryQuery]:
    """Every ``*.cypher`` file of the library, by name, sorted."""
    queries = {}
    for path in sorted(directory.glob("*.cypher")):
        q = parse(path.read_text(encoding="utf-8"), path)
        queries[q.name] = q
    return queries


def get(name: str, directory: Path = QUERIES_DIR) -> LibraryQuery:
    """One query by name; InputError listing the valid names if there is none."""
    queries = load(directory)
    if name not in queries:
        raise InputError(f"no library query {name!r}; available: {', '.join(queries)}", field="name", value=name)
    return queries[name]


# ---------------------------------------------------------------- running (Neo4j)
class Reader(Protocol):
    """What running needs of ``graph.db.Graph``: its parameterised ``read`` (and ``uri`` for messages)."""

    uri: str

    def read(self, query: LiteralString, **params: Any) -> list[dict[str, Any]]: ...


def missing_plugins(g: Reader, query: LibraryQuery) -> list[str]:
    """The plugins ``query`` requires that the server lacks."""
    missing = []
    for plugin in query.requires:
        try:
            g.read(cast(LiteralString, PLUGINS[plugin]))
        except GraphError:
            missing.append(plugin)
    return missing


def run(g: Reader, query: LibraryQuery, given: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Bind the parameters, check required plugins, run the query through ``Graph.read``."""
    params = bind(query, given or {})
    missing = missing_plugins(g, query)
    if missing:
        names = {"gds": "Graph Data Science (gds.*)", "apoc": "APOC (apoc.*)"}
        raise GraphError(f"query {query.name!r} needs the {' and '.join(names[m] for m in missing)} plugin, "
                         f"which is not installed on {g.uri or 'this server'}; "
                         "the managed server (`ikg server start`) ships it, or install it on your own server")
    logger.debug("running library query %s with %s", query.name, params)
    return g.read(cast(LiteralString, query.text), **params)
