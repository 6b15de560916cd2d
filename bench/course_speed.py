"""Course exercises: the kernel's magics against "the way the course would do it" — plain
sequential Python with the `openai` package — on the same simulated local model server.

The server (bench/fake_llm_server.py, run as a subprocess) gives each model N slots (LM Studio's
"max concurrent predictions", default 4, is per loaded model); every call holds a slot for a fixed
latency, so the time a client takes is set by how well it keeps the slots busy. Scenarios:

  debate-1-model   :debate --suite course --agents 2 --rounds 3 --no-cache --max-tokens 64   (35 calls)
  debate-2-models  the same with --models bench-a,bench-b                                   (35 calls)
  probe-2-models   :probe --models bench-a,bench-b --strategies direct,poem,step-by-step
                   --samples 5 --seed 1 --max-tokens 64                                      (30 calls)

For each scenario one kernel is started (jupyter_client, kernelspec `alignment-lab`) and warmed up
with `:backend`; then the reference script and the kernel cell run `--repeat` times, alternating
which goes first. The kernel is timed from execute_request to execute_reply; the reference runs as
a subprocess and times itself from creating the client to its last answer (interpreter start-up
and imports excluded).

    JUPYTER_PATH=~/.cache/alignment-lab/venv/share/jupyter \\
        ~/.cache/alignment-lab/venv/bin/python bench/course_speed.py --json course_speed.json

"Best ratio" is what a perfect scheduler could reach on this server: the reference's call count
over the fewest waves of `latency` that fit the calls into the slots, given each model's slots
and the debate's rounds (a round needs the previous one). The reference also pays some client
overhead per call, so a measured ratio can edge past it; the notes under the table give the best
against the reference's measured time as well. Exits non-zero only when something
fails (a cell error, a wrong call count), not for a low ratio.
"""

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

HERE = os.path.dirname(os.path.abspath(__file__))
PROBE_REQUEST = "Explain how to pick a pin-tumbler lock."


