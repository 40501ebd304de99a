"""Accessibility checks the browser tests share: axe-core run in the page, the contrast of
the widget's text and controls against what is drawn behind them, and what has the
keyboard focus (through shadow roots).

axe-core comes from the npm package in tests/axe (``make test`` installs it; by hand:
``cd tests/axe && npm ci``). Our browser tests drive Chromium through Python Playwright,
and ``@axe-core/playwright`` is a wrapper for Node's Playwright: so the tests add
``axe.min.js`` to the page and call ``axe.run()`` there, which is all that wrapper does.
"""

from __future__ import annotations

import json
from pathlib import Path

from .widget_helpers import COLOUR_JS

AXE_JS = Path(__file__).resolve().parents[1] / "axe" / "node_modules" / "axe-core" / "axe.min.js"
# axe's words for a violation that keeps people from using the page.
BLOCKING = ("serious", "critical")
TEXT_MIN = 4.5  # WCAG 1.4.3, normal-size text
UI_MIN = 3.0  # WCAG 1.4.11, the parts of a control that identify it; focus indicators


def axe_violations(page, selector: str) -> list[dict]:
    """axe-core's violations inside the first element matching ``selector`` (its shadow
    tree included), each ``{id, impact, help, nodes: [html...]}``."""
    if not AXE_JS.is_file():
        raise AssertionError(
            f"{AXE_JS} is missing: install it with `cd tests/axe && npm ci` (or `make test`)"
        )
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate(
        """async (selector) => {
          const r = await axe.run(document.querySelector(selector), {resultTypes: ["violations"]});
          return r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
                                           nodes: v.nodes.map((n) => n.html.slice(0, 200))}));
        }""",
        selector,
    )
    return result


