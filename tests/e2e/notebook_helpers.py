"""Watching a notebook's cells as a person does in the browser tests: prompts, outputs, Run All."""

from __future__ import annotations

import json
import re

from .support import wait_until

# The MIME type of the widget state JupyterLab saves into a notebook's metadata.
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

RUNNING = re.compile(r"^\s*\[\*\]\s*:?\s*$")  # a cell's prompt while it runs: [*]:
DONE = re.compile(r"^\s*\[\s*\d+\s*\]\s*:?\s*$")  # once it ran: [3]:


def wait_prompt(nb, i: int, pattern: re.Pattern, what: str, timeout: float = 60) -> None:
    """Wait until cell ``i``'s prompt matches ``pattern`` (`RUNNING`, `DONE`)."""
    wait_until(
        lambda: pattern.match(nb.prompt_text(i)),
        timeout=timeout,
        page=nb.page,
        interval=0.1,
        message=f"cell {i} to be {what} (prompt {nb.prompt_text(i)!r})",
    )


def wait_output(nb, i: int, needle: str, timeout: float = 60) -> str:
    """Wait until cell ``i``'s output contains ``needle``; return the output's text."""
    return wait_until(
        lambda: needle in nb.output_text(i) and nb.output_text(i),
        timeout=timeout,
        page=nb.page,
        message=f"cell {i}'s output to contain {needle!r}",
    )


def run_all(nb) -> None:
    """JupyterLab's menu Run > Run All Cells, as a person would."""
    page = nb.page
    nb.cell(0).locator(".jp-InputPrompt, .jp-InputArea-prompt").first.click()  # focus
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).first.click()


def code_cell_index(nb, needle: str) -> int:
    """Index (among all cells, as the DOM counts them) of the first cell containing needle."""
    cells = json.loads(nb.path_of(nb.name).read_text())["cells"]
    return next(i for i, c in enumerate(cells) if needle in "".join(c["source"]))