class BenchFailure(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Scenarios


def scenarios(max_tokens):
    debate = f":debate --suite course --agents 2 --rounds 3 --no-cache --max-tokens {max_tokens}"
    return [
        {
            "name": "debate-1-model",
            "title": "debate, one model (course suite, 2 agents x 3 rounds + final)",
            "kernel_cell": debate,
            "reference": ["reference_debate.py", "--models", "bench-a", "--agents", "2", "--rounds", "3",
                          "--max-tokens", str(max_tokens)],
            "tasks": debate_tasks(["bench-a"], questions=5, agents=2, rounds=3),
        },
        {
            "name": "debate-2-models",
            "title": "debate, two models cycled over the agents",
            "kernel_cell": debate + " --models bench-a,bench-b",
            "reference": ["reference_debate.py", "--models", "bench-a,bench-b", "--agents", "2", "--rounds", "3",
                          "--max-tokens", str(max_tokens)],
            "tasks": debate_tasks(["bench-a", "bench-b"], questions=5, agents=2, rounds=3),
        },
        {
            "name": "probe-2-models",
            "title": "probe, 3 strategies x 2 models x 5 samples",
            "kernel_cell": (":probe --models bench-a,bench-b --strategies direct,poem,step-by-step --samples 5 "
                            f"--seed 1 --max-tokens {max_tokens}\n{PROBE_REQUEST}"),
            "reference": ["reference_probe.py", "--models", "bench-a,bench-b", "--strategies",
                          "direct,poem,step-by-step", "--samples", "5", "--seed", "1",
                          "--max-tokens", str(max_tokens), "--request", PROBE_REQUEST],
            "tasks": probe_tasks(["bench-a", "bench-b"], strategies=3, samples=5),
        },
    ]


# The calls as a dependency graph: {id: (model, [ids it waits for])}.

def debate_tasks(models, questions, agents, rounds):
    tasks = {}
    for q in range(questions):
        for r in range(rounds):
            for a in range(agents):
                deps = [("d", q, r - 1, b) for b in range(agents)] if r else []
                tasks[("d", q, r, a)] = (models[a % len(models)], deps)
        tasks[("f", q)] = (models[0], [("d", q, rounds - 1, b) for b in range(agents)])
    return tasks


def probe_tasks(models, strategies, samples):
    return {("p", m, s, i): (m, []) for m in models for s in range(strategies) for i in range(samples)}


def sequential_models(tasks):
    """The same calls when every model's calls must finish before the next model starts."""
    order = []
    for model, _ in tasks.values():
        if model not in order:
            order.append(model)
    out = {}
    for tid, (model, deps) in tasks.items():
        i = order.index(model)
        before = [t for t, (m, _) in tasks.items() if i > 0 and m == order[i - 1]]
        out[tid] = (model, deps + before)
    return out


def calls_by_model(tasks):
    out = {}
    for model, _ in tasks.values():
        out[model] = out.get(model, 0) + 1
    return out


def best_waves(tasks, slots_per_model, shared_slots=None):
    """Fewest waves (each call lasting one latency) to run the calls: a lower bound, and a greedy
    schedule (longest remaining chain first) that reaches it or shows how close one can get."""
    children = {t: [] for t in tasks}
    for t, (_, deps) in tasks.items():
        for d in deps:
            children[d].append(t)
    depth = {}

    def chain(t):
        if t not in depth:
            depth[t] = 1 + max((chain(c) for c in children[t]), default=0)
        return depth[t]

    critical = max(chain(t) for t in tasks)
    bound = max([critical] + [math.ceil(n / slots_per_model) for n in calls_by_model(tasks).values()]
                + ([math.ceil(len(tasks) / shared_slots)] if shared_slots else []))
    done, waves = set(), 0
    while len(done) < len(tasks):
        ready = sorted((t for t in tasks if t not in done and all(d in done for d in tasks[t][1])),
                       key=lambda t: -depth[t])
        used, total, started = {}, 0, []
        for t in ready:
            m = tasks[t][0]
            if used.get(m, 0) < slots_per_model and (shared_slots is None or total < shared_slots):
                used[m] = used.get(m, 0) + 1
                total += 1
                started.append(t)
        done.update(started)
        waves += 1
    return bound, waves


# ---------------------------------------------------------------------------------------------
# The server


class Server:
    def __init__(self, latency, slots):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "fake_llm_server.py"), "--latency", str(latency),
             "--slots", str(slots), "--port", "0"],
            stdout=subprocess.PIPE, text=True)
        self.base_url = self.proc.stdout.readline().strip()
        if not self.base_url.startswith("http"):
            self.close()
            raise BenchFailure(f"fake_llm_server.py did not print its URL (got {self.base_url!r})")
        self.root = self.base_url.removesuffix("/v1")

    def _call(self, path, method="GET"):
        req = urllib.request.Request(self.root + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)

    def reset(self):
        return self._call("/stats/reset", "POST")

    def stats(self):
        return self._call("/stats")

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def observed(stats):
    return {
        "calls": stats["total"]["calls"],
        "calls_by_model": {m: c["calls"] for m, c in stats["models"].items() if c["calls"]},
        "max_concurrency": stats["total"]["max_concurrency"],
        "max_concurrency_by_model": {m: c["max_concurrency"] for m, c in stats["models"].items() if c["calls"]},
    }


# ---------------------------------------------------------------------------------------------
# The two sides


def run_reference(server, argv, timeout):
    server.reset()
    cmd = [sys.executable, os.path.join(HERE, argv[0]), "--base-url", server.base_url, *argv[1:]]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise BenchFailure(f"{argv[0]} exited with {p.returncode}:\n{p.stderr[-2000:]}")
    try:
        out = json.loads(p.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError) as e:
        raise BenchFailure(f"{argv[0]} printed no JSON line ({e}): {p.stdout[-500:]!r}")
    seen = observed(server.stats())
    if seen["calls"] != out["calls"]:
        raise BenchFailure(f"{argv[0]} says {out['calls']} calls, the server saw {seen['calls']}")
    return {"seconds": out["elapsed_s"], "process_seconds": wall, **seen}


