"""Plain pages that stand in for the widget's hosts and their themes, for the theme and
accessibility tests: each mounts the built widget (s3_upload_widget/static/widget.js and
widget.css) the way its host would (in the document, or in a shadow root as marimo does)
under that host's CSS variables, attributes and color-scheme.

The widget talks to a minimal anywidget-like model that only lets it render: it answers
the widget's "hello" with a few records (done, finishing, failed, cancelled) so that
rows show (the kernel's records carry statuses; "completing" draws without an upload
under way in this page). Nothing is uploaded through it; the upload tests use a real kernel and S3.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "s3_upload_widget" / "static"
# Served by page.route; nothing listens there (the port is discard's).
ORIGIN = "http://127.0.0.1:9"


@dataclass(frozen=True)
class Host:
    """A host and theme: the page's <html> attributes, its CSS, whether the widget sits in
    a shadow root, and the color scheme the browser reports (prefers-color-scheme)."""

    name: str
    theme: str
    html_attrs: str = ""
    css: str = ""
    shadow: bool = False
    prefers: str = "light"
    head: str = ""

    @property
    def id(self) -> str:
        return f"{self.name}-{self.theme}"


# Colours as the hosts use them (VS Code's Dark+ / Light+ webview variables, marimo
# 0.25's --background / --foreground and its .dark rule, Colab's html[theme=dark]).
_VSCODE_DARK = """body { --vscode-foreground: #cccccc; --vscode-editor-background: #1e1e1e;
  --vscode-descriptionForeground: rgba(204, 204, 204, 0.7); --vscode-errorForeground: #f48771;
  --vscode-button-background: #0e639c; --vscode-button-foreground: #ffffff;
  --vscode-focusBorder: #007fd4; --vscode-font-family: system-ui, sans-serif;
  --vscode-font-size: 13px;
  background: var(--vscode-editor-background); color: var(--vscode-foreground); }"""
_VSCODE_LIGHT = """body { --vscode-foreground: #616161; --vscode-editor-background: #ffffff;
  --vscode-descriptionForeground: #717171; --vscode-errorForeground: #a1260d;
  --vscode-button-background: #007acc; --vscode-button-foreground: #ffffff;
  --vscode-focusBorder: #0090f1; --vscode-font-family: system-ui, sans-serif;
  --vscode-font-size: 13px;
  background: var(--vscode-editor-background); color: var(--vscode-foreground); }"""
_MARIMO = """:root { --background: #fff; --foreground: #0f172a; color-scheme: light; }
.dark { --background: #181c1a; --foreground: #eceeed; color-scheme: dark; }
body { background-color: var(--background); color: var(--foreground); }"""
_COLAB = """html[theme=dark] body { background: #1f1f1f; color: #e3e3e3; }"""

HOSTS = [
    Host("plain", "light"),
    # The colours the browser paints for a dark color-scheme, stated: axe-core takes a page
    # without a background for white (its own probe in a11y_helpers.py reads the canvas).
    Host(
        "plain",
        "dark",
        head='<meta name="color-scheme" content="light dark">',
        prefers="dark",
        css="body { background: Canvas; color: CanvasText; }",
    ),
    Host("vscode", "light", css=_VSCODE_LIGHT, html_attrs='class="vscode-light"'),
    Host("vscode", "dark", css=_VSCODE_DARK, html_attrs='class="vscode-dark"', prefers="dark"),
    Host("colab", "dark", css=_COLAB, html_attrs='theme="dark"'),
    Host("shadow", "light", shadow=True),
    Host("marimo-page", "light", css=_MARIMO, shadow=True),
    Host(
        "marimo-page", "dark", css=_MARIMO, html_attrs='class="dark"', shadow=True, prefers="dark"
    ),
]

RECORDS = [
    {"id": "r1", "name": "measurements.parquet", "size": 48_213_004, "loaded": 48_213_004,
     "status": "done", "key": "uploads/measurements.parquet"},
    {"id": "r2", "name": "raw-2026-11.csv", "size": 912_000_000, "loaded": 912_000_000,
     "status": "completing", "key": "uploads/raw-2026-11.csv"},
    {"id": "r3", "name": "notes.exe", "size": 1_204, "loaded": 0, "status": "error",
     "error": "Refused: .exe files are not accepted here (accept='.csv,.parquet').", "key": ""},
    {"id": "r4", "name": "scratch.txt", "size": 2_048, "loaded": 512, "status": "cancelled",
     "key": "uploads/scratch.txt"},
]  # fmt: skip

_PAGE = """<!doctype html>
<html {html_attrs}>
<head><meta charset="utf-8"><title>s3-upload-widget on {id}</title>{head}
<style>{css}
body {{ margin: 0; font-family: system-ui, sans-serif; }}
#cell {{ padding: 10px 12px; }}</style>
{link}
</head>
<body><main><h1 style="font-size: 14px; margin: 8px 12px">{id}</h1><div id="cell"></div></main>
<script type="module">
const RECORDS = {records};
const values = {{
  _widget_id: "theme-test", multiple: true, accept: ".csv,.parquet", bucket: "my-bucket",
  prefix: "uploads/", max_size: null, concurrency: 6, parallel_files: 4, extra_endpoints: [],
  checksum: null, multipart_threshold: 16777216,
}};
const handlers = {{}};
// Only what rendering needs: read traits, listen, and an answer to "hello".
const model = {{
  get: (name) => values[name],
  on: (event, fn) => (handlers[event] ??= []).push(fn),
  off: (event, fn) => (handlers[event] = (handlers[event] ?? []).filter((f) => f !== fn)),
  send(msg) {{
    if (msg.kind !== "hello") return;
    const records =
      RECORDS.map((r) => ({{relative_path: "", bucket: "my-bucket", error: "", ...r}}));
    setTimeout(() => (handlers["msg:custom"] ?? []).forEach((fn) =>
      fn({{id: msg.id, kind: "hello-response", ok: true, result: {{records}}}})));
  }},
}};
const {{default: widget}} = await import("/static/widget.js");
const cell = document.getElementById("cell");
let el = cell;
if ({shadow}) {{
  const root = cell.attachShadow({{mode: "open"}});
  const style = document.createElement("style");
  style.textContent = await (await fetch("/static/widget.css")).text();
  el = document.createElement("div");
  root.append(style, el);
}}
widget.initialize({{model}});
widget.render({{model, el}});
</script></body></html>"""


def page_html(host: Host) -> str:
    """The page of ``host``: the widget's CSS linked in the document, or put in the shadow
    root (as marimo does) when the widget sits in one."""
    return _PAGE.format(
        html_attrs=host.html_attrs,
        id=host.id,
        head=host.head,
        css=host.css,
        link="" if host.shadow else '<link rel="stylesheet" href="/static/widget.css">',
        records=json.dumps(RECORDS),
        shadow="true" if host.shadow else "false",
    )


def serve(page, host: Host) -> None:
    """Answer the page's requests under ORIGIN from memory and the built static files."""

    def handle(route):
        path = route.request.url[len(ORIGIN) :].split("?")[0]
        if path == "/":
            route.fulfill(status=200, content_type="text/html", body=page_html(host))
        elif path in ("/static/widget.js", "/static/widget.css"):
            kind = "text/javascript" if path.endswith(".js") else "text/css"
            body = (STATIC / path.rsplit("/", 1)[1]).read_bytes()
            route.fulfill(status=200, content_type=kind, body=body)
        else:
            route.fulfill(status=404, body="")

    page.route(f"{ORIGIN}/**", handle)


def open_host(page, host: Host):
    """Load ``host``'s page with its colour scheme and wait for the widget's rows; return a
    locator of the widget's root (``.s3uw``; Playwright's CSS pierces open shadow roots)."""
    page.emulate_media(color_scheme=host.prefers)
    serve(page, host)
    page.goto(f"{ORIGIN}/")
    widget = page.locator("#cell .s3uw")
    widget.wait_for(state="visible", timeout=20_000)
    page.locator("#cell .s3uw-row").nth(len(RECORDS) - 1).wait_for(state="visible", timeout=20_000)
    return widget
