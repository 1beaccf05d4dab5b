"""`ikg`: the project's one command-line entry point (also `python -m cli`).

Thin by design: parse arguments, configure logging, open the one Driver, delegate.
Each command group has an ``_add_<group>`` function registering its sub-commands.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ.setdefault("DGLBACKEND", "pytorch")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from graph.errors import IkgError  # noqa: E402
from graph.settings import Neo4jSettings, ServerConfig, external_server_configured  # noqa: E402

logger = logging.getLogger("ikg")


def emit(text: str = "") -> None:
    """Command output for the user (stdout); progress and diagnostics go to logging (stderr)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def emit_json(data: object) -> None:
    emit(json.dumps(data, indent=2, default=str, ensure_ascii=False))


# ---------------------------------------------------------------- shared helpers
def open_graph(autostart: bool = True):
    """Connect to NEO4J_URI, or to the managed server (started first if needed)."""
    from graph import server
    from graph.db import Graph

    if not external_server_configured():
        cfg = ServerConfig.from_env()
        if not server.status(cfg).running:
            if not autostart:
                raise IkgError("the managed Neo4j is not running: run `ikg server start`")
            logger.info("starting the managed Neo4j (first start downloads ~170 MB of jars)")
            server.start(cfg)
    return Graph.connect(Neo4jSettings.from_env())


def _print_urls(cfg: ServerConfig) -> None:
    settings = Neo4jSettings.for_server(cfg)
    emit(f"Bolt:     {cfg.bolt_uri}")
    emit(f"Browser:  {cfg.browser_url}  (user {settings.username}, password in {cfg.password_file})")


# ---------------------------------------------------------------- server
def _server(args: argparse.Namespace) -> int:
    from graph import server

    cfg = ServerConfig.from_env()
    action = args.action
    if action == "install":
        done = server.install(cfg, force=args.force)
        emit(f"Neo4j jars {'installed' if done else 'already installed'} in {cfg.dist}")
    elif action == "start":
        was_running = server.status(cfg).running
        st = server.start(cfg)
        emit(f"Neo4j {'was already running' if was_running else 'started'} (pid {st.pid}, home {st.home})")
        _print_urls(cfg)
    elif action == "stop":
        emit("Neo4j stopped" if server.stop(cfg) else "Neo4j was not running")
    elif action == "status":
        if external_server_configured():
            settings = Neo4jSettings.from_env()
            emit(f"using your own Neo4j at {settings.uri} (NEO4J_URI); the managed server is not used")
            return 0
        st = server.status(cfg)
        emit(f"Neo4j is {'running (pid %d)' % st.pid if st.running else 'stopped'}; home {st.home}")
        if st.running:
            _print_urls(cfg)
        return 0 if st.running else 3
    elif action == "logs":
        emit(server.log_tail(cfg, args.lines))
    return 0


