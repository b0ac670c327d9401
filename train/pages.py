"""HTML pages people read (the diff page, the watch report): Jinja templates in `data/templates/`,
rendered with autoescaping so that clause text can never become markup."""

from __future__ import annotations

from functools import lru_cache

from train.paths import REPO_ROOT

TEMPLATES = REPO_ROOT / "data" / "templates"


@lru_cache(maxsize=1)
def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, keep_trailing_newline=True
    )


def render_page(name: str, **context) -> str:
    """Render `data/templates/<name>` with `context`."""
    return _environment().get_template(name).render(**context)
