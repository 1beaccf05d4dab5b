"""Files generated from the Cypher library headers: the catalogue in cypher/README.md and the
Browser guide cypher/browser/guide.html. ``ikg cypher docs`` writes them; ``--check`` (and the
test suite) fails when one is stale."""
from __future__ import annotations

import logging
from pathlib import Path

from graph import browser, library, library_format

logger = logging.getLogger(__name__)

README = library.QUERIES_DIR.parent / "README.md"


def outputs(queries_dir: Path = library.QUERIES_DIR) -> dict[Path, str]:
    """Each generated file's path and its up-to-date text."""
    queries = library.load(queries_dir)
    readme = library_format.replace_catalogue(README.read_text(encoding="utf-8"),
                                              library_format.catalogue(queries.values()))
    template = (browser.ASSETS_DIR / browser.GUIDE_TEMPLATE).read_text(encoding="utf-8")
    return {README: readme, browser.ASSETS_DIR / browser.GUIDE_FILE: browser.render_guide(template, queries)}


def stale() -> list[Path]:
    """Generated files whose content differs from what the headers produce now."""
    return [path for path, text in outputs().items()
            if not path.exists() or path.read_text(encoding="utf-8") != text]


def write() -> list[Path]:
    """Regenerate the stale files; returns the ones rewritten."""
    changed = []
    for path, text in outputs().items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            logger.info("wrote %s", path)
            changed.append(path)
    return changed
