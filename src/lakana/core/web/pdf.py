"""HTML to PDF with WeasyPrint, offline: nothing is ever fetched while rendering.

Reports (compliance, incident hand-overs, monthly reports) are standalone HTML pages whose
images are inline SVG or ``data:`` URIs. A report that names any other URL (a remote image,
a ``file://`` path slipped into user text) must not make the server reach out: the fetcher
refuses it and the rest of the document still renders.
"""

from __future__ import annotations

import logging
from typing import Any

from weasyprint import CSS, HTML  # type: ignore[import-untyped]
from weasyprint.urls import URLFetcher  # type: ignore[import-untyped]

_log = logging.getLogger(__name__)


class OfflineFetcher(URLFetcher):  # type: ignore[misc]
    """A WeasyPrint URL fetcher that refuses everything but ``data:`` URIs."""

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> Any:
        """Serve a ``data:`` URI; refuse (raise) any other URL."""
        if not url.strip().lower().startswith("data:"):
            _log.warning("PDF rendering refused to fetch %s", url[:200])
            raise ValueError(f"external resources are refused in reports: {url[:200]}")
        return super().fetch(url, headers)


def to_pdf(html: str, *, stylesheet: str | None = None) -> bytes:
    """The PDF of a standalone HTML page, with an optional extra print ``stylesheet``."""
    fetcher = OfflineFetcher()
    styles = [CSS(string=stylesheet, url_fetcher=fetcher)] if stylesheet else None
    data: bytes = HTML(string=html, base_url=None, url_fetcher=fetcher).write_pdf(
        stylesheets=styles)
    return data
