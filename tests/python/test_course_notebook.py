"""The course notebook as a student hands it in: executed with nbclient, exported with nbconvert.

Here against the fake server, whose numbered answers let the test prove that no `:probe` answer
reaches the export. The run on the embedded SmolLM2 model is test_wheel.py's: the pip-installed
kernel, in a fresh venv without Rust, runs the notebook's magic cells through the same export
checks (test_exercise3.py runs the Exercise 3 Rust cells on the embedded model).
"""

import hashlib
import json
import pathlib
import re

import nbformat
from nbclient import NotebookClient

from kernel_env import kernel_env
from notebook_checks import check_export

ROOT = pathlib.Path(__file__).resolve().parents[2]
COURSE = ROOT / "notebooks" / "alignment-lab.ipynb"


def execute(nb, cell_timeout):
    NotebookClient(
        nb, kernel_name="alignment-lab", timeout=cell_timeout, startup_timeout=120
    ).execute()
    return nb


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
