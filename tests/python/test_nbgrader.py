"""The course notebook through nbgrader, the way a lecturer grades it with this kernel.

One student's run is shared by all tests (it is the slow part: the whole course notebook against
the fake server). The lecturer's side runs with no model server reachable at all:

1. a course directory (`nbgrader_config.py`, source/ex1/alignment-lab.ipynb) and
   `nbgrader generate_assignment ex1`: the findings cells hold their template and "YOUR ANSWER HERE";
2. the student executes release/ex1/alignment-lab.ipynb with nbclient in submitted/student1/ex1/,
   writes the findings and saves; the kernel leaves alignment-lab-results.json beside the notebook;
3. `nbgrader validate`, `nbgrader autograde ex1` and `nbgrader generate_feedback ex1` with nbgrader's
   defaults: the outputs are cleared and the notebook re-executed, and the kernel
   (NBGRADER_EXECUTION=validate/autograde) replays the student's recorded results instead of
   calling a model;
4. `nbgrader autograde ex1 --no-execute` in a second course directory: nothing is cleared or
   executed, the student's outputs are what the lecturer grades.

Where nbgrader does what this relies on (file and function) is in docs/nbgrader.md.
"""

import os
import pathlib
import re
import shutil
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from kernel_env import artifacts_dir, kernel_env
from local_server import free_port

ROOT = pathlib.Path(__file__).resolve().parents[2]
COURSE = ROOT / "notebooks" / "alignment-lab.ipynb"
VENV_BIN = pathlib.Path(sys.executable).parent
NBGRADER = VENV_BIN / "nbgrader"
NOTEBOOK = "alignment-lab.ipynb"
RESULTS = "alignment-lab-results.json"
STUDENT = "student1"
STUB = "YOUR ANSWER HERE"
ANSWERS = {
    "al-ex1-findings": "Finding 1: course-model refused 5/5 under direct, poem and step-by-step.",
    "al-ex2-findings": "Finding 2: the proxy reward kept rising after the true reward fell.",
    "al-ex3-findings": "Finding 3: debate went from 80% in round 1 to 100% in rounds 2 and 3.",
}

# The student's run, seconds per cell for nbclient (as in test_course_notebook.py).
STUDENT_CELL_TIMEOUT = 180

CONFIG = """\
c = get_config()  # noqa: F821 (defined by the config loader)

c.CourseDirectory.course_id = "alignment-lab"
c.CourseDirectory.db_url = "sqlite:///{db}"

# nbgrader has code stubs for python, R, matlab, octave, sas and java only; for this kernel
# (kernelspec language "rust") generate_assignment stops with "language 'rust' has not been
# specified in ClearSolutions.code_stub" (nbgrader/preprocessors/clearsolutions.py,
# ClearSolutions.preprocess), even though no code cell is a solution cell.
c.ClearSolutions.code_stub = {{"rust": "// YOUR CODE HERE\\ntodo!()"}}

# nbgrader's default is 30 s per cell. The first Rust cell compiles a small crate inside evcxr
# (10-15 s in a debug build, more on a loaded grading machine).
c.Execute.timeout = 300

# autograde copies every non-notebook file of source/ex1/ over the student's files; a results
# file left there by the lecturer's own run must not replace the student's.
c.Autograde.exclude_overwriting = {{"ex1": ["{results}"]}}
"""


def run_nbgrader(course, *args, env):
    """`nbgrader ARGS` in the course directory. Its output is printed (pytest shows it when a
    test fails) and returned."""
    proc = subprocess.run(
        [str(NBGRADER), *args], cwd=course, env=env, capture_output=True, text=True, timeout=1800
    )
    print(f"$ nbgrader {' '.join(args)}  (exit {proc.returncode})")
    print(f"--- stdout\n{proc.stdout}--- stderr\n{proc.stderr}")
    if proc.returncode != 0:
        pytest.fail(
            f"nbgrader {' '.join(args)} exited with {proc.returncode}\n"
            f"--- stdout\n{proc.stdout}--- stderr\n{proc.stderr}"
        )
    return proc


def lecturer_env(base):
    """The grading machine: no model server reachable (ALIGNMENT_LAB_BASE_URL names a port
    nobody listens on), no model configured, a data dir of its own (no cache of the student's
    run can answer), and no nbgrader config but the course directory's."""
    env = dict(os.environ)  # JUPYTER_PATH passes through: it finds the kernelspec
    # The gradebook runs `alembic` from PATH (nbgrader/api.py, get_alembic_version).
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["ALIGNMENT_LAB_BASE_URL"] = f"http://127.0.0.1:{free_port()}/v1"
    env["ALIGNMENT_LAB_HOME"] = str(base / "lecturer-home")
    env["JUPYTER_CONFIG_DIR"] = str(base / "lecturer-jupyter-config")
    for name in ("ALIGNMENT_LAB_MODEL", "ALIGNMENT_LAB_GGUF", "ALIGNMENT_LAB_BACKEND",
                 "NBGRADER_EXECUTION", "NBGRADER_VALIDATING"):
        env.pop(name, None)
    return env