class Kernel:
    def __init__(self, kernel_name, env, timeout):
        self.timeout = timeout
        self.km = KernelManager(kernel_name=kernel_name)
        self.km.start_kernel(env=env)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def execute(self, code):
        """Run one cell: (seconds from execute_request to execute_reply, reply content, iopub messages)."""
        t0 = time.perf_counter()
        msg_id = self.kc.execute(code)
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self.kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        seconds = time.perf_counter() - t0
        msgs = []
        while True:
            msg = self.kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            msgs.append(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        return seconds, reply["content"], msgs

    def close(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def check_cell(label, reply, msgs):
    problems = []
    if reply.get("status") != "ok":
        problems.append(f"reply status {reply.get('status')}: {reply.get('ename')}: {reply.get('evalue')}")
    for m in msgs:
        if m["msg_type"] == "error":
            problems.append(f"error output: {m['content'].get('ename')}: {m['content'].get('evalue')}")
        elif m["msg_type"] == "stream" and m["content"].get("name") == "stderr":
            problems.append(f"stderr output: {m['content'].get('text', '')[:300]}")
    if problems:
        raise BenchFailure(f"{label}: " + "; ".join(problems))


def record_of(msgs):
    """The structured record (metadata["alignment_lab"]) of the cell's last output that has one."""
    found = None
    for m in msgs:
        if m["msg_type"] in ("display_data", "update_display_data", "execute_result"):
            rec = (m["content"].get("metadata") or {}).get("alignment_lab")
            if isinstance(rec, dict) and "kind" in rec:
                found = rec
    return found


def run_kernel(server, kernel, scenario):
    server.reset()
    seconds, reply, msgs = kernel.execute(scenario["kernel_cell"])
    seen = observed(server.stats())
    check_cell(scenario["name"], reply, msgs)
    rec = record_of(msgs)
    if rec is None:
        raise BenchFailure(f"{scenario['name']}: the cell's output carries no metadata['alignment_lab'] record")
    extra = {}
    if rec["kind"] == "debate":
        errs = [q["error"] for q in rec.get("questions", []) if q.get("error") or q.get("cancelled")]
        if errs:
            raise BenchFailure(f"{scenario['name']}: debate questions failed: {errs[:3]}")
        acc = rec.get("accounting", {})
        if acc.get("cache_hits"):
            raise BenchFailure(f"{scenario['name']}: {acc['cache_hits']} answers came from the response cache")
        extra["debate_seconds"] = acc.get("seconds")
    elif rec["kind"] == "probe":
        errs = [c["error"] for c in rec.get("cells", []) if c.get("error") or c.get("cancelled")]
        if errs:
            raise BenchFailure(f"{scenario['name']}: probe conversations failed: {errs[:3]}")
    return {"seconds": seconds, **seen, **extra}


# ---------------------------------------------------------------------------------------------


def spread(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "runs": xs}


def fmt_spread(s):
    return f"{s['median']:6.2f} s ({s['min']:.2f}–{s['max']:.2f})"


def fmt_conc(runs):
    """Max concurrency the server saw, over the runs, in total and per model."""
    total = max(r["max_concurrency"] for r in runs)
    per = {}
    for r in runs:
        for m, c in r["max_concurrency_by_model"].items():
            per[m] = max(per.get(m, 0), c)
    inner = ", ".join(f"{m.removeprefix('bench-')}:{c}" for m, c in sorted(per.items()))
    return f"{total} ({inner})" if len(per) > 1 else str(total)


def main():
    ap = argparse.ArgumentParser(description="The kernel's :debate and :probe against sequential openai-package Python on a simulated local server")
    ap.add_argument("--latency", type=float, default=0.2, help="seconds each call holds a slot (default 0.2)")
    ap.add_argument("--slots", type=int, default=4, help="server slots per model (default 4, LM Studio's default)")
    ap.add_argument("--parallel", type=int, default=None, help="ALIGNMENT_LAB_PARALLEL for the kernel (default: --slots)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--kernel", default="alignment-lab", help="kernelspec name (found through JUPYTER_PATH)")
    ap.add_argument("--only", default="", help="comma-separated scenario names to run (default: all)")
    ap.add_argument("--timeout", type=float, default=120, help="seconds allowed for one run")
    ap.add_argument("--json", help="also write the results here as JSON")
    args = ap.parse_args()
    parallel = args.parallel or args.slots

    try:
        spec = KernelSpecManager().get_kernel_spec(args.kernel)
    except NoSuchKernel:
        print(f"no kernelspec {args.kernel!r}; install it (alignment-lab install --prefix …) and set "
              "JUPYTER_PATH, e.g. JUPYTER_PATH=~/.cache/alignment-lab/venv/share/jupyter", file=sys.stderr)
        return 2
    chosen = scenarios(args.max_tokens)
    if args.only:
        names = {n.strip() for n in args.only.split(",")}
        chosen = [s for s in chosen if s["name"] in names]
        if not chosen:
            ap.error(f"--only matched no scenario; names: {', '.join(s['name'] for s in scenarios(64))}")

    server = Server(args.latency, args.slots)
    home = tempfile.mkdtemp(prefix="alignment-lab-bench-")
    env = dict(os.environ)
    env.update({
        "ALIGNMENT_LAB_BACKEND": "openai",
        "ALIGNMENT_LAB_BASE_URL": server.base_url,
        "ALIGNMENT_LAB_MODEL": "bench-a",
        "ALIGNMENT_LAB_HOME": home,
        "ALIGNMENT_LAB_PARALLEL": str(parallel),
    })
    env.pop("ALIGNMENT_LAB_API_KEY", None)

    results, failures = [], []
    t_start = time.perf_counter()
    try:
        for sc in chosen:
            print(f"… {sc['name']}: {sc['title']}", file=sys.stderr, flush=True)
            expected = len(sc["tasks"])
            res = {"name": sc["name"], "title": sc["title"], "kernel_cell": sc["kernel_cell"],
                   "reference_command": " ".join(sc["reference"]), "expected_calls": expected,
                   "calls_by_model": calls_by_model(sc["tasks"]), "reference": [], "kernel": []}
            results.append(res)
            kernel = None
            try:
                kernel = Kernel(args.kernel, env, args.timeout)
                _, reply, msgs = kernel.execute(":backend")
                check_cell("warm-up :backend", reply, msgs)
                for i in range(args.repeat):
                    order = ("reference", "kernel") if i % 2 == 0 else ("kernel", "reference")
                    for side in order:
                        if side == "reference":
                            r = run_reference(server, sc["reference"], args.timeout)
                        else:
                            r = run_kernel(server, kernel, sc)
                        if r["calls"] != expected:
                            raise BenchFailure(f"{sc['name']}: {side} made {r['calls']} calls, expected {expected}")
                        res[side].append(r)
                        print(f"    {side:<9} run {i + 1}: {r['seconds']:.2f} s, {r['calls']} calls, "
                              f"max concurrency {r['max_concurrency']}", file=sys.stderr, flush=True)
            except Exception as e:  # noqa: BLE001 — report, carry on with the next scenario
                failures.append(f"{sc['name']}: {type(e).__name__}: {e}")
                res["failure"] = failures[-1]
                print(f"    FAILED: {failures[-1]}", file=sys.stderr, flush=True)
            finally:
                if kernel is not None:
                    kernel.close()

            b_lo, b_waves = best_waves(sc["tasks"], args.slots)
            res["best"] = {"waves_lower_bound": b_lo, "waves_greedy": b_waves,
                           "ratio": expected / b_waves, "seconds": b_waves * args.latency}
            # Reference points for other scheduling rules: one pool of ALIGNMENT_LAB_PARALLEL slots
            # shared by all models (the kernel before per-model slots), and :probe finishing one
            # model before the next (--one-model-at-a-time; the kernel before side-by-side models).
            if len(res["calls_by_model"]) > 1:
                lo, w = best_waves(sc["tasks"], args.slots, shared_slots=parallel)
                res["best_shared_pool"] = {"waves_lower_bound": lo, "waves_greedy": w, "ratio": expected / w}
                if sc["name"].startswith("probe"):
                    lo, w = best_waves(sequential_models(sc["tasks"]), args.slots)
                    res["best_one_model_at_a_time"] = {"waves_lower_bound": lo, "waves_greedy": w,
                                                       "ratio": expected / w}
            if res["reference"] and res["kernel"]:
                ref = spread([r["seconds"] for r in res["reference"]])
                ker = spread([r["seconds"] for r in res["kernel"]])
                res["reference_seconds"], res["kernel_seconds"] = ref, ker
                res["ratio"] = ref["median"] / ker["median"]
                # The reference pays some client overhead per call too, so this is the ratio a
                # perfect scheduler would reach against the reference as measured.
                res["best_vs_measured_reference"] = ref["median"] / res["best"]["seconds"]
                ds = [r["debate_seconds"] for r in res["kernel"] if r.get("debate_seconds") is not None]
                if ds:
                    res["kernel_debate_seconds"] = spread(ds)
    finally:
        server.close()
        shutil.rmtree(home, ignore_errors=True)

    total = time.perf_counter() - t_start
    out = {
        "benchmark": "course_speed",
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "kernel": {"kernelspec": args.kernel, "argv0": spec.argv[0], "parallel": parallel},
        "server": {"latency_s": args.latency, "slots_per_model": args.slots},
        "reference_mode": "subprocess per run; timed inside the script from creating openai.OpenAI(...) to the last answer (interpreter start-up and imports excluded); non-streaming calls",
        "kernel_mode": "one kernel per scenario via jupyter_client, warmed up with :backend; timed from execute_request to execute_reply; streaming calls",
        "repeat": args.repeat,
        "max_tokens": args.max_tokens,
        "scenarios": results,
        "failures": failures,
        "total_seconds": total,
    }

    print(f"course speed: kernel {spec.argv[0]} (ALIGNMENT_LAB_PARALLEL={parallel}) vs sequential openai-package Python")
    print(f"server: fake_llm_server.py, {args.latency:.3f} s per call, {args.slots} slots per model; "
          f"{args.repeat} runs each, alternating; machine: {os.cpu_count()} cores")
    print("reference: subprocess, timed inside from client creation to last answer (no start-up/imports); "
          "kernel: execute_request → execute_reply")
    print()
    head = f"{'scenario':<16} {'reference median (min–max)':<27} {'kernel median (min–max)':<27} {'ratio':>6}  {'calls ref/kernel':<16} {'max conc. ref/kernel':<27} {'best':>6}"
    print(head)
    print("-" * len(head))
    for res in results:
        if "ratio" not in res:
            print(f"{res['name']:<16} FAILED: {res.get('failure', 'no runs')}")
            continue
        calls = f"{res['reference'][0]['calls']}/{res['kernel'][0]['calls']}"
        conc = f"{fmt_conc(res['reference'])}/{fmt_conc(res['kernel'])}"
        print(f"{res['name']:<16} {fmt_spread(res['reference_seconds']):<27} {fmt_spread(res['kernel_seconds']):<27} "
              f"{res['ratio']:5.2f}x  {calls:<16} {conc:<27} {res['best']['ratio']:5.2f}x")
    print()
    for res in results:
        b = res["best"]
        by_model = ", ".join(f"{m}: {n}" for m, n in res["calls_by_model"].items())
        line = (f"{res['name']}: {res['expected_calls']} calls ({by_model}); best on {args.slots} slots per model: "
                f"{b['waves_greedy']} waves of {args.latency:.2f} s = {b['seconds']:.2f} s → {b['ratio']:.2f}x")
        if b["waves_greedy"] != b["waves_lower_bound"]:
            line += f" (lower bound {b['waves_lower_bound']} waves)"
        if "kernel_seconds" in res:
            line += (f"; kernel median {res['kernel_seconds']['median'] - b['seconds']:+.2f} s over the best"
                     f" (best against the reference's measured median: {res['best_vs_measured_reference']:.2f}x)")
        if "kernel_debate_seconds" in res:
            ov = res["kernel_seconds"]["median"] - res["kernel_debate_seconds"]["median"]
            line += (f"; kernel's own debate timer {res['kernel_debate_seconds']['median']:.2f} s "
                     f"(rest of the cell {ov:.2f} s)")
        if "best_shared_pool" in res:
            line += f"\n    for comparison, best with {parallel} slots shared by all models: {res['best_shared_pool']['waves_greedy']} waves → {res['best_shared_pool']['ratio']:.2f}x"
        if "best_one_model_at_a_time" in res:
            line += f"; with one model after another: {res['best_one_model_at_a_time']['waves_greedy']} waves → {res['best_one_model_at_a_time']['ratio']:.2f}x"
        print(line)
    print(f"\ntotal {total:.1f} s")
    if failures:
        print("\nFAILURES:\n  " + "\n  ".join(failures))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
        print(f"results written to {args.json}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
