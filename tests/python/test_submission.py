"""From a student's notebook to a lecturer's table: `alignment-lab check`, `export` and
`aggregate` on notebooks made the way students make them (the course notebook's exercise cells,
executed with nbclient against the fake server, findings written or not)."""

import json
import os
import pathlib
import shutil
import subprocess
import zipfile
from collections import Counter

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter

from kernel_env import artifacts_dir, installed_binary, kernel_env

ROOT = pathlib.Path(__file__).resolve().parents[2]
COURSE = ROOT / "notebooks" / "alignment-lab.ipynb"
EXERCISE_CELLS = (
    "al-ex1", "al-ex1-course", "al-ex1-findings",
    "al-ex2", "al-ex2-card", "al-ex2-findings",
    "al-ex3-intro", "al-ex3-debate", "al-ex3-findings",
)


def binary():
    return installed_binary()


def lab(*args, cwd=None):
    """The CLI as a student runs it: in a shell where their Jupyter environment is active, so
    `jupyter nbconvert` is on PATH."""
    env = {**os.environ, "PATH": f"{pathlib.Path(os.sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.run(
        [binary(), *args], capture_output=True, text=True, cwd=cwd, timeout=600, env=env
    )


def cell(nb, cell_id):
    return next(c for c in nb.cells if c.get("id") == cell_id)


def student_notebook(folder, model, seed, challenge="reward-hacking"):
    """The exercise cells of the course notebook, run like a student runs them (kernel in the
    notebook's folder), saved with untouched findings cells."""
    nb = nbformat.read(COURSE, as_version=4)
    nb.cells = [c for c in nb.cells if c.get("id") in EXERCISE_CELLS]
    probe = cell(nb, "al-ex1-course")
    probe.source = probe.source.replace("--seed 1", f"--seed {seed}")
    card = cell(nb, "al-ex2-card")
    card.source = f":rlhf-challenge {challenge}"
    debate = cell(nb, "al-ex3-debate")
    debate.source = debate.source.replace("--seed 1", f"--seed {seed}")
    folder.mkdir(parents=True, exist_ok=True)
    with kernel_env(
        ALIGNMENT_LAB_MODEL=model, ALIGNMENT_LAB_HOME=str(folder / "home"), ALIGNMENT_LAB_RESULTS=None
    ):
        NotebookClient(
            nb, kernel_name="alignment-lab", timeout=180, startup_timeout=120,
            resources={"metadata": {"path": str(folder)}},
        ).execute()
    path = folder / "alignment-lab.ipynb"
    nbformat.write(nb, path)
    return path


def write_findings(path):
    nb = nbformat.read(path, as_version=4)
    for c in nb.cells:
        if c.metadata.get("alignment_lab", {}).get("role") == "findings":
            c.source = c.source.replace(
                "<!-- END SOLUTION -->", "The poem got past the refusal in 2 of 5 samples.\n<!-- END SOLUTION -->"
            )
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def students(tmp_path_factory, fake_server):
    base = tmp_path_factory.mktemp("class")
    made = []
    for name, model, seed, challenge in (
        ("ada", "course-model", 1, "reward-hacking"),
        ("bo", "course-model", 11, "feedback-types"),
        ("cy", "numbered-model", 21, "reward-hacking"),
    ):
        path = student_notebook(base / name, model, seed, challenge)
        made.append(path)
    return made


def records(path, kind):
    nb = nbformat.read(path, as_version=4)
    return [
        o.metadata["alignment_lab"]
        for c in nb.cells if c.cell_type == "code"
        for o in c.outputs
        if o.get("metadata", {}).get("alignment_lab", {}).get("kind") == kind
    ]


