"""Every notebook in notebooks/ runs top to bottom, headless, on LocalS3.

nbclient runs them as a notebook runner would (no browser): cells tagged
``skip-execution`` (the ones that wait for a person to pick a file) are skipped, and the
cells after them must still work. Each notebook's outputs are checked for what it is
there to show, not only for the absence of errors.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = REPO / "notebooks"
GENERATOR = REPO / "tools" / "make_notebooks.py"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

# What each notebook must print (regular expressions over all its text output).
EXPECTED: dict[str, list[str]] = {
    "quickstart.ipynb": [
        r"Uploading to s3://uploads \(local test server\)",
        r"No file yet: pick a file above, then run this cell again\.",
        r"LocalS3\(.*stopped\)",
    ],
    "read_back_with_pandas.ipynb": [
        r"No file picked: using a sample instead, tables/sample/weather\.csv",
        r"tables/sample/weather\.csv: 3 rows x 2 columns",
        r"tables/sample/weather-copy\.parquet: 3 rows x 2 columns",
        r"same table: True",
        r"pandas read s3://uploads/tables/sample/weather-copy\.parquet: 3 rows",
        r"polars reads the same rows: True",
        r"DuckDB reads the same rows: True",
        r"LocalS3\(.*stopped\)",
    ],
    "large_datasets.ipynb": [
        r"10 MiB: one PUT",
        r"100 MiB: 7 parts of 16 MiB",
        r"10,240 MiB: 640 parts of 16 MiB",
        r"1,048,576 MiB: 10,000 parts of 105 MiB",
        r"No uploads yet: pick a file above\.",
        r"cancelled: nothing was in progress",
        r"unfinished multipart uploads: 0",
        r"LocalS3\(.*stopped\)",
    ],
    "upload_a_folder.ipynb": [
        r"No folder picked: using a sample dataset at s3://uploads/datasets/sample/sales/",
        r"4 rows, columns \['amount', 'year', 'month'\]",
        r"\{2024: 23\.75, 2025: 1\.0\}",
        r"pandas: 4 rows",
        r"polars, 2024 only: 3 rows",
        r"DuckDB: \[\(2024, 23\.75\), \(2025, 1\.0\)\]",
        r"LocalS3\(.*stopped\)",
    ],
    "setup_your_bucket.ipynb": [
        r"1 problem\(s\)\n- Bucket \"setup-demo\" has no CORS configuration",
        r"problems now: \[\]",
        r'"s3:AbortMultipartUpload"',
        r"abort-incomplete-multipart-uploads Enabled \{'DaysAfterInitiation': 1\}",
        r"http://localhost:9000 auto",
        r"LocalS3\(.*stopped\)",
    ],
    # Served by Voila, which runs every cell at page load: no cell waits, none stops
    # LocalS3 (it ends with the page's kernel).
    "dashboard.ipynb": [r"Uploading to s3://uploads \(local test server\)"],
}
DASHBOARDS = {"dashboard.ipynb"}


def test_every_notebook_is_checked():
    assert sorted(p.name for p in NOTEBOOKS) == sorted(EXPECTED)


def test_notebooks_are_generated():
    """The .ipynb files are what tools/make_notebooks.py writes (no hand edits, no outputs)."""
    before = {p.name: p.read_bytes() for p in NOTEBOOKS}
    subprocess.run([sys.executable, str(GENERATOR)], check=True, capture_output=True)
    after = {p.name: p.read_bytes() for p in sorted(NOTEBOOKS_DIR.glob("*.ipynb"))}
    changed = [name for name in after if before.get(name) != after[name]]
    assert not changed, f"regenerated notebooks differ from the committed ones: {changed}"


def is_marimo_notebook(path: Path) -> bool:
    return "\napp = marimo.App(" in path.read_text()


MARIMO_NOTEBOOKS = sorted(p for p in NOTEBOOKS_DIR.glob("*.py") if is_marimo_notebook(p))


def test_only_notebooks_in_the_demo_folder():
    """`make demo` opens notebooks/ in Lab's file browser: a newcomer sees only notebooks
    (Jupyter's, and marimo's, which are .py files)."""
    scripts = sorted(p.name for p in NOTEBOOKS_DIR.glob("*.py") if not is_marimo_notebook(p))
    assert not scripts, f"keep scripts out of notebooks/ (tools/ is their place): {scripts}"


def test_marimo_notebooks_run_as_scripts(headless_env):
    """``python NOTEBOOK.py`` runs every cell of a marimo notebook (no browser: nothing is
    picked) on LocalS3. tests/e2e/test_marimo.py serves it with ``marimo run``, which
    also runs marimo's static check of the file, and uploads through it."""
    assert [p.name for p in MARIMO_NOTEBOOKS] == ["marimo_quickstart.py"]
    for path in MARIMO_NOTEBOOKS:
        ran = subprocess.run(
            [sys.executable, str(path)], capture_output=True, text=True, timeout=120
        )
        assert ran.returncode == 0, ran.stderr[-3000:]
        assert "Uploading to s3://uploads (local test server)" in ran.stdout


@pytest.fixture
def headless_env(monkeypatch):
    """The kernel inherits this: no bucket configured, so the notebooks use LocalS3."""
    monkeypatch.delenv("S3_UPLOAD_BUCKET", raising=False)


def run(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    # kernelspec python3 launches "python", which jupyter_client replaces by
    # sys.executable: the kernel is this venv's interpreter (checked below).
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
    )
    client.execute()
    return nb


def text_of(cell) -> str:
    out = []
    for o in cell.get("outputs", []):
        if o["output_type"] == "stream":
            out.append(o["text"])
        elif o["output_type"] in ("execute_result", "display_data"):
            out.append(o["data"].get("text/plain", ""))
        elif o["output_type"] == "error":
            out.append(f"{o['ename']}: {o['evalue']}")
    return "\n".join(out)


def test_the_kernel_is_this_python(headless_env):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import sys; sys.executable")])
    run(nb)
    assert text_of(nb.cells[0]).strip("'") == sys.executable


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_headless(path, headless_env):
    nb = nbformat.read(path, as_version=4)
    run(nb)  # raises CellExecutionError on the first cell that fails

    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    skipped = [c for c in code_cells if "skip-execution" in c.metadata.get("tags", [])]
    ran = [c for c in code_cells if c not in skipped]
    for cell in ran:
        assert cell.execution_count is not None, f"a cell did not run:\n{cell.source}"
        errors = [o for o in cell.outputs if o["output_type"] == "error"]
        assert not errors, f"cell failed:\n{cell.source}\n{errors}"
        stderr = "".join(o["text"] for o in cell.outputs if o.get("name") == "stderr")
        assert "Traceback" not in stderr and "Warning" not in stderr, stderr
    for cell in skipped:
        assert cell.execution_count is None and not cell.outputs
        # Only the cells that wait for a person are skipped.
        assert ".wait(" in cell.source, f"skip-execution on a cell that doesn't wait:\n{cell}"

    text = "\n".join(text_of(c) for c in ran)
    for pattern in EXPECTED[path.name]:
        assert re.search(pattern, text), f"{path.name}: no output matches {pattern!r}\n{text}"
    if path.name not in DASHBOARDS:
        assert "stopped" in text_of(ran[-1]), "the last cell must stop LocalS3"
    else:
        assert not skipped and "stop()" not in "".join(c.source for c in ran)

    # A notebook that shows the widget shows it as a widget view.
    shows_widget = any("S3UploadWidget(" in c.source for c in ran)
    views = [o for c in ran for o in c.outputs if WIDGET_VIEW in o.get("data", {})]
    assert bool(views) == shows_widget, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_saved_without_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