def axe_checked(page, selector: str) -> list[str]:
    """The HTML (first 120 characters) of every node inside ``selector`` that axe-core
    checked and passed: proof that it reached the widget (in a shadow root, say)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE_JS))
    return page.evaluate(
        """async (selector) => {
          const r = await axe.run(document.querySelector(selector), {resultTypes: ["passes"]});
          return r.passes.flatMap((v) => v.nodes.map((n) => n.html.slice(0, 120)));
        }""",
        selector,
    )


def assert_no_blocking_violations(page, selector: str, what: str) -> list[dict]:
    """No serious or critical axe violation in the widget; returns all the violations
    (minor and moderate ones are printed)."""
    violations = axe_violations(page, selector)
    print(f"axe ({what}):", json.dumps(violations) if violations else "no violations")
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, (
        f"{what}: axe found serious/critical violations: {json.dumps(blocking, indent=1)}"
    )
    return violations


# Colours as drawn: each element's colour over the backgrounds behind it, up through
# shadow hosts to the page's canvas (the root's or body's background, else the system
# Canvas colour of the root's color-scheme), and WCAG contrast ratios.
CONTRAST_PROBE = (
    """(root) => {
  const colours = (() => {"""
    + COLOUR_JS
    + """    return {parse, lum, ratio};
  })();
  const {lum, ratio} = colours;
  const parse = (c) => {
    const v = colours.parse(c);
    if (!v) throw new Error("colour not understood: " + c);
    return v;
  };
  const over = (c, bg) => ({
    r: c.r * c.a + bg.r * (1 - c.a), g: c.g * c.a + bg.g * (1 - c.a),
    b: c.b * c.a + bg.b * (1 - c.a), a: 1,
  });
  const up = (e) => e.parentElement || (e.parentNode && e.parentNode.host) || null;
  const canvas = () => {
    for (const e of [document.documentElement, document.body]) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.a > 0) return over(c, {r: 255, g: 255, b: 255, a: 1});
    }
    const probe = document.createElement("div");
    probe.style.backgroundColor = "Canvas";
    document.documentElement.append(probe);
    const c = parse(getComputedStyle(probe).backgroundColor);
    probe.remove();
    return c;
  };
  // What is painted behind an element's own box: its ancestors' backgrounds, composited.
  const behind = (el) => {
    const layers = [];
    for (let e = up(el); e; e = up(e)) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.a > 0) layers.push(c);
      if (c.a >= 1) break;
    }
    let bg = layers.length && layers[layers.length - 1].a >= 1 ? layers.pop() : canvas();
    while (layers.length) bg = over(layers.pop(), bg);
    return bg;
  };
  const fill = (el) => over(parse(getComputedStyle(el).backgroundColor), behind(el));
  const hex = (c) =>
    "#" + [c.r, c.g, c.b].map((v) => Math.round(v).toString(16).padStart(2, "0")).join("");
  const text = {}, ui = {};
  const TEXT = {
    button: ".s3uw-button", folder_button: ".s3uw-folder-button", hint: ".s3uw-hint",
    target: ".s3uw-target", total: ".s3uw-total", name: ".s3uw-row .s3uw-name",
    size: ".s3uw-row .s3uw-size", percent: ".s3uw-row .s3uw-percent",
    status_done: ".s3uw-row[data-status=done] .s3uw-status",
    status_error: ".s3uw-row[data-status=error] .s3uw-status",
    status_cancelled: ".s3uw-row[data-status=cancelled] .s3uw-status",
    status_unverified: ".s3uw-row[data-status=unverified] .s3uw-status",
    status_uploading: ".s3uw-row[data-status=uploading] .s3uw-status",
    status_completing: ".s3uw-row[data-status=completing] .s3uw-status",
    error: ".s3uw-row .s3uw-error:not([hidden])", cancel: ".s3uw-row .s3uw-cancel:not([hidden])",
    pause_all: ".s3uw-pause-all:not([hidden])",
  };
  for (const [k, sel] of Object.entries(TEXT)) {
    const el = root.querySelector(sel);
    if (!el || !el.getClientRects().length) continue;
    const bg = fill(el), fg = over(parse(getComputedStyle(el).color), bg);
    text[k] = {fg: hex(fg), bg: hex(bg), contrast: ratio(fg, bg)};
  }
  // A control is told from the page by its fill or by its border, whichever stands out more.
  const control = (k, el) => {
    const s = getComputedStyle(el), page = behind(el);
    const body = fill(el);
    const edge = s.borderTopStyle !== "none" && parseFloat(s.borderTopWidth) > 0
      ? over(parse(s.borderTopColor), page) : body;
    const best = ratio(body, page) >= ratio(edge, page) ? body : edge;
    ui[k] = {color: hex(best), against: hex(page), contrast: ratio(best, page)};
  };
  for (const [k, sel] of Object.entries({
    dropzone: ".s3uw-dropzone", button: ".s3uw-button", folder_button: ".s3uw-folder-button",
    cancel: ".s3uw-row .s3uw-cancel:not([hidden])",
  })) {
    const el = root.querySelector(sel);
    if (el && el.getClientRects().length) control(k, el);
  }
  const bar = root.querySelector(".s3uw-row .s3uw-progress-fill");
  if (bar) {
    const c = fill(bar), page = behind(bar.parentElement);
    ui.progress_fill = {color: hex(c), against: hex(page), contrast: ratio(c, page)};
  }
  // The focus ring is drawn outside the element (outline-offset): against the page.
  let active = document.activeElement;
  while (active && active.shadowRoot && active.shadowRoot.activeElement) {
    active = active.shadowRoot.activeElement;
  }
  if (active && root.contains(active)) {
    const s = getComputedStyle(active);
    if (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0) {
      const page = behind(active), ring = over(parse(s.outlineColor), page);
      ui.focus_ring = {color: hex(ring), against: hex(page), contrast: ratio(ring, page),
                       width: s.outlineWidth, on: active.className};
    } else {
      ui.focus_ring = {missing: true, on: active.className, contrast: 0};
    }
  }
  return {text, ui};
}"""
)


def contrast(widget) -> dict:
    """``{"text": {part: {fg, bg, contrast}}, "ui": {part: {color, against, contrast}}}`` of
    the widget (a Playwright locator or element handle of its ``.s3uw`` root)."""
    return widget.evaluate(CONTRAST_PROBE)


def contrast_problems(measured: dict) -> dict:
    """The parts below WCAG AA: text under 4.5:1, controls and the focus ring under 3:1."""
    low = {f"text.{k}": v for k, v in measured["text"].items() if v["contrast"] < TEXT_MIN}
    low.update({f"ui.{k}": v for k, v in measured["ui"].items() if v["contrast"] < UI_MIN})
    return low


def focused_class(page) -> str:
    """The class of the element with the keyboard focus, looking into shadow roots."""
    return page.evaluate(
        """() => {
          let a = document.activeElement;
          while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
          return a ? String(a.className || a.tagName) : "";
        }"""
    )


def focus_visible(page) -> bool:
    """Whether the focused element matches :focus-visible (the keyboard's focus ring)."""
    return page.evaluate(
        """() => {
          let a = document.activeElement;
          while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
          return !!a && a.matches(":focus-visible");
        }"""
    )