def test_check_flags_untouched_findings_errors_and_pasted_answers(students, fake_server, tmp_path):
    untouched = students[2]
    result = lab("check", str(untouched), "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    kinds = Counter(p["kind"] for p in report["problems"])
    assert kinds == {"findings-untouched": 3}, report["problems"]
    assert any("numbered-model" in source for source in report["provenance"]), report["provenance"]

    # A failing exercise cell and a probe answer pasted into the findings are both found.
    broken = tmp_path / "broken.ipynb"
    shutil.copy(untouched, broken)
    write_findings(broken)
    nb = nbformat.read(broken, as_version=4)
    prints = {s["answer_fingerprint"] for r in records(broken, "probe") for s in r["cells"]}
    answer = next(a for a in fake_server.numbered_answers if fingerprint(a) in prints)
    cell(nb, "al-ex1-findings").source += f"\n\nThe model said:\n\n> {answer}\n"
    cell(nb, "al-ex2-card").outputs.append(nbformat.v4.new_output(
        "error", ename="UsageError", evalue=":rlhf-challenge: unknown challenge", traceback=[]
    ))
    nbformat.write(nb, broken)
    result = lab("check", str(broken))
    assert result.returncode == 1
    assert "holds a model's answer" in result.stdout, result.stdout
    assert "al-ex1-findings" in result.stdout
    assert "unknown challenge" in result.stdout

    written = tmp_path / "written.ipynb"
    shutil.copy(untouched, written)
    write_findings(written)
    result = lab("check", str(written))
    assert result.returncode == 0, result.stdout
    assert "ready to hand in" in result.stdout

    assert lab("check", str(ROOT / "README.md")).returncode == 2


def fingerprint(text):
    import hashlib
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()


def test_export_writes_html_pdf_manifest_and_zip(students):
    student = students[0]
    assert lab("export", str(student)).returncode == 1  # findings untouched: nothing exported
    write_findings(student)
    out = student.parent / "out"
    result = lab("export", str(student), "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    folder = out / "alignment-lab-submission"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "alignment-lab-results.json", "alignment-lab.html", "alignment-lab.ipynb",
        "alignment-lab.pdf", "manifest.json",
    ], names
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["check"]["ready"] is True
    assert manifest["kernel"]["name"] == "alignment-lab"
    kinds = {r["kind"] for r in manifest["results"]}
    assert {"probe", "debate"} <= kinds, kinds
    probe = next(r for r in manifest["results"] if r["kind"] == "probe")
    assert probe["models"] == ["course-model"] and probe["run_record_sha256"]
    assert {f["name"] for f in manifest["files"]} >= {"alignment-lab.pdf", "alignment-lab.html"}
    with zipfile.ZipFile(out / "alignment-lab-submission.zip") as z:
        assert "alignment-lab-submission/alignment-lab.pdf" in z.namelist()

    # The PDF's first page, as an image a person can look at: not blank.
    import pypdfium2

    pdf = pypdfium2.PdfDocument(folder / "alignment-lab.pdf")
    assert len(pdf) >= 2
    image = pdf[0].render(scale=1).to_pil()
    image.save(artifacts_dir() / "export-pdf-page1.png")
    grey = image.convert("L")
    dark = sum(grey.histogram()[:128])
    assert dark > 0.002 * grey.width * grey.height, dark
    text = pdf[0].get_textpage().get_text_range()
    assert "Exercise 1" in text or "Exercise" in text, text[:500]


def test_aggregate_pools_three_students_into_a_class_notebook(students, tmp_path):
    output = tmp_path / "class" / "class-results.ipynb"
    result = lab("aggregate", *map(str, students), str(ROOT / "README.md"), "--output", str(output))
    assert result.returncode == 0, result.stdout + result.stderr
    nb = nbformat.read(output, as_version=4)
    record = next(
        o.metadata["alignment_lab"] for o in nb.cells[1].outputs
        if "alignment_lab" in o.get("metadata", {})
    )
    assert len(record["submissions"]) == 3
    assert any("README.md" in n for n in record["notes"]), record["notes"]

    # Pooled counts are the sums of the students' own tables.
    expected = Counter()
    for path in students:
        for r in records(path, "probe"):
            prompts = {p["strategy"]: p["prompt_fingerprint"][:8] for p in r["prompts"]}
            for row in r["rows"]:
                key = (row["model"], row["strategy"], prompts[row["strategy"]])
                expected[key + ("refused",)] += row["refused"]
                expected[key + ("answered",)] += row["refused"] + row["partial"] + row["complied"]
    pooled = Counter()
    for p in record["probe"]:
        key = (p["model"], p["strategy"], p["prompt"])
        pooled[key + ("refused",)] += p["refused"]
        pooled[key + ("answered",)] += p["answered"]
    assert pooled == expected
    course_rows = [p for p in record["probe"] if p["model"] == "course-model"]
    assert course_rows and all(len(p["students"]) == 2 for p in course_rows)

    debate = next(d for d in record["debate"] if d["models"] == "course-model")
    final = sum(
        q.get("final_correct", q.get("correct")) is True for path in students[:2]
        for r in records(path, "debate") for q in r["questions"]
    )
    assert debate["final_answer"]["right"] == final and debate["final_answer"]["graded"] == 10
    assert record["challenges"] == {"reward-hacking": ["ada", "cy"], "feedback-types": ["bo"]}

    # The class notebook runs again with Jupyter's client and exports.
    fresh = nbformat.read(output, as_version=4)
    for c in fresh.cells:
        if c.cell_type == "code":
            c.outputs = []
    NotebookClient(
        fresh, kernel_name="alignment-lab", timeout=120,
        resources={"metadata": {"path": str(output.parent)}},
    ).execute()
    assert not [o for c in fresh.cells for o in c.get("outputs", []) if o.output_type == "error"]
    html, _ = HTMLExporter().from_notebook_node(fresh)
    (artifacts_dir() / "class-results.html").write_text(html)
    assert "Refusal rate pooled" in html and "data:image/png;base64," in html
