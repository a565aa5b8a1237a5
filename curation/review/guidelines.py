"""A campaign's review guidelines, written in Markdown by its admin, as safe HTML: raw HTML
is shown as text, images are not loaded, and links go to http, https or mailto only."""

from __future__ import annotations

from functools import lru_cache

from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

SCHEMES = ("http://", "https://", "mailto:")


def _link_ok(url: str) -> bool:
    return url.strip().lower().startswith(SCHEMES)


def _link_open(self, tokens, idx, options, env) -> str:
    tokens[idx].attrSet("rel", "nofollow noopener noreferrer")
    return self.renderToken(tokens, idx, options, env)


@lru_cache(maxsize=2)
def _renderer(tables: bool = False) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    if tables:
        md.enable("table")
    md.disable("image")  # a guideline never makes the expert's browser fetch anything
    md.validateLink = _link_ok  # anything else stays plain text
    md.add_render_rule("link_open", _link_open)
    return md


@lru_cache(maxsize=64)
def guidelines_html(text: str) -> SafeString:
    """The Markdown `text` as HTML that is safe to insert into the page."""
    return mark_safe(_renderer().render(text)) if text.strip() else mark_safe("")  # noqa: S308 - escaped by markdown-it (html=False)


def document_html(text: str) -> SafeString:
    """A generated Markdown document (an export's DATASHEET.md) as safe HTML: the same rules
    as guidelines (raw HTML shown as text, no images, safe links), plus tables. Not cached:
    a document may be large and is read once per page."""
    return mark_safe(_renderer(tables=True).render(text))  # noqa: S308 - escaped by markdown-it (html=False)
