"""What the widget's browser tests share: its cell, waiting on its rows and records, checks
of what landed in S3, screenshots and colours.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from .support import env_flag, sha256_bytes, sha256_file, wait_until

FINAL = ("done", "error", "cancelled")
RECORD_FIELDS = {
    "id", "name", "size", "content_type", "bucket", "key", "status", "loaded", "etag", "error",
}  # fmt: skip
MiB = 1024**2


def widget_cells(
    bucket: str,
    kwargs: str = "",
    *,
    endpoint: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    extra_config: str = "",
    before_display: str = "",
) -> list[str]:
    """Cell 0 makes and shows the widget ``w`` for ``bucket`` (prefix ``uploads/``, ``kwargs``
    appended to its arguments, ``before_display`` run before it shows).

    The S3 endpoint and credentials come from the kernel's environment
    (``S3UW_TEST_ENDPOINT``, ``AWS_*``) unless ``endpoint`` (and ``access_key`` /
    ``secret_key``, e.g. s3rver's public test pair) name another S3. ``extra_config`` is
    added to botocore's ``Config(...)`` arguments."""
    endpoint_expr = repr(endpoint) if endpoint else 'os.environ["S3UW_TEST_ENDPOINT"]'
    creds = ""
    if access_key is not None:
        creds = f", aws_access_key_id={access_key!r}, aws_secret_access_key={secret_key!r}"
    return [
        "import os, boto3\n"
        "from botocore.config import Config\n"
        "from s3_upload_widget import S3UploadWidget\n"
        f'client = boto3.client("s3", endpoint_url={endpoint_expr}, '
        f'region_name="us-east-1"{creds}, config=Config(signature_version="s3v4", '
        f's3={{"addressing_style": "path"}}{extra_config}))\n'
        f'w = S3UploadWidget(bucket="{bucket}", prefix="uploads/", client=client{kwargs})\n'
        f"{before_display}"
        "w"
    ]


def open_widget(nb, name: str, bucket: str, kwargs: str = "", **cell_options) -> None:
    """Create the notebook ``name`` from `widget_cells`, open it, run cell 0 and wait for
    the widget to show."""
    nb.create(name, widget_cells(bucket, kwargs, **cell_options))
    nb.open()
    nb.run_cell(0)
    nb.widget(0).wait_for(state="visible", timeout=20_000)


def wait_final(nb, count: int, timeout: float) -> list[dict]:
    """Wait until the kernel holds ``count`` records, all in a final status."""
    return nb.wait_for_kernel(
        "w.uploads",
        lambda ups: len(ups) == count and all(u["status"] in FINAL for u in ups),
        timeout=timeout,
        interval=0.5,
        message=f"{count} upload(s) to reach a final status in the kernel",
    )


def assert_all_done(records: list[dict]) -> None:
    bad = [(r["name"], r["status"], r["error"]) for r in records if r["status"] != "done"]
    assert not bad, f"uploads not done: {bad}"


def assert_files_stored(s3, bucket: str, records: list[dict], files: Sequence[Path]) -> None:
    """Every file of ``files`` is in ``bucket`` byte for byte, at its record's key."""
    by_name = {r["name"]: r for r in records}
    for path in files:
        data = s3.get_bytes(bucket, by_name[path.name]["key"])
        assert sha256_bytes(data) == sha256_file(path), f"bytes differ for {path.name}"


def row_statuses(nb) -> list[str]:
    return nb.widget(0).locator(".s3uw-row").evaluate_all("rows => rows.map(r => r.dataset.status)")


def wait_rows(nb, status: str, count: int, timeout: float = 10) -> None:
    rows = nb.widget(0).locator(f'.s3uw-row[data-status="{status}"]')
    try:
        wait_until(
            lambda: rows.count() == count,
            timeout=timeout,
            page=nb.page,
            message=f"{count} .s3uw-row[data-status={status}] in the widget",
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the rows' statuses: {row_statuses(nb)}") from None


def unquote(etag: str) -> str:
    return etag.strip('"')


def assert_multipart_stored(s3, bucket: str, record: dict, path, parts: int) -> None:
    """The file arrived whole as a ``parts``-part object, and no multipart upload is open."""
    assert_all_done([record])
    assert record["multipart"] is True and record["loaded"] == record["size"], record
    assert record["size"] == path.stat().st_size, record
    head = s3.client().head_object(Bucket=bucket, Key=record["key"])
    assert unquote(head["ETag"]).endswith(f"-{parts}"), f"not {parts} parts: {head['ETag']}"
    assert unquote(record["etag"]) == unquote(head["ETag"]), (record, head["ETag"])
    assert head["ContentLength"] == record["size"], head
    assert sha256_bytes(s3.get_bytes(bucket, record["key"])) == sha256_file(path)
    assert s3.list_multipart_uploads(bucket) == [], "a multipart upload was left open"


DOCS = Path(__file__).resolve().parents[2] / "docs"
SCREENSHOTS = Path(__file__).resolve().parent / "_artifacts" / "screenshots"


def screenshot_dir() -> Path:
    """Where the README screenshots go: docs/ with S3UW_UPDATE_DOCS=1, else the gitignored
    tests/e2e/_artifacts/screenshots/ (each run's PNGs differ: speeds, percentages, so
    writing docs/ on every test run would leave the work tree dirty)."""
    return DOCS if env_flag("S3UW_UPDATE_DOCS") else SCREENSHOTS


THEMES_SETTINGS = "lab/api/settings/@jupyterlab/apputils-extension:themes"


def row(nb, upload_id: str):
    """The widget's row of one upload (by the record's id)."""
    return nb.widget(0).locator(f'.s3uw-row[data-upload-id="{upload_id}"]')


def wait_row_status(nb, upload_id: str, status: str, timeout: float = 15) -> None:
    r = row(nb, upload_id)
    wait_until(
        lambda: r.get_attribute("data-status", timeout=2000) == status,
        timeout=timeout,
        page=nb.page,
        message=f"row {upload_id} to show data-status={status} (rows: {row_statuses(nb)})",
    )


def wait_row_error(nb, upload_id: str, needle: str, timeout: float = 15) -> str:
    """Wait until the row's ``.s3uw-error`` is visible and contains ``needle``; return it."""
    err = row(nb, upload_id).locator(".s3uw-error")
    wait_until(
        lambda: needle in (err.text_content(timeout=2000) or "") and err.is_visible(),
        timeout=timeout,
        page=nb.page,
        message=f"row {upload_id}'s .s3uw-error to show {needle!r}",
    )
    return err.text_content() or ""


class RequestLog:
    """Records the page's requests to one origin (e.g. the S3 endpoint): method and URL,
    in order. Sync Playwright delivers the events during Playwright calls only."""

    def __init__(self, page, origin: str):
        self.origin = origin.rstrip("/")
        self.requests: list[tuple[str, str]] = []
        self._page = page
        page.on("request", self._on_request)

    def _on_request(self, request) -> None:
        if request.url.startswith(self.origin + "/"):
            self.requests.append((request.method, request.url))

    def methods(self, method: str) -> list[str]:
        return [url for m, url in self.requests if m == method]

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._page.remove_listener("request", self._on_request)


def screenshot_widget(nb, path: Path, *, pad_x: int = 8, pad_y: int = 4) -> Path:
    """A PNG of the widget with a small margin of the page around it (for the README);
    the margin stays inside the output area (no cell borders or prompts). The rows
    change while files upload: retake if the widget's box moved during the capture."""
    path.parent.mkdir(parents=True, exist_ok=True)
    el = nb.widget(0)
    el.scroll_into_view_if_needed()
    for _ in range(5):
        box = el.bounding_box()
        assert box, "the widget has no bounding box (not visible?)"
        nb.page.screenshot(
            path=str(path),
            clip={
                "x": max(box["x"] - pad_x, 0),
                "y": max(box["y"] - pad_y, 0),
                "width": box["width"] + 2 * pad_x,
                "height": box["height"] + 2 * pad_y,
            },
            animations="disabled",
        )
        if el.bounding_box() == box:
            break
    return path


@contextlib.contextmanager
def lab_theme(jupyter, theme: str) -> Iterator[None]:
    """Switch JupyterLab's theme setting through the REST API (for pages loaded inside the
    block), then restore the previous setting."""
    before = jupyter.api(THEMES_SETTINGS) or {}
    raw_before = before.get("raw") or "{}"
    jupyter.api(THEMES_SETTINGS, method="PUT", body={"raw": json.dumps({"theme": theme})})
    try:
        yield
    finally:
        jupyter.api(THEMES_SETTINGS, method="PUT", body={"raw": raw_before})


def wait_theme(nb, *, light: bool, timeout: float = 30) -> None:
    """Wait until the page's JupyterLab theme is light (or dark)."""
    want = "true" if light else "false"
    wait_until(
        lambda: nb.page.evaluate("() => document.body.dataset.jpThemeLight") == want,
        timeout=timeout,
        page=nb.page,
        message=f"JupyterLab's body[data-jp-theme-light] to be {want!r}",
    )


def make_bucket_named(s3, name: str, cors_origins: Sequence[str]) -> str:
    """A bucket called ``name`` (a readable name for screenshots) if that name is still
    free on this moto server, else a unique one."""
    if name in {b["Name"] for b in s3.client().list_buckets().get("Buckets", [])}:
        return s3.make_bucket(cors_origins=cors_origins)
    return s3.make_bucket(name, cors_origins=cors_origins)


def names(paths: Sequence[Path]) -> list[str]:
    return [p.name for p in paths]


# Colours as getComputedStyle gives them (rgb(), rgba(), and color(srgb r g b / a), which
# color-mix() computes to) into {r, g, b, a} on 0..255 (null for anything else), and WCAG's
# relative luminance and contrast ratio. The colour probes of the browser tests share it.
COLOUR_JS = """
  const parse = (c) => {
    let m = /^rgba?\\(([^)]+)\\)/.exec(c || "");
    if (m) {
      const [r, g, b, a = 1] = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
      return {r, g, b, a};
    }
    m = /^color\\(srgb ([^)]+)\\)/.exec(c || "");
    if (!m) return null;
    const [r, g, b, a = 1] = m[1].split(/[ \\/]+/).filter(Boolean).map(Number);
    return {r: Math.round(r * 255), g: Math.round(g * 255), b: Math.round(b * 255), a};
  };
  const lum = ({r, g, b}) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const ratio = (x, y) => {
    const [hi, lo] = [lum(x), lum(y)].sort((p, q) => q - p);
    return Math.round(((hi + 0.05) / (lo + 0.05)) * 100) / 100;
  };
"""

# Colours of the widget's parts as the page renders them, and WCAG contrast ratios of
# text against the background it is drawn on (the first opaque background up the tree).
_STYLE_PROBE = (
    """(root) => {"""
    + COLOUR_JS
    + """  const bgOf = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0.5) return c;
    }
    return {r: 255, g: 255, b: 255, a: 1};
  };
  // A translucent colour as drawn over an opaque one (Lab's text colours have alpha).
  const over = (c, bg) => ({
    r: Math.round(c.r * c.a + bg.r * (1 - c.a)), g: Math.round(c.g * c.a + bg.g * (1 - c.a)),
    b: Math.round(c.b * c.a + bg.b * (1 - c.a)), a: 1,
  });
  const hex = (c) =>
    c && "#" + [c.r, c.g, c.b].map((v) => v.toString(16).padStart(2, "0")).join("");
  const out = {};
  const text = {
    button: ".s3uw-button", hint: ".s3uw-hint", target: ".s3uw-target", total: ".s3uw-total",
    name: ".s3uw-row .s3uw-name", size: ".s3uw-row .s3uw-size", percent: ".s3uw-row .s3uw-percent",
    rate: ".s3uw-row[data-status=uploading] .s3uw-rate",
    status_done: ".s3uw-row[data-status=done] .s3uw-status",
    status_uploading: ".s3uw-row[data-status=uploading] .s3uw-status",
    status_error: ".s3uw-row[data-status=error] .s3uw-status",
    status_cancelled: ".s3uw-row[data-status=cancelled] .s3uw-status",
    error: ".s3uw-row .s3uw-error:not([hidden])",
    cancel: ".s3uw-row .s3uw-cancel:not([hidden])",
  };
  for (const [k, sel] of Object.entries(text)) {
    const el = root.querySelector(sel);
    if (!el) continue;
    const bg = bgOf(el), fg = over(parse(getComputedStyle(el).color), bg);
    out[k] = {fg: hex(fg), bg: hex(bg), contrast: ratio(fg, bg)};
  }
  const shapes = {
    track: ".s3uw-row .s3uw-progress", fill_done: ".s3uw-row[data-status=done] .s3uw-progress-fill",
    fill_uploading: ".s3uw-row[data-status=uploading] .s3uw-progress-fill",
  };
  for (const [k, sel] of Object.entries(shapes)) {
    const el = root.querySelector(sel);
    if (!el) continue;
    const around = bgOf(el.parentElement);
    const c = over(parse(getComputedStyle(el).backgroundColor), around);
    out[k] = {bg: hex(c), against: hex(around), contrast: ratio(c, around)};
  }
  const zone = root.querySelector(".s3uw-dropzone");
  const zs = getComputedStyle(zone);
  const zb = over(parse(zs.borderTopColor), bgOf(zone));
  out.dropzone_border = {color: hex(zb), style: zs.borderTopStyle, against: hex(bgOf(zone)),
                         contrast: ratio(zb, bgOf(zone))};
  const row = root.querySelector(".s3uw-row");
  if (row) {
    const rb = over(parse(getComputedStyle(row).borderBottomColor), bgOf(row));
    out.row_border = {color: hex(rb), against: hex(bgOf(row)), contrast: ratio(rb, bgOf(row))};
  }
  return out;
}"""
)


def widget_colours(nb) -> dict:
    """``{part: {fg, bg, contrast}}`` for the widget's text, bars and borders."""
    return nb.widget(0).evaluate(_STYLE_PROBE)


def check_colours(nb, what: str) -> dict:
    """Print the widget's colours, and check that its text is readable (contrast >= 3,
    WCAG's floor for large text: catches text in the wrong theme colour) and that a
    progress bar's fill stands out from its track."""
    colours = widget_colours(nb)
    print(f"colours ({what}):", json.dumps(colours))
    faint = {
        k: v
        for k, v in colours.items()
        if "fg" in v and v["contrast"] < 3  # text entries have "fg"
    }
    assert not faint, f"{what}: text hard to read (contrast < 3): {faint}"
    for k in ("fill_done", "fill_uploading"):
        if k in colours:
            assert colours[k]["contrast"] >= 2, (
                f"{what}: progress fill lost on its track: {colours}"
            )
    return colours
