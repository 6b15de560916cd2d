"""The course notebook as a student hands it in: executed with nbclient, exported with nbconvert.

Two runs: against the fake server, whose numbered answers let the test prove that no `:probe`
answer reaches the export, and against the embedded SmolLM2 model, the way a fresh machine runs it.
"""

import hashlib
import json
import os
import pathlib
import re
import shutil

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter
from nbconvert.exporters import LatexExporter

from kernel_env import embedded_gguf, embedded_kernel_env, kernel_env, artifacts_dir

ROOT = pathlib.Path(__file__).resolve().parents[2]
COURSE = ROOT / "notebooks" / "alignment-lab.ipynb"

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


def execute(nb, cell_timeout):
    NotebookClient(
        nb, kernel_name="alignment-lab", timeout=cell_timeout, startup_timeout=120
    ).execute()
    return nb


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


def test_course_notebook_export_never_holds_probe_answers(fake_server, tmp_path):
    """Against the fake server every answer is unique; the probe's run records name the answers
    it scored (by SHA-256), and none of those texts may appear in the notebook or its HTML."""
    nb = nbformat.read(COURSE, as_version=4)
    with kernel_env(ALIGNMENT_LAB_MODEL="numbered-model", ALIGNMENT_LAB_HOME=str(tmp_path)):
        execute(nb, cell_timeout=180)
    html = check_export(nb, "course-fake-server")

    probe_hashes = set()
    for record in (tmp_path / "runs").glob("*probe*.json"):
        probe_hashes |= set(re.findall(r"[0-9a-f]{64}", record.read_text()))
    answers = list(fake_server.numbered_answers)
    probe_answers = [a for a in answers if hashlib.sha256(a.encode()).hexdigest() in probe_hashes]
    # 3 strategies × 5 samples + 11 strategies × 3 samples, each scored once.
    assert len(probe_answers) >= 39, (len(probe_answers), len(answers))
    saved = json.dumps(nb.dict())
    leaked = [a for a in probe_answers if a in html or a in saved]
    assert not leaked, leaked
    # The other magics do show their answers: the chat reply and the debate transcripts.
    assert any(a in html for a in answers if a not in probe_answers)


def test_course_notebook_runs_on_the_embedded_model(tmp_path):
    """What README's main job does on a fresh machine, through Jupyter's own client: every cell
    of the course notebook on SmolLM2, no errors, and an HTML/LaTeX export with every result."""
    if not embedded_gguf().exists():
        if os.environ.get("ALIGNMENT_LAB_REQUIRE_MODEL"):
            pytest.fail(f"embedded model missing at {embedded_gguf()}")
        pytest.skip("embedded model not downloaded (scripts/fetch-model.sh)")
    nb = nbformat.read(COURSE, as_version=4)
    with embedded_kernel_env(tmp_path):
        execute(nb, cell_timeout=1200)
    check_export(nb, "course-embedded")
    chat = [o for o in nb.cells[5].outputs if o.output_type == "display_data"][-1]
    assert chat.metadata["alignment_lab"]["backend"]["kind"] == "embedded"