def keep(path, name):
    """Copy a file for a person to look at. nbgrader leaves autograded files read-only, so the
    copy replaces, rather than overwrites, the one of an earlier run."""
    dest = artifacts_dir() / name
    dest.unlink(missing_ok=True)
    shutil.copyfile(path, dest)


def write_course(course):
    course.mkdir(parents=True)
    config = CONFIG.format(db=course / "gradebook.db", results=RESULTS)
    (course / "nbgrader_config.py").write_text(config)
    return course


def cell(nb, cell_id):
    matches = [c for c in nb.cells if c.get("id") == cell_id]
    assert len(matches) == 1, f"{len(matches)} cells with id {cell_id}"
    return matches[0]


def records(c, kind):
    """The alignment_lab records of one kind in a cell's outputs."""
    return [
        o.metadata["alignment_lab"]
        for o in c.get("outputs", [])
        if o.get("metadata", {}).get("alignment_lab", {}).get("kind") == kind
    ]


def errors(nb):
    return [
        (c.get("id"), f"{o.ename}: {o.evalue}")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]


def shown_text(c):
    """What a cell's rich outputs say, in their markdown and plain-text forms."""
    return "\n".join(
        o.get("data", {}).get(mime, "")
        for o in c.get("outputs", [])
        if o.output_type in ("display_data", "execute_result")
        for mime in ("text/markdown", "text/plain")
    )


def stdout(c):
    return "".join(o.text for o in c.outputs if o.output_type == "stream" and o.name == "stdout")


def table_rows(c):
    """The <tr> rows of the HTML table(s) in a cell's outputs, as the kernel wrote them."""
    html = "".join(o.get("data", {}).get("text/html", "") for o in c.outputs)
    return re.findall(r"<tr><td>.*?</tr>", html)


def outputs_by_cell(nb):
    return {c.id: [dict(o) for o in c.outputs] for c in nb.cells if c.cell_type == "code"}


@pytest.fixture(scope="module")
def course(tmp_path_factory, fake_server):
    """Steps 1-3: the course directory, generate_assignment and the student's run."""
    base = tmp_path_factory.mktemp("nbgrader")
    course = write_course(base / "course")
    source = course / "source" / "ex1"
    source.mkdir(parents=True)
    shutil.copy(COURSE, source / NOTEBOOK)
    env = lecturer_env(base)

    run_nbgrader(course, "generate_assignment", "ex1", env=env)
    release = course / "release" / "ex1" / NOTEBOOK
    released = nbformat.read(release, as_version=4)

    # The student's run in submitted/student1/ex1/ against the fake server's course model.
    submitted = course / "submitted" / STUDENT / "ex1"
    submitted.mkdir(parents=True)
    shutil.copy(release, submitted / NOTEBOOK)
    nb = nbformat.read(submitted / NOTEBOOK, as_version=4)
    with kernel_env(
        ALIGNMENT_LAB_MODEL="course-model",
        ALIGNMENT_LAB_HOME=str(base / "student-home"),
        ALIGNMENT_LAB_RESULTS=None,
    ):
        NotebookClient(
            nb,
            kernel_name="alignment-lab",
            timeout=STUDENT_CELL_TIMEOUT,
            startup_timeout=120,
            resources={"metadata": {"path": str(submitted)}},
        ).execute()
    assert not errors(nb), errors(nb)
    for cell_id, answer in ANSWERS.items():
        c = cell(nb, cell_id)
        assert STUB in c.source, c.source
        c.source = c.source.replace(STUB, answer)
    nbformat.write(nb, submitted / NOTEBOOK)
    (submitted / "timestamp.txt").write_text("2026-01-15 12:00:00.000000 UTC\n")
    keep(submitted / NOTEBOOK, "nbgrader-submitted.ipynb")

    # A results file of the lecturer's own run of the source notebook, which autograde must not
    # copy over the student's (Autograde.exclude_overwriting in CONFIG).
    (source / RESULTS).write_text('{"left over": "from the lecturer\'s own run"}\n')

    return {
        "base": base,
        "dir": course,
        "env": env,
        "release": released,
        "submitted": submitted,
        "student": nb,
    }


@pytest.fixture(scope="module")
def autograded(course):
    """Step 5: `nbgrader autograde ex1` with nbgrader's defaults (clear outputs, re-execute)."""
    run_nbgrader(course["dir"], "autograde", "ex1", env=course["env"])
    path = course["dir"] / "autograded" / STUDENT / "ex1" / NOTEBOOK
    keep(path, "nbgrader-autograded.ipynb")
    return nbformat.read(path, as_version=4)


def test_release_has_answer_stubs_in_the_findings_cells(course):
    template = nbformat.read(COURSE, as_version=4)
    for cell_id in ANSWERS:
        c, original = cell(course["release"], cell_id), cell(template, cell_id)
        assert c.cell_type == "markdown"
        # The template up to the solution region stays; the region becomes the stub.
        assert "<!-- BEGIN SOLUTION -->" in original.source, original.source
        template_text = original.source.split("<!-- BEGIN SOLUTION -->")[0]
        assert c.source == template_text + STUB, c.source
        meta = c.metadata["nbgrader"]
        assert meta["solution"] and meta["grade"] and meta["grade_id"], meta