def _add_server(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("server", help="manage the local Neo4j (install|start|stop|status|logs)")
    p.add_argument("action", choices=["install", "start", "stop", "status", "logs"])
    p.add_argument("--force", action="store_true", help="install: download the jars again")
    p.add_argument("-n", "--lines", type=int, default=60, help="logs: how many lines")
    p.set_defaults(func=_server)


# ---------------------------------------------------------------- schema
def _schema(args: argparse.Namespace) -> int:
    from graph import schema

    with open_graph() as g:
        counts = schema.apply(g)
    emit(f"schema applied: {counts['statements']} constraints/indexes, {counts['vector_indexes']} vector indexes")
    return 0


def _add_schema(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schema", help="apply constraints, indexes and vector indexes (idempotent)")
    p.add_argument("action", choices=["apply"])
    p.set_defaults(func=_schema)


# ---------------------------------------------------------------- demo
def _demo(args: argparse.Namespace) -> int:
    from jobs.demo import Demo, DemoConfig, stop_api

    if args.stop:
        emit("demo API stopped" if stop_api() else "no demo API was running")
        return 0
    cfg = DemoConfig(fresh=args.fresh, model=args.model, backend=args.backend, device=args.device,
                     epochs=args.epochs, api_port=args.api_port, serve=not args.no_serve)
    started = time.perf_counter()
    with open_graph() as g:
        result = Demo(g, cfg).run()
    total = time.perf_counter() - started
    emit("")
    emit(f"{'stage':<28} {'seconds':>8}  result")
    for st in result.stages:
        emit(f"{st.name:<28} {st.seconds:8.1f}  {'(skipped) ' if st.skipped else ''}{st.detail}")
    emit(f"{'total (incl. Neo4j start)':<28} {total:8.1f}")
    emit("")
    if not external_server_configured():
        _print_urls(ServerConfig.from_env())
    emit(f"Browser:  the guide opens on connect; or run  MATCH (run:ModelRun {{active: true}}) "
         f"MATCH (u:User {{id: '{cfg.example_user}'}})-[r:INTERESTED_IN {{run_id: run.id}}]->(t:Topic) RETURN u, r, t")
    if result.report:
        emit(f"Report:   {result.report}")
    if result.api_url:
        emit(f"API:      {result.api_url}  (docs: {result.api_url}/docs)")
        emit(f"API key:  {result.api_key}")
        emit(f"Try:      curl -s -H 'X-API-Key: {result.api_key}' "
             f"{result.api_url}/v1/users/{result.example_user}/interests?limit=5")
        emit("Stop:     .venv/bin/ikg demo --stop && .venv/bin/ikg server stop")
    return 0


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the main job end to end on the managed Neo4j (reruns skip what is done)")
    p.add_argument("--fresh", action="store_true", help="wipe the graph and the demo state first")
    p.add_argument("--model", default="sage", choices=["sage", "gcn"],
                   help="sage: GraphSAGE with gnn/configs/sage.yaml (default); gcn: LightGCN-style defaults")
    p.add_argument("--backend", default="dgl", choices=["dgl", "pyg"])
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--epochs", type=int, help="training epochs (default from gnn/configs/default.yaml)")
    p.add_argument("--api-port", type=int, default=8000)
    p.add_argument("--no-serve", action="store_true", help="do not start the API")
    p.add_argument("--stop", action="store_true", help="stop the API started by an earlier demo")
    p.set_defaults(func=_demo)


# ---------------------------------------------------------------- api (serve, api-key)
def _serve(args: argparse.Namespace) -> int:
    from api.serve import ServeConfig, run

    serve = ServeConfig(host=args.host, port=args.port, threads=args.threads,
                        **({"workers": args.workers} if args.workers else {}))
    if not external_server_configured():
        open_graph().close()  # start the managed Neo4j if needed, before the workers fork
    emit(f"serving the API on http://{serve.host}:{serve.port} with {serve.workers} worker processes "
         "(docs at /docs, an API key is needed: `ikg api-key create`)")
    run(serve)
    return 0


def _add_serve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the HTTP API (gunicorn, worker processes)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default loopback only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=0, help="worker processes (default 2 x cores)")
    p.add_argument("--threads", type=int, default=1, help="threads per worker (default 1)")
    p.set_defaults(func=_serve)


def _api_key(args: argparse.Namespace) -> int:
    from api import keys

    with open_graph() as g:
        if args.action == "create":
            key, record = keys.create_key(g, args.name, args.role)
            emit(f"created API key {record['id']} ({record['role']}, {record['name']!r}); it is shown only once:")
            emit(key)
        elif args.action == "list":
            emit_json(keys.list_keys(g))
        else:
            if not args.id:
                raise IkgError("api-key revoke needs --id")
            record = keys.revoke_key(g, args.id)
            emit(f"revoked API key {record['id']} at {record['revoked_at']}")
    return 0


def _add_api_key(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("api-key", help="manage API keys (create|list|revoke); stored hashed in Neo4j")
    p.add_argument("action", choices=["create", "list", "revoke"])
    p.add_argument("--name", default="default", help="create: a label for the key")
    p.add_argument("--role", default="read", choices=["read", "write", "admin"], help="create: role")
    p.add_argument("--id", help="revoke: the key id (the 8 hex digits after ikg_)")
    p.set_defaults(func=_api_key)


# ---------------------------------------------------------------- user (data control)
def _user(args: argparse.Namespace) -> int:
    from graph import userdata

    with open_graph() as g:
        if args.action == "delete":
            emit_json(userdata.delete_user(g, args.id))
            return 0
        data = userdata.export_user(g, args.id, embeddings=args.embeddings)
    if data is None:
        raise IkgError(f"no user with id {args.id!r}")
    if args.out:
        Path(args.out).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        emit(f"user data written to {args.out}")
    else:
        emit_json(data)
    return 0


def _add_user(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("user", help="per-user data control: delete ID (everything derived, one transaction; "
                                    "a rerun reports deleted: false) | export ID (all stored data as JSON)")
    p.add_argument("action", choices=["delete", "export"])
    p.add_argument("id", help="the user id")
    p.add_argument("--embeddings", action="store_true", help="export: include embedding vectors")
    p.add_argument("--out", help="export: write the JSON to this file instead of stdout")
    p.set_defaults(func=_user)


# ---------------------------------------------------------------- synth
def _synth(args: argparse.Namespace) -> int:
    from graph.errors import ConfigError
    from ingestion.synth.generate import GenerateOptions, generate, prepare_out
    from ingestion.synth.world import WorldConfig

    try:
        cfg = WorldConfig(n_users=args.users, n_content=args.content, n_topics=args.topics, seed=args.seed,
                          n_parents=args.parents, n_windows=args.windows, window_days=args.window_days,
                          drift_fraction=args.drift_fraction, noise_rate=args.noise_rate,
                          interactions_per_window=args.interactions_per_window, follows_mean=args.follows_mean,
                          homophily=args.homophily, chunk_users=args.chunk_users)
        opts = GenerateOptions(media=not args.no_media, media_dir=args.media_dir, fmt=args.format,
                               progress=not args.quiet)
    except ValueError as e:
        raise ConfigError(f"ikg synth: {e}") from e
    prepare_out(args.out, replace=args.force)
    started = time.perf_counter()
    stats = generate(cfg, args.out, opts)
    emit_json({"out": str(args.out), "total_seconds": round(time.perf_counter() - started, 2), **stats})
    return 0


def _add_synth(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="generate a synthetic multimodal interest world with planted ground truth")
    p.add_argument("--users", type=int, default=1_000)
    p.add_argument("--content", type=int, default=500)
    p.add_argument("--topics", type=int, default=20, help="leaf topics")
    p.add_argument("--parents", type=int, default=0, help="parent topics (0: topics/5)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="dataset directory (ingest format + truth/)")
    p.add_argument("--windows", type=int, default=3, help="time windows")
    p.add_argument("--window-days", type=int, default=30)
    p.add_argument("--drift-fraction", type=float, default=0.2, help="share of users whose interests drift")
    p.add_argument("--noise-rate", type=float, default=0.1, help="share of interactions off-interest")
    p.add_argument("--interactions-per-window", type=float, default=8.0, help="mean per user and window")
    p.add_argument("--follows-mean", type=float, default=6.0)
    p.add_argument("--homophily", type=float, default=0.8)
    p.add_argument("--chunk-users", type=int, default=50_000, help="users generated and written per chunk")
    p.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    p.add_argument("--no-media", action="store_true", help="skip image/audio files (columns left empty)")
    p.add_argument("--media-dir", type=Path, help="shared media cache (reused across worlds with the same content)")
    p.add_argument("--force", action="store_true", help="replace --out if it holds a previous synthetic world")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_synth)


# ---------------------------------------------------------------- gnn (train, evaluate, drift)
def _train_config(args: argparse.Namespace, **extra):
    from gnn.config import TrainConfig

    overrides = {
        "model": getattr(args, "model", None), "backend": args.backend, "device": args.device, "epochs": args.epochs,
        "emb_dim": args.emb_dim, "num_layers": args.layers, "loss": args.loss, "num_negatives": args.negatives,
        "lr": args.lr, "batch_size": args.batch_size, "half_life_days": args.half_life_days, "seed": args.seed,
        "head": args.head, "minibatch": True if args.minibatch else None,
        "fanouts": (tuple(int(f) for f in args.fanouts.split(",")) if args.fanouts
                    else (10,) * args.layers if args.layers else None),
        "use_features": False if args.no_features else None, "num_threads": args.threads, **extra,
    }
    if args.config:
        return TrainConfig.from_yaml(Path(args.config), **overrides)
    return TrainConfig().with_overrides(**overrides)


def _gnn_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--snapshot", required=True, type=Path, help="snapshot directory (ikg export)")
    p.add_argument("--config", help="YAML config (gnn/configs/*.yaml); flags override it")
    p.add_argument("--backend", choices=["dgl", "pyg"])
    p.add_argument("--device", choices=["auto", "cpu", "cuda"])
    p.add_argument("--epochs", type=int)
    p.add_argument("--emb-dim", type=int)
    p.add_argument("--layers", type=int)
    p.add_argument("--loss", choices=["bpr", "bce"])
    p.add_argument("--negatives", type=int, help="uniform negatives per positive")
    p.add_argument("--lr", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--head", choices=["dot", "mlp"])
    p.add_argument("--minibatch", action="store_true", help="neighbour-sampled mini-batches")
    p.add_argument("--fanouts", help="per-layer fanouts, e.g. 10,10 (-1 = all)")
    p.add_argument("--half-life-days", type=float)
    p.add_argument("--no-features", action="store_true", help="ignore node features (ids + statistics only)")
    p.add_argument("--seed", type=int)
    p.add_argument("--threads", type=int, help="torch CPU threads (0 = torch default; 1 on a busy box)")


def _train(args: argparse.Namespace) -> int:
    from graph.settings import var_dir
    from gnn.train import train_run

    cfg = _train_config(args, split=args.split)
    run_dir = train_run(args.snapshot, cfg, Path(args.runs_dir) if args.runs_dir else var_dir("runs"))
    run = json.loads((run_dir / "run.json").read_text())
    emit(f"run {run['run_id']} written to {run_dir}")
    emit_json({"metrics": run["metrics"], "timings": run["timings"]})
    return 0


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a GNN (sage|gcn) on a snapshot; writes var/runs/<run_id>/")
    _gnn_common(p)
    p.add_argument("--model", choices=["sage", "gcn"])
    p.add_argument("--split", choices=["temporal", "random"])
    p.add_argument("--runs-dir", help="parent folder of the run directory (default var/runs)")
    p.set_defaults(func=_train)


def _evaluate(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from graph.settings import var_dir
    from gnn.evaluate import markdown_table, run_evaluation

    cfg = _train_config(args)
    splits = ["temporal", "random"] if args.split == "both" else [args.split]
    out = Path(args.out) if args.out else var_dir("reports", "eval-" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S"))
    rows, out = run_evaluation(args.snapshot, cfg, splits, [m.strip() for m in args.models.split(",")], out,
                               progress=args.verbose, embedding=args.diversity_embedding)
    if args.json:
        emit_json(rows)
    else:
        emit(markdown_table(rows, cfg.eval_k))
    emit(f"report, rows.json and bar chart in {out}")
    return 0


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="compare GNNs and baselines (pop, bprmf) on a split: table + bar chart")
    _gnn_common(p)
    p.add_argument("--split", choices=["temporal", "random", "both"], default="temporal")
    p.add_argument("--models", default="sage,gcn,pop,bprmf", help="comma list of sage,gcn,pop,bprmf")
    p.add_argument("--out", help="report folder (default var/reports/eval-<time>)")
    p.add_argument("--json", action="store_true", help="print rows as JSON instead of a table")
    p.add_argument("--diversity-embedding", default="emb_text", metavar="PROP",
                   help="content embedding for intra-list diversity (default emb_text)")
    p.set_defaults(func=_evaluate)


def _drift(args: argparse.Namespace) -> int:
    from graph.snapshot import Snapshot
    from gnn.drift import Window, drift_report, markdown_table

    rows = drift_report(Snapshot.load(args.snapshot), Window.parse(args.window_a), Window.parse(args.window_b),
                        args.half_life_days * 86400.0, top_n=args.top)
    if args.json:
        emit_json(rows)
    else:
        emit(markdown_table(rows))
    return 0


def _add_drift(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("drift", help="users whose decayed topic interests moved most between two time windows")
    p.add_argument("--snapshot", required=True, type=Path)
    p.add_argument("--window-a", required=True, help="START..END (ISO-8601 or epoch seconds; END exclusive)")
    p.add_argument("--window-b", required=True, help="START..END")
    p.add_argument("--half-life-days", type=float, default=30.0)
    p.add_argument("--top", type=int, default=20, help="how many users to list")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_drift)


# ---------------------------------------------------------------- report
def _report(args: argparse.Namespace) -> int:
    from graph.settings import var_dir
    from graph.writeback import resolve_run_dir
    from report.build import ReportConfig, build_report

    run_dir = resolve_run_dir(args.run)
    out = Path(args.out) if args.out else var_dir("reports") / run_dir.name
    eval_dir = Path(args.eval_dir) if args.eval_dir else run_dir / "eval"
    cfg = ReportConfig(example_user=args.user)
    if args.no_graph:
        path = build_report(run_dir, out, None, eval_dir, cfg)
    else:
        with open_graph() as g:
            path = build_report(run_dir, out, g, eval_dir, cfg)
    emit(f"report: {path}")
    return 0


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="HTML report (+PNGs) of a model run")
    p.add_argument("--run", required=True, help="run id (var/runs/<id>) or run directory")
    p.add_argument("--out", help="output folder (default var/reports/<run id>)")
    p.add_argument("--eval-dir", help="evaluation folder with rows.json/bars.png (default <run>/eval)")
    p.add_argument("--user", help="example user id for the neighbourhood figure")
    p.add_argument("--no-graph", action="store_true", help="do not query Neo4j (no cohorts/neighbourhood)")
    p.set_defaults(func=_report)


# ---------------------------------------------------------------- ingest
def _ingest(args: argparse.Namespace) -> int:
    from graph import schema
    from graph.settings import var_dir
    from ingestion.pipeline import IngestConfig, ingest_source

    cfg = IngestConfig(batch_size=args.batch_size, on_error=args.on_error, quarantine_path=args.quarantine_file,
                       embed=not args.no_embed, text_encoder=args.text_encoder, image_encoder=args.image_encoder,
                       audio_encoder=args.audio_encoder, device=args.device, progress=not args.no_progress,
                       cache_dir=None if args.no_cache else var_dir("cache"))
    with open_graph() as g:
        schema.apply(g)
        summary = ingest_source(g, args.source, cfg, kg=not args.no_kg, kg_min_items=args.kg_min_items)
    emit(f"Ingested {summary.dataset} in {summary.seconds:.1f} s "
         f"(created {summary.created.get('nodes', 0)} nodes, {summary.created.get('relationships', 0)} relationships)")
    emit(summary.table())
    if summary.quarantine:
        emit(f"{summary.rejected} bad row(s) quarantined in {summary.quarantine}")
    return 0


def _add_ingest(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="load a dataset (directory/table files in the generic format, "
                                      "movielens-100k or sample) into Neo4j with embeddings",
                       description="Formats: docs/ingest-format.md. Re-running a load changes nothing.")
    p.add_argument("source", nargs="+", help="dataset directories or table files, or `movielens-100k`, or `sample`")
    p.add_argument("--batch-size", type=int, default=10_000, help="rows per UNWIND transaction (default 10000)")
    p.add_argument("--on-error", choices=["stop", "quarantine"], default="stop",
                   help="stop at the first bad row (default), or write bad rows to a quarantine file and load the rest")
    p.add_argument("--quarantine-file", type=Path, default=None,
                   help="where --on-error quarantine writes (default var/quarantine/ingest-<time>.jsonl)")
    p.add_argument("--no-embed", action="store_true", help="skip embeddings (existing ones are kept)")
    p.add_argument("--text-encoder", default=None, help="registered text encoder name or a local "
                   "sentence-transformers directory (default all-MiniLM-L6-v2)")
    p.add_argument("--image-encoder", default=None, help="registered image encoder (default efficientnet-lite0)")
    p.add_argument("--audio-encoder", default=None, help="registered audio encoder (default mfcc-40)")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available)")
    p.add_argument("--no-kg", action="store_true", help="movielens-100k: leave out knowledge-graph topics")
    p.add_argument("--kg-min-items", type=int, default=2,
                   help="movielens-100k: keep KG entities shared by at least this many movies (default 2)")
    p.add_argument("--no-cache", action="store_true",
                   help="do not use the embedding cache (var/cache/embeddings.sqlite)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_ingest)


# ---------------------------------------------------------------- cypher library
def _cypher(args: argparse.Namespace) -> int:
    from graph import library, library_docs, library_format

    if args.action == "list":
        queries = library.load()
        if args.format == "json":
            emit_json([{"name": q.name, "title": q.title, "params": [p.describe() for p in q.params],
                        "columns": q.column_names, "requires": list(q.requires)} for q in queries.values()])
        else:
            rows = [{"query": q.name, "what it answers": q.title,
                     "parameters": ", ".join(p.name + ("" if p.required else "?") for p in q.params)}
                    for q in queries.values()]
            emit(library_format.render(rows, ["query", "what it answers", "parameters"],
                                       "csv" if args.format == "csv" else "table"))
        return 0
    if args.action == "docs":
        if args.check:
            stale = library_docs.stale()
            for path in stale:
                logger.error("%s is stale: run `ikg cypher docs`", path)
            emit("library docs are current" if not stale else f"{len(stale)} generated file(s) stale")
            return 1 if stale else 0
        changed = library_docs.write()
        emit("\n".join(f"wrote {path}" for path in changed) or "library docs already current")
        return 0
    if not args.name:
        raise IkgError(f"`ikg cypher {args.action}` needs a query NAME (see `ikg cypher list`)")
    query = library.get(args.name)
    if args.action == "show":
        emit(library_format.describe(query))
        return 0
    params = library.bind(query, library.parse_assignments(args.param))
    # a dataset without e.g. FOLLOWS makes the server warn about the type on every run: not news to analysts
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)
    with open_graph() as g:
        rows = library.run(g, query, params)
    emit(library_format.render(rows, query.column_names, args.format))
    return 0


def _add_cypher(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cypher", help="the analysts' Cypher library (list|show|run|docs)",
                       description="Named, parameterised queries from cypher/queries/ (see cypher/README.md).")
    p.add_argument("action", choices=["list", "show", "run", "docs"])
    p.add_argument("name", nargs="?", help="query name (show, run)")
    p.add_argument("--param", "-p", action="append", default=[], metavar="NAME=VALUE",
                   help="run: a query parameter (repeatable); typed from the query header")
    p.add_argument("--format", "-f", choices=["table", "csv", "json"], default="table", help="output format")
    p.add_argument("--check", action="store_true", help="docs: only check the generated files are current")
    p.set_defaults(func=_cypher)


# ---------------------------------------------------------------- export (graph.export)
def _csv(value: str | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(v.strip() for v in value.split(",") if v.strip())


def _export(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from graph.export import ExportConfig, export_to
    from graph.model import INPUT_REL_TYPES, NODE_LABELS
    from graph.settings import var_dir

    cfg = ExportConfig(labels=_csv(args.labels) or NODE_LABELS, rel_types=_csv(args.rels) or INPUT_REL_TYPES,
                       since=args.since, until=args.until, sample_users=args.sample_users, hops=args.hops,
                       seed=args.seed, features=() if args.no_features else _csv(args.features),
                       reference_time=args.reference_time, workers=args.workers, pseudonymise=args.pseudonymise)
    name = args.name or "export-" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    out = Path(args.out) if args.out else var_dir("snapshots") / name
    with open_graph() as g:
        snap = export_to(g, cfg, out, name=name)
    emit(f"snapshot written to {out}")
    emit_json({"counts": snap.manifest["counts"], "features": snap.manifest["features"],
               "reference_time": snap.manifest["reference_time_iso"], "timings": snap.manifest["timings"]})
    return 0


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a subgraph from Neo4j into a snapshot (var/snapshots/<name>)")
    p.add_argument("--name", help="snapshot name (default export-<UTC time>)")
    p.add_argument("--out", help="snapshot directory (default var/snapshots/<name>)")
    p.add_argument("--labels", help="comma list of node labels (default User,Content,Topic)")
    p.add_argument("--rels", help="comma list of relationship types (default INTERACTED,HAS_TOPIC,SUBTOPIC_OF,FOLLOWS)")
    p.add_argument("--since", help="keep interactions at or after this time (ISO-8601 or epoch seconds)")
    p.add_argument("--until", help="keep interactions before this time")
    p.add_argument("--sample-users", type=int, help="export only N random users and their neighbourhood")
    p.add_argument("--hops", type=int, default=2, help="neighbourhood size around sampled users (default 2)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the user sample")
    p.add_argument("--features", help="comma list of Label.prop embeddings (default every input embedding)")
    p.add_argument("--no-features", action="store_true", help="export no node features")
    p.add_argument("--reference-time", help="reference time for decay (default: latest exported interaction)")
    p.add_argument("--workers", type=int, default=2, help="parallel sessions reading pages (default 2)")
    p.add_argument("--pseudonymise", action="store_true",
                   help="replace user ids by keyed pseudonyms (HMAC-SHA256, secret var/keys/pseudonym.secret, "
                        "0600, created on first use); write-back maps them back on this machine")
    p.set_defaults(func=_export)


# ---------------------------------------------------------------- writeback / runs (graph.writeback)
def _writeback_config(args: argparse.Namespace):
    from graph.writeback import WritebackConfig

    return WritebackConfig(top_k=args.top_k, recreate_index=args.recreate_index, keep_previous=args.keep_previous,
                           snapshot=Path(args.snapshot) if args.snapshot else None)


def _writeback_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--top-k", type=int, help="write only the first K interests/recommendations per user")
    p.add_argument("--keep-previous", type=int, default=0,
                   help="keep the edges of this many superseded runs (for instant rollback; default 0)")
    p.add_argument("--recreate-index", action="store_true",
                   help="drop and recreate user_emb_gnn/content_emb_gnn if the run's emb_dim differs")
    p.add_argument("--snapshot", help="the run's snapshot directory, if not at the path in run.json")


def _writeback_summary(result) -> dict:
    return {"run_id": result.run_id, "skipped": result.skipped, "INTERESTED_IN": result.interests,
            "MAY_LIKE": result.recommendations, "excluded_seen": result.excluded_seen,
            "emb_gnn": result.embeddings, "missing_nodes": result.missing_nodes,
            "previous": result.previous, "retired": result.retired, "timings": result.timings}


def _writeback(args: argparse.Namespace) -> int:
    from graph.writeback import writeback

    with open_graph() as g:
        result = writeback(g, args.run, _writeback_config(args))
    emit(f"run {result.run_id} {'was already' if result.skipped else 'is now'} the active run")
    emit_json(_writeback_summary(result))
    return 0


def _add_writeback(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("writeback", help="write a training run's interests, recommendations and emb_gnn to Neo4j")
    p.add_argument("--run", required=True, help="run id (var/runs/<id>) or run directory")
    _writeback_options(p)
    p.set_defaults(func=_writeback)


def _runs(args: argparse.Namespace) -> int:
    from graph.writeback import activate, delete_run_edges, list_runs

    with open_graph() as g:
        if args.action == "list":
            runs = list_runs(g)
            if args.json:
                emit_json(runs)
                return 0
            emit(f"{'run_id':<36} {'active':<6} {'state':<8} {'INTERESTED_IN':>13} {'MAY_LIKE':>9}  created_at")
            for r in runs:
                emit(f"{r['id']:<36} {str(bool(r.get('active'))):<6} {str(r.get('state')):<8} "
                     f"{r['edges_present']['interests']:>13} {r['edges_present']['recommendations']:>9}  "
                     f"{r.get('created_at')}")
            return 0
        if not args.run_id:
            raise IkgError(f"`ikg runs {args.action}` needs a run id")
        if args.action == "activate":
            result = activate(g, args.run_id, _writeback_config(args))
            emit(f"run {result.run_id} is now the active run")
            emit_json(_writeback_summary(result))
        else:
            delete_run_edges(g, args.run_id)
            emit(f"model edges of run {args.run_id} deleted")
    return 0


def _add_runs(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("runs", help="model runs in the graph: list | activate RUN_ID (rollback) | delete-edges RUN_ID")
    p.add_argument("action", choices=["list", "activate", "delete-edges"])
    p.add_argument("run_id", nargs="?")
    p.add_argument("--json", action="store_true", help="list: print JSON")
    _writeback_options(p)
    p.set_defaults(func=_runs)


# ---------------------------------------------------------------- topics (discovery, communities)
def _topic_table(topics: list[dict], reps: int = 3) -> None:
    width = max((len(str(t["id"])) + 2 for t in topics), default=5)
    emit(f"{'topic':<{width}} {'level':>5} {'size':>6} {'comm':>4}  {'name':<36} representative items")
    for t in topics:
        indent = "  " if t.get("level") == 0 else ""
        community = "" if t.get("community") is None else str(t["community"])
        emit(f"{indent + str(t['id']):<{width}} {t.get('level')!s:>5} {t.get('size') or 0:>6} {community:>4}  "
             f"{str(t['name'])[:36]:<36} {'; '.join(str(r) for r in t['representatives'][:reps])}")


def _topics(args: argparse.Namespace) -> int:
    from graph import topics as gt

    with open_graph() as g:
        if args.action == "discover":
            from discovery.cluster import DiscoveryConfig
            from jobs.topics import discover_topics

            try:
                cfg = DiscoveryConfig(method=args.method, modality=args.modality, k=args.k, parents=args.parents,
                                      seed=args.seed, representatives=args.representatives)
            except ValueError as e:
                raise IkgError(str(e)) from e
            out = discover_topics(g, cfg, progress=not args.no_progress)
            h = out.hierarchy
            emit(f"run {out.run_id}: discovered {len(h.leaves)} topics under {len(h.parents)} parents over "
                 f"{len(out.content_ids)} content items ({h.method}, {h.params['modality']}); "
                 f"{out.written.has_topic} HAS_TOPIC written; replaced run(s): {', '.join(out.written.previous) or '-'}; "
                 + ", ".join(f"{k} {v:.1f} s" for k, v in out.timings.items()))
            _topic_table(gt.list_topics(g))
        elif args.action == "communities":
            from jobs.topics import topic_communities

            try:
                res = topic_communities(g, source=args.source, level=None if args.level < 0 else args.level,
                                        via=args.via, weighting=args.weighting, backend=args.backend,
                                        min_count=args.min_count, seed=args.seed)
            except ValueError as e:
                raise IkgError(str(e)) from e
            emit(f"{res.n_communities} communities over {len(res.assignment)} topics (louvain, {res.backend}, "
                 f"via {args.via}, {res.edges} {args.weighting} edges) in {res.seconds:.1f} s"
                 + (f"; {res.message}" if res.message else ""))
            groups: dict[int, list[str]] = {}
            for tid, c in res.assignment.items():
                groups.setdefault(c, []).append(tid)
            names = {r["id"]: r["name"] for r in g.read("MATCH (t:Topic) WHERE t.id IN $ids RETURN t.id AS id, "
                                                        "t.name AS name", ids=list(res.assignment))}
            for c in sorted(groups):
                emit(f"{c:>4}  {len(groups[c]):>3} topics: {' | '.join(names.get(t) or t for t in sorted(groups[c]))}")
        else:
            topics = gt.list_topics(g)
            if args.json:
                emit_json({"run": gt.active_run(g), "topics": topics})
            elif not topics:
                emit("no discovered topics: run `ikg topics discover`")
            else:
                _topic_table(topics, args.representatives)
    return 0


def _add_topics(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("topics", help="discovered topics: discover (k-means|LDA, atomic replace) | communities "
                                      "(Louvain: GDS, else networkx) | list")
    p.add_argument("action", choices=["discover", "communities", "list"])
    p.add_argument("--method", choices=["kmeans", "lda"], default="kmeans", help="discover: clustering method")
    p.add_argument("--modality", choices=["fused", "text", "image", "audio"], default="fused",
                   help="discover (k-means): embedding to cluster; fused = emb_fused, else the modalities combined")
    p.add_argument("--k", type=int, help="discover: leaf topics (default about sqrt(items/2))")
    p.add_argument("--parents", type=int, help="discover: parent topics (default k/5)")
    p.add_argument("--representatives", type=int, default=5, help="representative items per topic")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--source", default="discovered", help="communities: topic source to group")
    p.add_argument("--level", type=int, default=0, help="communities: topic level (-1: any)")
    p.add_argument("--via", choices=["users", "content"], default="users",
                   help="communities: co-occurrence through shared users or shared content")
    p.add_argument("--weighting", choices=["ppmi", "count"], default="ppmi",
                   help="communities: edge weight (positive PMI discounts merely popular pairs, or raw counts)")
    p.add_argument("--backend", choices=["auto", "gds", "networkx"], default="auto",
                   help="communities: GDS Louvain, the networkx fallback, or auto (GDS when installed)")
    p.add_argument("--min-count", type=int, default=1, help="communities: minimum co-occurrence for an edge")
    p.add_argument("--json", action="store_true", help="list: print JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_topics)


# ---------------------------------------------------------------- graphstorm (scale-out export)
def _export_graphstorm(args: argparse.Namespace) -> int:
    from graph.errors import ConfigError
    from graph.graphstorm import to_graphstorm
    from graph.snapshot import Snapshot

    target = tuple(args.target.split(","))
    try:
        split = tuple(float(f) for f in args.split.split(","))
    except ValueError as e:
        raise ConfigError(f"--split must be three comma-separated fractions, got {args.split!r}") from e
    if len(target) != 3:
        raise ConfigError(f"--target must be SRC,REL,DST, got {args.target!r}")
    try:
        task = None if args.no_labels else "link_prediction"
        conf = to_graphstorm(Snapshot.load(args.snapshot), args.out, task=task, target_etype=target, split=split,
                             seed=None if args.graphstorm_split else args.seed)
    except ValueError as e:
        raise ConfigError(f"ikg export-graphstorm: {e}") from e
    emit_json(json.loads((conf.parent / "export.json").read_text()))
    emit(f"GraphStorm config: {conf}")
    emit(f"build the graph:  cd {conf.parent} && python -m graphstorm.gconstruct.construct_graph "
         f"--conf-file {conf.name} --output-dir OUT --num-parts N --graph-name ikg --add-reverse-edges")
    return 0


def _add_graphstorm(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export-graphstorm",
                       help="write a snapshot as GraphStorm gconstruct input (Parquet + JSON) for cluster training")
    p.add_argument("--snapshot", required=True, type=Path, help="snapshot directory (ikg export)")
    p.add_argument("--out", required=True, type=Path, help="output directory (replaced if a previous export)")
    p.add_argument("--target", default="User,INTERACTED,Content", help="link-prediction edge type SRC,REL,DST")
    p.add_argument("--split", default="0.8,0.1,0.1", help="train,valid,test fractions of unique (src, dst) pairs")
    p.add_argument("--seed", type=int, default=0, help="split seed")
    p.add_argument("--graphstorm-split", action="store_true",
                   help="write no split files: GraphStorm draws an unseeded per-edge split (not reproducible)")
    p.add_argument("--no-labels", action="store_true", help="no link-prediction split (inference-only graph)")
    p.set_defaults(func=_export_graphstorm)


# ---------------------------------------------------------------- scenarios (jobs.scenarios)
def _scenario_server(args: argparse.Namespace, info) -> ServerConfig:
    from jobs.scenarios.base import server_config

    return server_config(info, args.bolt_port, args.http_port)


def _scenario(args: argparse.Namespace) -> int:
    from graph import server
    from jobs import scenarios

    if args.action == "list":
        for s in scenarios.SCENARIOS.values():
            emit(f"{s.info.name:<10} {s.info.title}  (own Neo4j: Bolt {s.info.bolt_port}, HTTP {s.info.http_port})")
            for line in s.info.demonstrates:
                emit(f"{'':<10} {line}")
        emit("")
        emit("run one: .venv/bin/ikg scenario run NAME   (stop its Neo4j: .venv/bin/ikg scenario stop NAME|--all)")
        return 0
    if args.action == "stop":
        if not args.name and not args.all:
            raise IkgError("`ikg scenario stop` needs a scenario NAME or --all")
        for name in (scenarios.SCENARIOS if args.all else [scenarios.get(args.name).info.name]):
            cfg = _scenario_server(args, scenarios.get(name).info)
            emit(f"{name}: Neo4j {'stopped' if server.stop(cfg) else 'was not running'}")
        return 0
    if not args.name:
        raise IkgError(f"`ikg scenario {args.action}` needs a scenario NAME (see `ikg scenario list`)")
    scenario = scenarios.get(args.name)
    if args.action == "env":
        cfg = _scenario_server(args, scenario.info)
        emit(f"export IKG_NEO4J_HOME={cfg.home} IKG_NEO4J_BOLT_PORT={cfg.bolt_port} IKG_NEO4J_HTTP_PORT={cfg.http_port}")
        return 0
    return _scenario_run(args, scenario)


def _scenario_run(args: argparse.Namespace, scenario) -> int:
    from graph.db import Graph
    from graph.errors import ConfigError
    from jobs.scenarios.base import ScenarioConfig, ensure_server

    info = scenario.info
    external = external_server_configured()
    if external and not args.use_external:
        raise IkgError(f"NEO4J_URI is set, but scenario {info.name!r} runs in its own managed Neo4j (Bolt "
                       f"{info.bolt_port}); unset NEO4J_URI, or pass --use-external to run it in your "
                       "database, where it replaces the active model run")
    if external and args.fresh:
        raise IkgError("--fresh with --use-external would delete everything in your database: refused")
    try:
        cfg = ScenarioConfig(name=info.name, size=args.size, epochs=args.epochs, fresh=args.fresh,
                             device=args.device, seed=args.seed, threads=args.threads)
    except ValueError as e:
        raise ConfigError(f"ikg scenario run: {e}") from e
    srv, server_line = None, None
    if external:
        settings = Neo4jSettings.from_env()
        logger.warning("running scenario %s in your Neo4j at %s: its active model run will be replaced",
                       info.name, settings.uri)
    else:
        srv = _scenario_server(args, info)
        t0 = time.perf_counter()
        started_now = ensure_server(info, srv)
        server_line = (f"{'start its Neo4j':<34} {time.perf_counter() - t0:8.1f}  "
                       f"{'started' if started_now else '(skipped) already running'}")
        settings = Neo4jSettings.for_server(srv)
    started = time.perf_counter()
    with Graph.connect(settings) as g:
        result = scenario.run(g, cfg)
    total = time.perf_counter() - started
    emit(f"== scenario {info.name}: {info.title}")
    for line in info.demonstrates:
        emit(f"   {line}")
    emit("")
    emit(f"{'stage':<34} {'seconds':>8}  result")
    if server_line:
        emit(server_line)
    for st in result.stages:
        emit(f"{st.name:<34} {st.seconds:8.1f}  {'(skipped) ' if st.skipped else ''}{st.detail}")
    emit(f"{'total (after Neo4j start)':<34} {total:8.1f}")
    emit("")
    for line in result.facts:
        emit(line)
    emit("")
    if srv is not None:
        emit(f"Neo4j:    {srv.bolt_uri}  home {srv.home}")
        emit(f"Browser:  {srv.browser_url}  (user neo4j, password in {srv.password_file})")
        emit(f"Point ikg at it:  eval \"$(.venv/bin/ikg scenario env {info.name})\"   "
             f"(then `ikg serve --port 8001` + `ikg api-key create` for the API)")
    else:
        emit(f"Neo4j:    {settings.uri} (NEO4J_URI; active run {result.run_id})")
    emit("Look at:")
    for line in result.look_at:
        emit(f"  {line}")
    if srv is not None:
        emit(f"Stop:     .venv/bin/ikg scenario stop {info.name}")
    return 0


def _add_scenario(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scenario", help="seed case studies (movies, social, education) in their own Neo4j: "
                                        "list | run NAME | stop NAME|--all | env NAME",
                       description="Each scenario runs in its own managed Neo4j (.neo4j/scenarios/NAME) on "
                                   "fixed ports; see docs/scenarios.md.")
    p.add_argument("action", choices=["list", "run", "stop", "env"])
    p.add_argument("name", nargs="?", help="scenario name (see `ikg scenario list`)")
    p.add_argument("--all", action="store_true", help="stop: every scenario's Neo4j")
    p.add_argument("--size", choices=["full", "ci"], default="full", help="run: ci = tiny data, few epochs")
    p.add_argument("--epochs", type=int, help="run: training epochs (default: the scenario's)")
    p.add_argument("--fresh", action="store_true", help="run: wipe the scenario's graph and state first")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--seed", type=int, default=0, help="run: seed of the synthetic worlds and training")
    p.add_argument("--threads", type=int, default=0, help="run: torch CPU threads for training (0: default; "
                                                          "1 is much faster on a busy 2-core box)")
    p.add_argument("--bolt-port", type=int, help="the scenario Neo4j's Bolt port (default per scenario)")
    p.add_argument("--http-port", type=int, help="the scenario Neo4j's HTTP port (default per scenario)")
    p.add_argument("--use-external", action="store_true",
                   help="run: with NEO4J_URI set, run in that database (replaces its active model run)")
    p.set_defaults(func=_scenario)


# ---------------------------------------------------------------- entry point
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ikg", description="Interest knowledge graph platform")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_server, _add_schema, _add_demo, _add_ingest, _add_serve, _add_api_key, _add_user, _add_synth, _add_train, _add_evaluate, _add_drift,
                _add_report, _add_cypher, _add_export, _add_graphstorm, _add_writeback, _add_runs, _add_topics, _add_scenario):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("neo4j", "urllib3", "filelock", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return args.func(args)
    except IkgError as e:
        logger.error("%s", e)
        return 2
    except KeyboardInterrupt:
        logger.error("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
