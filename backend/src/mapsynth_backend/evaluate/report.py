"""A self-contained HTML report: sections of text, tables and matplotlib figures embedded as base64 PNG."""

from __future__ import annotations

import base64
import html
import io
from datetime import datetime, timezone

from .. import __version__

STYLE = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:4px 8px;text-align:right}
th{background:#eee}.note{color:#8a5a00;background:#fff4dd;padding:6px 10px}img{max-width:100%}"""
# Marks the page once every figure has decoded, so a headless browser can check that the report really renders.
SCRIPT = """window.addEventListener('load',function(){var i=document.images,ok=0;for(var k=0;k<i.length;k++)
{if(i[k].complete&&i[k].naturalWidth>0)ok++}document.body.setAttribute('data-images-loaded',ok+'/'+i.length)})"""


class Report:
    def __init__(self, title: str) -> None:
        self.title = title
        self.parts: list[str] = []

    def section(self, title: str) -> None:
        self.parts.append(f"<h2>{html.escape(title)}</h2>")

    def text(self, text: str) -> None:
        self.parts.append(f"<p>{html.escape(text)}</p>")

    def note(self, text: str) -> None:
        self.parts.append(f'<p class="note">{html.escape(text)}</p>')

    def table(self, header: list[str], rows: list[list]) -> None:
        def cell(value) -> str:
            return f"{value:.4g}" if isinstance(value, float) else html.escape(str(value))

        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
        self.parts.append(f"<table><tr>{head}</tr>{body}</table>")

    def figure(self, figure, caption: str) -> None:
        import matplotlib.pyplot as plt

        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        plt.close(figure)
        data = base64.b64encode(buffer.getvalue()).decode("ascii")
        self.parts.append(
            f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )

    def html(self) -> str:
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return (
            f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(self.title)}'
            f"</title><style>{STYLE}</style><script>{SCRIPT}</script></head><body><h1>{html.escape(self.title)}"
            f"</h1><p>MapSynth {__version__}, {created}</p>{''.join(self.parts)}</body></html>"
        )