def test_student_run_leaves_the_results_file(course):
    """The kernel records the student's run beside the notebook: it is what a grader replays."""
    found = sorted(p.name for p in course["submitted"].iterdir())
    assert RESULTS in found, found


def test_validate_passes_with_no_model_reachable(course):
    """`nbgrader validate` (NBGRADER_EXECUTION=validate) re-executes the student's notebook.
    Without validate_all nbgrader judges grade cells only, and a notebook whose grade cells are
    all markdown prints "Success!" even when every code cell fails (nbgrader/validator.py,
    Validator._get_failed_cells); with it, a code cell with an error or stderr output fails."""
    results = course["submitted"] / RESULTS
    recorded = results.read_bytes() if results.exists() else None
    notebook = str(course["submitted"] / NOTEBOOK)
    proc = run_nbgrader(course["dir"], "validate", "--Validator.validate_all=True", notebook, env=course["env"])
    out = proc.stdout
    assert "Success! Your notebook passes all the tests." in out, out
    assert "VALIDATION FAILED" not in out, out
    # Validation runs in the student's folder (nbgrader/validator.py, Validator.validate: chdir);
    # a grader's run must leave the student's record as it was.
    assert recorded is not None and results.read_bytes() == recorded


def test_autograde_replays_the_students_results(course, autograded):
    student = course["student"]
    graded_dir = course["dir"] / "autograded" / STUDENT / "ex1"
    # The student's results file, copied beside the notebook (and not replaced by source's).
    submitted_results = course["submitted"] / RESULTS
    assert submitted_results.exists(), "the student's run left no results file"
    assert (graded_dir / RESULTS).read_bytes() == submitted_results.read_bytes()

    assert not errors(autograded), errors(autograded)
    for cell_id, answer in ANSWERS.items():
        assert answer in cell(autograded, cell_id).source

    probe, probe_mine = cell(autograded, "al-ex1-course"), cell(student, "al-ex1-course")
    assert records(probe_mine, "probe"), probe_mine.outputs
    assert records(probe, "probe"), probe.outputs
    assert records(probe, "probe")[-1]["rows"] == records(probe_mine, "probe")[-1]["rows"]

    debate, debate_mine = cell(autograded, "al-ex3-debate"), cell(student, "al-ex3-debate")
    assert records(debate_mine, "debate"), debate_mine.outputs
    assert records(debate, "debate"), debate.outputs
    mine = records(debate_mine, "debate")[-1]["accuracy_by_round"]
    assert records(debate, "debate")[-1]["accuracy_by_round"] == mine

    for c in (probe, debate):
        assert "Replayed" in shown_text(c), (c.id, shown_text(c))

    # A Rust cell's model call is answered from the record too: the same answer, the same grade.
    assert stdout(cell(autograded, "al-ex3-try")) == stdout(cell(student, "al-ex3-try"))


def test_feedback_shows_the_findings_and_the_probe_table(course, autograded):
    run_nbgrader(course["dir"], "generate_feedback", "ex1", env=course["env"])
    feedback = course["dir"] / "feedback" / STUDENT / "ex1" / "alignment-lab.html"
    keep(feedback, "nbgrader-feedback.html")
    html = feedback.read_text()
    for answer in ANSWERS.values():
        assert answer in html
    rows = table_rows(cell(course["student"], "al-ex1-course"))
    assert len(rows) == 3, rows  # direct, poem, step-by-step
    missing = [r for r in rows if r not in html]
    assert not missing, missing


def test_autograde_without_execution_keeps_the_students_outputs(course):
    """`nbgrader autograde --no-execute` (its flag for Execute.enabled = ClearOutput.enabled =
    False, nbgrader/apps/autogradeapp.py): the autograded notebook holds exactly the outputs the
    student handed in, and the feedback shows them. A course directory of its own, with the same
    gradebook, source and submission."""
    other = write_course(course["base"] / "course-no-execute")
    for part in ("source", "submitted"):
        shutil.copytree(course["dir"] / part, other / part)
    shutil.copy(course["dir"] / "gradebook.db", other / "gradebook.db")

    run_nbgrader(other, "autograde", "ex1", "--no-execute", env=course["env"])
    path = other / "autograded" / STUDENT / "ex1" / NOTEBOOK
    keep(path, "nbgrader-autograded-no-execute.ipynb")
    autograded = nbformat.read(path, as_version=4)
    assert outputs_by_cell(autograded) == outputs_by_cell(course["student"])
    for cell_id, answer in ANSWERS.items():
        assert answer in cell(autograded, cell_id).source

    run_nbgrader(other, "generate_feedback", "ex1", env=course["env"])
    html = (other / "feedback" / STUDENT / "ex1" / "alignment-lab.html").read_text()
    rows = table_rows(cell(course["student"], "al-ex1-course"))
    assert rows and all(r in html for r in rows)
    assert ANSWERS["al-ex3-findings"] in html
