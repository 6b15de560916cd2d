"""Checks a lecturer would make on an executed course notebook and its exports, shared by the
fake-server run (test_course_notebook.py) and the pip-installed kernel's run (test_wheel.py)."""

import os
import shutil

import nbformat
import pytest
from nbconvert import HTMLExporter
from nbconvert.exporters import LatexExporter

from kernel_env import artifacts_dir

# What nbconvert's LaTeX (PDF) path can render, in its order of preference; `text/html` is not
# among them, so every rich output needs one of these as well.
LATEX_MIMES = (
    "text/latex",
    "application/pdf",
    "image/png",
    "image/jpeg",
    "text/markdown",
    "text/plain",
)


def outputs(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def check_export(nb, name):
    """The checks a lecturer would make on a submission: no errors, plots as inline PNG, tables,
    and a LaTeX (PDF) export that keeps every result."""
    out = artifacts_dir()
    errors = [o for o in outputs(nb) if o.output_type == "error"]
    assert not errors, [f"{e.ename}: {e.evalue}" for e in errors]
    nbformat.write(nb, out / f"{name}.ipynb")

    images = [o for o in outputs(nb) if "image/png" in o.get("data", {})]
    # Exercise 1 (two probes), Exercise 2 (the simulation), Exercise 3 (the debate).
    assert len(images) >= 4, f"expected four plots, found {len(images)}"

    html, _ = HTMLExporter().from_notebook_node(nb)
    (out / f"{name}.html").write_text(html)
    assert html.count("data:image/png;base64,") >= len(images)
    assert "<table" in html
    for heading in ("Exercise 1", "Exercise 2", "Exercise 3", "My findings"):
        assert heading in html
    assert "Traceback" not in html
    assert 'data-mime-type="application/vnd.jupyter.stderr"' not in html

    # PDF: nbconvert's LaTeX path drops text/html, so each output must carry a fallback it renders.
    for o in outputs(nb):
        if o.output_type in ("display_data", "execute_result"):
            assert any(m in o.data for m in LATEX_MIMES), sorted(o.data)
            if "text/html" in o.data:
                assert "text/markdown" in o.data or "image/png" in o.data, sorted(o.data)
    if shutil.which("pandoc"):
        tex, resources = LatexExporter().from_notebook_node(nb)
        (out / f"{name}.tex").write_text(tex)
        assert tex.count("\\adjustimage") >= len(images)
        assert len(resources.get("outputs", {})) >= len(images)
        assert "\\begin{longtable}" in tex  # the markdown tables, via pandoc
        assert "refusal" in tex.lower()
    elif os.environ.get("ALIGNMENT_LAB_REQUIRE_PANDOC"):
        pytest.fail("pandoc is not installed; the LaTeX export cannot be checked")
    return html
