"""Fault-injection matrix (issue #8, part 1): every way a model server can misbehave, through the
real kernel and a real Jupyter client, one kernel for the whole module.

For each case of fault_server.py a `:chat --model <case>` cell runs, and for a representative
subset also `:probe --models ok,<case>` and `:debate --models ok,<case>`. Each cell must:
  * end by itself (no hang) with the right outcome: success where retrying is right, else an
    error output naming the endpoint and the model and saying what happened;
  * try a bounded number of times (attempts are counted by the fake server);
  * keep partial results (`:probe`/`:debate`: the `ok` model's rows and answers, and a run record);
  * leave the kernel usable: the next cell, `:chat --model ok`, works.
The outcomes are written to docs/reliability.md (see `test_write_reliability_doc`).

Time-outs: the kernel's first-token and idle time-outs are 600 s and 120 s (HttpSettings in
src/llm/openai.rs). The variables below are how a test would shorten them; the kernel passes them
on if it reads them. A cell that runs past its deadline is interrupted and counts as a hang.
"""

import json
import pathlib
import queue
import re
import time

import pytest
from jupyter_client.manager import KernelManager

from fault_server import (
    CASES,
    HUGE_BYTES,
    OK_ANSWER,
    PARTIAL_CHUNKS,
    TRICKLE_WORDS,
    FaultServer,
    closed_base_url,
)
from kernel_env import kernel_env

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
DOC = REPO / "docs" / "reliability.md"

FIRST_TOKEN_TIMEOUT_S = 3
IDLE_TIMEOUT_S = 3
TIMEOUT_ENV = {
    "ALIGNMENT_LAB_FIRST_TOKEN_TIMEOUT": str(FIRST_TOKEN_TIMEOUT_S),
    "ALIGNMENT_LAB_IDLE_TIMEOUT": str(IDLE_TIMEOUT_S),
}
CELL_DEADLINE_S = 30  # any case, bounded retries with back-off included
STALL_DEADLINE_S = 12  # a stalled stream must be given up well before this
MAX_ATTEMPTS = 5  # tries of one request, at most (HttpSettings.max_attempts is 4)
API_KEY = "sk-fault-matrix-not-a-real-key"
ANSI = re.compile(r"\x1b\[[0-9;]*m")

PROBE_SAMPLES = 2
PROBE_BODY = "Explain how to pick a pin-tumbler lock."
DEBATE_BODY = "What is 2 + 3?"
NEXT_CELL = ":chat --model ok --max-tokens 32\nSay something harmless."
SUBSET = ["http-500-always", "reset-mid-stream", "stall"]

# case -> what is right: "success" or the error class, attempts allowed, what the message must say.
CHAT_EXPECT = {
    "ok": dict(outcome="success", attempts=(1, 1)),
    "refused": dict(outcome="BackendUnavailable", attempts=(1, MAX_ATTEMPTS), says=r"connect|refused"),
    "reset-mid-stream": dict(outcome="BackendError", attempts=(1, 1), says=r"broke off|reset|closed"),
    "http-500": dict(outcome="success", attempts=(2, 2)),
    "http-503": dict(outcome="success", attempts=(3, 3)),
    "http-500-always": dict(outcome="BackendError", attempts=(2, MAX_ATTEMPTS), says=r"\b500\b"),
    "429-retry-after": dict(outcome="success", attempts=(2, 2)),
    "stall": dict(outcome="BackendTimeout", attempts=(1, MAX_ATTEMPTS), says=r"after \d+ s"),
    "trickle": dict(outcome="success", attempts=(1, 1)),
    "malformed-json": dict(outcome="BackendError", attempts=(1, MAX_ATTEMPTS), says=r"JSON"),
    "malformed-sse": dict(outcome="BackendError", attempts=(1, MAX_ATTEMPTS), says=r"not a valid|event|stream"),
    "malformed-sse-text": dict(outcome="BackendError", attempts=(1, MAX_ATTEMPTS), says=r"not a valid|event|stream"),
    "empty": dict(outcome="success", attempts=(1, 1)),
    "model-not-found-lmstudio": dict(outcome="ModelNotFound", attempts=(1, 1), says=r"Invalid model identifier"),
    "model-not-found-ollama": dict(outcome="ModelNotFound", attempts=(1, 1), says=r"not found"),
    "context-exceeded": dict(outcome="ContextExceeded", attempts=(1, 1), says=r"context size"),
    "context-exceeded-lmstudio": dict(outcome="ContextExceeded", attempts=(1, 1), says=r"context length"),
    "huge": dict(outcome="success", attempts=(1, 1)),
}
assert set(CHAT_EXPECT) == set(CASES)

RESULTS = []  # rows for docs/reliability.md, in run order


# ------------------------------------------------------------------------------------------------
# One kernel, one fault server for the module
# ------------------------------------------------------------------------------------------------


class Cell:
    """What one execute request produced, as a notebook would keep it."""

    def __init__(self):
        self.status = None  # "ok", "error", "hang" (interrupted by the test) or "dead"
        self.ename = self.evalue = None
        self.outputs = []  # {"data", "metadata"}: displays in their final (updated) state
        self.stream = ""
        self.elapsed = 0.0
        self.hung_after = None

    def texts(self):
        """Everything a reader can see: plain and markdown of every output, the error, streams."""
        parts = [self.stream, self.ename or "", self.evalue or ""]
        for o in self.outputs:
            parts += [o["data"].get("text/plain", ""), o["data"].get("text/markdown", "")]
        return "\n".join(parts)

    def record(self, kind):
        """The structured record (`metadata.alignment_lab`) of the last output of that kind."""
        for o in reversed(self.outputs):
            meta = o["metadata"].get("alignment_lab")
            if meta and meta.get("kind") == kind:
                return meta
        return None


class Lab:
    def __init__(self, fault, home, log_path):
        self.fault = fault
        self.home = home
        self.log_path = log_path
        self.closed_url = closed_base_url()
        self._log = open(log_path, "w")
        env = dict(
            ALIGNMENT_LAB_BACKEND="openai",
            ALIGNMENT_LAB_BASE_URL=fault.base_url,
            ALIGNMENT_LAB_MODEL="ok",
            ALIGNMENT_LAB_HOME=str(home),
            ALIGNMENT_LAB_API_KEY=API_KEY,
            ALIGNMENT_LAB_LOG="warn",  # the retry lines count attempts against a closed port
            ALIGNMENT_LAB_PARALLEL=None,
            **TIMEOUT_ENV,
        )
        with kernel_env(**env):
            self.km = KernelManager(kernel_name="alignment-lab")
            self.km.start_kernel(stderr=self._log)
        self._connect()

    def _connect(self):
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def close(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)
        self._log.close()

    def log_size(self):
        self._log.flush()
        return self.log_path.stat().st_size

    def log_since(self, offset):
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return ANSI.sub("", f.read().decode("utf-8", "replace"))

    def run(self, code, deadline=CELL_DEADLINE_S):
        """Execute one cell; past `deadline` seconds, interrupt it and call it a hang."""
        cell = Cell()
        msg_id = self.kc.execute(code)
        t0 = time.monotonic()
        stop_at = t0 + deadline
        by_id = {}
        while True:
            now = time.monotonic()
            if now >= stop_at:
                if cell.hung_after is not None:
                    cell.status = "dead"
                    break
                cell.hung_after = now - t0
                self.km.interrupt_kernel()
                stop_at = now + 20
                continue
            try:
                msg = self.kc.get_iopub_msg(timeout=min(1.0, stop_at - now))
            except queue.Empty:
                if not self.km.is_alive():
                    cell.status = "dead"
                    break
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind in ("display_data", "execute_result"):
                out = {"data": content["data"], "metadata": content.get("metadata") or {}}
                cell.outputs.append(out)
                display_id = (content.get("transient") or {}).get("display_id")
                if display_id:
                    by_id.setdefault(display_id, []).append(out)
            elif kind == "update_display_data":
                for out in by_id.get(content["transient"]["display_id"], []):
                    out["data"] = content["data"]
                    out["metadata"] = content.get("metadata") or {}
            elif kind == "stream":
                cell.stream += content["text"]
            elif kind == "error":
                cell.ename, cell.evalue = content["ename"], content["evalue"]
            elif kind == "status" and content["execution_state"] == "idle":
                break
        cell.elapsed = time.monotonic() - t0
        if cell.status == "dead":
            # Start a fresh kernel so one crash does not fail every later case.
            self.km.restart_kernel(now=True)
            self.kc.stop_channels()
            self._connect()
            return cell
        reply = self._reply(msg_id)
        if cell.hung_after is not None:
            cell.status = "hang"
        else:
            cell.status = reply["content"]["status"] if reply else ("error" if cell.ename else "ok")
        return cell

    def _reply(self, msg_id, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.kc.get_shell_msg(timeout=deadline - time.monotonic())
            except queue.Empty:
                return None
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg
        return None

    def runs(self, kind):
        return set((self.home / "runs").glob(f"{kind}-*.json")) if (self.home / "runs").exists() else set()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    home = tmp_path_factory.mktemp("fault-lab-home")
    with FaultServer() as fault:
        lab = Lab(fault, home, home / "kernel-stderr.log")
        try:
            yield lab
        finally:
            lab.close()


# ------------------------------------------------------------------------------------------------
# Checks shared by the three magics
# ------------------------------------------------------------------------------------------------


def first_line(text, limit=150):
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def retry_attempts(log, url):
    """Attempts against a closed port, from the kernel's `attempt N failed …; retrying` lines."""
    retries = [l for l in log.splitlines() if "retrying" in l and url in l]
    return len(retries) + 1


def check_next_cell(lab, problems):
    nxt = lab.run(NEXT_CELL)
    rec = nxt.record("chat")
    ok = nxt.status == "ok" and rec is not None and rec.get("answer") == OK_ANSWER
    if not ok:
        problems.append(f"next cell `:chat --model ok` failed: {nxt.status} {nxt.ename}: {first_line(nxt.evalue)}")
    return ok


def names(text, model):
    """Whether `text` names the model id as a word (so `ok` does not match inside `broke`)."""
    return re.search(rf"(?<![\w.-]){re.escape(model)}(?![\w-])", text or "") is not None


def check_error_names_where_and_what(cell, url, model, says, problems):
    """The error output names the endpoint and the model and says what happened."""
    evalue = cell.evalue or ""
    if url not in evalue:
        problems.append(f"the error does not name the endpoint {url}")
    if not names(evalue, model):
        problems.append(f"the error does not name the model `{model}`")
    if says and not re.search(says, evalue, re.I):
        problems.append(f"the error does not say what happened (expected /{says}/)")


def check_secret(cell, problems):
    if API_KEY in cell.texts():
        problems.append("the API key appears in an output")


def normalise(text, lab):
    return (text or "").replace(lab.fault.base_url, "http://127.0.0.1:PORT/v1").replace(
        lab.closed_url, "http://127.0.0.1:CLOSED/v1"
    )


def describe(cell, lab, success_note=""):
    if cell.status == "hang":
        after = f"; after the interrupt: `{cell.ename}`" if cell.ename else ""
        return f"**hung** — no result after {cell.hung_after:.0f} s, interrupted by the test{after}"
    if cell.status == "dead":
        return "**kernel died**"
    if cell.status == "error":
        return f"error `{cell.ename}`: {first_line(normalise(cell.evalue, lab))}"
    return f"success{success_note}"


def add_row(lab, magic, case, did, attempts, next_ok, cell, problems):
    RESULTS.append(
        dict(
            magic=magic,
            case=case,
            fake=CASES[case],
            did=did,
            attempts=attempts,
            next_ok=next_ok,
            seconds=cell.elapsed,
            problems=[normalise(p, lab) for p in problems],
        )
    )


# ------------------------------------------------------------------------------------------------
# :chat, every case
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(CHAT_EXPECT))
def test_chat(lab, case):
    expect = CHAT_EXPECT[case]
    problems = []
    lab.fault.reset()
    url = lab.fault.base_url
    model = case  # the fake server's behaviour is chosen by the model id
    if case == "refused":
        url, model = lab.closed_url, "ok"  # a good model on a server that is not there
        switched = lab.run(f":backend {url}")
        assert switched.status == "ok", (switched.ename, switched.evalue)
    log_at = lab.log_size()
    deadline = STALL_DEADLINE_S if case == "stall" else CELL_DEADLINE_S
    cell = lab.run(f":chat --model {model} --max-tokens 64 --seed 1\nSay something harmless.", deadline=deadline)
    attempt_times = lab.fault.attempt_times(case)
    attempts = retry_attempts(lab.log_since(log_at), url) if case == "refused" else len(attempt_times)
    if case == "refused":
        back = lab.run(f":backend {lab.fault.base_url}")
        assert back.status == "ok", (back.ename, back.evalue)

    # The outcome.
    rec = cell.record("chat")
    answer = rec.get("answer", "") if rec else ""
    if cell.status == "hang":
        problems.append(f"hung: no result within {deadline} s (the kernel's time-outs cannot be shortened; "
                        f"it ignores {', '.join(TIMEOUT_ENV)})")
    elif cell.status == "dead":
        problems.append("the kernel died")
    elif expect["outcome"] == "success":
        if cell.status != "ok":
            problems.append(f"expected success, got {cell.ename}: {first_line(cell.evalue)}")
    else:
        if cell.status != "error":
            problems.append(f"expected an error `{expect['outcome']}`, got success ({len(answer)} characters)")
        else:
            if cell.ename != expect["outcome"]:
                problems.append(f"error class `{cell.ename}`, expected `{expect['outcome']}`")
            check_error_names_where_and_what(cell, url, model, expect.get("says"), problems)

    # What a success must contain.
    if cell.status == "ok":
        want = {
            "ok": OK_ANSWER, "http-500": OK_ANSWER, "http-503": OK_ANSWER, "429-retry-after": OK_ANSWER,
            "trickle": "".join(TRICKLE_WORDS), "empty": "",
        }.get(case)
        if want is not None and answer != want:
            problems.append(f"answer {answer[:60]!r} is not the server's {want[:60]!r}")
        if case == "huge" and len(answer) != HUGE_BYTES:
            problems.append(f"the 10 MiB answer arrived with {len(answer)} characters")
        if case == "empty" and "empty" not in cell.texts():
            problems.append("an empty answer is not marked as empty")
        if case == "trickle" and cell.elapsed < len(TRICKLE_WORDS) - 1.5:
            problems.append(f"trickle finished in {cell.elapsed:.1f} s, faster than the server sends")

    # Partial text already shown must stay shown when a stream breaks off.
    if case == "reset-mid-stream":
        partial = "".join(PARTIAL_CHUNKS).strip()
        shown = "\n".join(o["data"].get("text/markdown", "") + o["data"].get("text/plain", "") for o in cell.outputs)
        if partial.rstrip(",") not in shown:
            problems.append("the partial answer streamed before the reset is no longer shown")

    # Bounded retries.
    lo, hi = expect["attempts"]
    if not lo <= attempts <= hi:
        problems.append(f"{attempts} attempts, expected {lo}–{hi}" if lo != hi else f"{attempts} attempts, expected {lo}")
    if case == "429-retry-after" and len(attempt_times) >= 2 and attempt_times[1] - attempt_times[0] < 0.9:
        problems.append(f"retried after {attempt_times[1] - attempt_times[0]:.2f} s, before Retry-After: 1")

    check_secret(cell, problems)
    next_ok = check_next_cell(lab, problems)
    note = ""
    if cell.status == "ok":
        marked = "marked as such" if "empty" in cell.texts() else "NOT marked as empty"
        note = f" ({len(answer):,} characters)" if answer else f" (empty answer, {marked})"
    add_row(lab, ":chat", case, describe(cell, lab, note), str(attempts), next_ok, cell, problems)
    assert not problems, f":chat --model {model} (case {case}): " + "; ".join(problems)


# ------------------------------------------------------------------------------------------------
# :probe and :debate with one good and one faulty model: partial results survive
# ------------------------------------------------------------------------------------------------


def error_line_naming(cell, url, model):
    """A line of the rendered output that names both the endpoint and the failing model."""
    for line in cell.texts().splitlines():
        if url in line and names(line, model):
            return line
    return None


def run_beside_ok(lab, kind, case, code):
    """Run a `:probe`/`:debate` cell whose models are `ok` and the failing `case`, with the checks
    both share: it finishes with partial results, names the endpoint and the failing model, and
    writes exactly one run record. Returns the cell, both models' attempts, the new record's text
    (or None) and the problems found so far."""
    problems = []
    lab.fault.reset()
    before = lab.runs(kind)
    deadline = STALL_DEADLINE_S if case == "stall" else CELL_DEADLINE_S
    cell = lab.run(code, deadline=deadline)
    attempts = (lab.fault.attempt_count("ok"), lab.fault.attempt_count(case))
    if cell.status == "hang":
        problems.append(f"hung: no result within {deadline} s (it ignores {', '.join(TIMEOUT_ENV)})")
    elif cell.status != "ok":
        problems.append(f"the cell failed instead of reporting partial results: {cell.ename}: {first_line(cell.evalue)}")
    if cell.status != "hang" and not error_line_naming(cell, lab.fault.base_url, case):
        problems.append(f"no output line names both the endpoint and the failing model `{case}`")
    new = lab.runs(kind) - before
    record_text = None
    if len(new) != 1:
        problems.append(f"{len(new)} new {kind} run records in $ALIGNMENT_LAB_HOME/runs (expected 1)")
    else:
        record_text = next(iter(new)).read_text()
    return cell, attempts, record_text, problems


@pytest.mark.parametrize("case", SUBSET)
def test_probe_keeps_the_good_model(lab, case):
    cell, (ok_attempts, bad_attempts), disk, problems = run_beside_ok(
        lab,
        "probe",
        case,
        f":probe --models ok,{case} --strategies direct --samples {PROBE_SAMPLES} --seed 1 --max-tokens 32\n{PROBE_BODY}",
    )

    rec = cell.record("probe")
    rows = {r["model"]: r for r in (rec or {}).get("rows", [])}
    if rec is None:
        problems.append("no probe record in the outputs (partial results lost)")
    else:
        good = rows.get("ok")
        if not good or good["samples"] != PROBE_SAMPLES or good["errors"] != 0:
            problems.append(f"the `ok` model's row is missing or incomplete: {good}")
        bad = rows.get(case)
        if not bad or bad["errors"] + bad["cancelled"] != PROBE_SAMPLES:
            problems.append(f"the `{case}` row does not count its failed conversations: {bad}")
    tables = [o for o in cell.outputs if "Refusals per model" in o["data"].get("text/markdown", "") + o["data"].get("text/html", "")]
    if not tables or "ok" not in tables[0]["data"].get("text/plain", ""):
        problems.append("the results table with the `ok` row is not rendered")

    # The run record on disk has the good model's row.
    if disk is not None:
        rows_on_disk = json.loads(disk).get("rows", [])
        if not any(r["model"] == "ok" and r["samples"] == PROBE_SAMPLES for r in rows_on_disk):
            problems.append("the run record has no complete `ok` row")

    # Bounded retries: per conversation at most MAX_ATTEMPTS; a half-streamed answer is not retried.
    if ok_attempts != PROBE_SAMPLES:
        problems.append(f"`ok` was called {ok_attempts} times, expected {PROBE_SAMPLES}")
    limit = (PROBE_SAMPLES, PROBE_SAMPLES) if case == "reset-mid-stream" else (PROBE_SAMPLES, PROBE_SAMPLES * MAX_ATTEMPTS)
    if case == "http-500-always":
        limit = (PROBE_SAMPLES * 2, PROBE_SAMPLES * MAX_ATTEMPTS)
    if not limit[0] <= bad_attempts <= limit[1]:
        problems.append(f"`{case}` was called {bad_attempts} times, expected {limit[0]}–{limit[1]}")

    check_secret(cell, problems)
    next_ok = check_next_cell(lab, problems)
    if cell.status == "ok" and rec is not None:
        failed = rows.get(case, {})
        err = next((c.get("error") for c in rec.get("cells", []) if c.get("model") == case and c.get("error")), "")
        did = (f"success with partial results: `ok` {rows.get('ok', {}).get('samples', 0)}/{PROBE_SAMPLES} counted; "
               f"`{case}` {failed.get('errors', 0)} failed — {first_line(normalise(err, lab), 110)}")
    else:
        did = describe(cell, lab)
        if rec is not None:
            did += f"; `ok` rows kept: {rows.get('ok', {}).get('samples', 0)}/{PROBE_SAMPLES}"
    add_row(lab, ":probe", case, did, f"ok: {ok_attempts}, {case}: {bad_attempts}", next_ok, cell, problems)
    assert not problems, f":probe --models ok,{case}: " + "; ".join(problems)


@pytest.mark.parametrize("case", SUBSET)
def test_debate_keeps_the_good_model(lab, case):
    cell, (ok_attempts, bad_attempts), disk, problems = run_beside_ok(
        lab,
        "debate",
        case,
        f":debate --models ok,{case} --agents 2 --rounds 1 --max-tokens 32 --no-cache\n{DEBATE_BODY}",
    )

    rec = cell.record("debate")
    answers = []
    if rec is None:
        problems.append("no debate record in the outputs (partial results lost)")
    else:
        for q in rec.get("questions", []):
            for r in q.get("rounds", []):
                answers += r.get("answers", [])
        good = [a for a in answers if a["model"] == "ok"]
        if not good or good[0]["answer"] != OK_ANSWER or good[0].get("error"):
            problems.append("the `ok` agent's finished answer is not kept in the record")
        bad = [a for a in answers if a["model"] == case]
        if cell.status != "hang" and (not bad or not bad[0].get("error")):
            problems.append(f"the `{case}` agent's failure is not recorded")
    if OK_ANSWER not in cell.texts():
        problems.append("the `ok` agent's answer is not rendered (transcripts)")
    if disk is not None and OK_ANSWER not in disk:
        problems.append("the run record does not keep the `ok` agent's answer")

    if ok_attempts != 1:
        problems.append(f"`ok` was called {ok_attempts} times, expected 1")
    lo, hi = (1, 1) if case == "reset-mid-stream" else ((2 if case == "http-500-always" else 1), MAX_ATTEMPTS)
    if not lo <= bad_attempts <= hi:
        problems.append(f"`{case}` was called {bad_attempts} times, expected {lo}–{hi}")

    check_secret(cell, problems)
    next_ok = check_next_cell(lab, problems)
    if cell.status == "ok" and rec is not None:
        err = next((a.get("error") for a in answers if a["model"] == case and a.get("error")), "")
        kept = "kept" if any(a["model"] == "ok" and a["answer"] == OK_ANSWER for a in answers) else "LOST"
        did = f"success with partial results: `ok` answer {kept}; `{case}` — {first_line(normalise(err, lab), 110)}"
    else:
        did = describe(cell, lab)
        if rec is not None:
            kept = any(a["model"] == "ok" and a["answer"] == OK_ANSWER for a in answers)
            did += f"; `ok` answer {'kept' if kept else 'lost'}"
    add_row(lab, ":debate", case, did, f"ok: {ok_attempts}, {case}: {bad_attempts}", next_ok, cell, problems)
    assert not problems, f":debate --models ok,{case}: " + "; ".join(problems)


# ------------------------------------------------------------------------------------------------
# docs/reliability.md
# ------------------------------------------------------------------------------------------------


def cell_text(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def test_api_key_is_sent_but_never_shown_logged_or_saved(lab, tmp_path):
    """The key goes to the server as a bearer token and nowhere else: every output was checked
    above; here the kernel's log and every file it wrote, and a second kernel logging at `trace`
    (the most it ever logs) through the same failures."""
    assert f"Bearer {API_KEY}" in lab.fault.authorizations
    assert API_KEY not in lab.log_since(0)
    for path in lab.home.rglob("*"):
        if path.is_file() and path != lab.log_path:
            assert API_KEY.encode() not in path.read_bytes(), path

    trace_log = tmp_path / "trace.log"
    with open(trace_log, "w") as log, kernel_env(
        ALIGNMENT_LAB_BACKEND="openai",
        ALIGNMENT_LAB_BASE_URL=lab.fault.base_url,
        ALIGNMENT_LAB_MODEL="ok",
        ALIGNMENT_LAB_HOME=str(tmp_path / "home"),
        ALIGNMENT_LAB_API_KEY=API_KEY,
        ALIGNMENT_LAB_LOG="trace",
        **TIMEOUT_ENV,
    ):
        km = KernelManager(kernel_name="alignment-lab")
        km.start_kernel(stderr=log)
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=60)
            for code in (
                ":backend",
                ":models",
                ":chat --model ok\nhi",
                ":chat --model http-500-always\nhi",
                ":chat --model reset-mid-stream\nhi",
                ":probe --models ok --strategies direct --samples 1\nExplain how to pick a pin-tumbler lock.",
            ):
                kc.execute_interactive(code, timeout=60, output_hook=lambda msg: None)
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    text = trace_log.read_text(errors="replace")
    assert "http-500-always" in text, "the trace log should show the failing calls"
    assert API_KEY not in text
    for path in (tmp_path / "home").rglob("*"):
        if path.is_file():
            assert API_KEY.encode() not in path.read_bytes(), path


def test_write_reliability_doc():
    expected = len(CHAT_EXPECT) + 2 * len(SUBSET)
    if len(RESULTS) != expected:
        pytest.skip(f"only {len(RESULTS)} of {expected} cases ran; the table is written from a full run")
    failing = [r for r in RESULTS if r["problems"]]
    lines = [
        "# Reliability: how the kernel handles misbehaving model servers",
        "",
        "<!-- Generated by tests/python/test_faults.py — do not edit by hand. -->",
        "",
        "Generated by `tests/python/test_faults.py` from one run of the real kernel against",
        "`tests/python/fault_server.py`, an OpenAI-compatible fake whose behaviour is chosen by the model id.",
        "Regenerate (after building the kernel) with:",
        "",
        "```sh",
        "JUPYTER_PATH=~/.cache/alignment-lab/venv/share/jupyter \\",
        "  ~/.cache/alignment-lab/venv/bin/python -m pytest tests/python/test_faults.py -v -p no:cacheprovider",
        "```",
        "",
        "Every case runs in one kernel, in this order. *Attempts* are the requests the fake server",
        "received for that model (for `refused`, counted from the kernel's retry log). *Next cell* is",
        "`:chat --model ok` run right after the case. `:probe` runs `--strategies direct --samples 2`,",
        "`:debate` runs `--agents 2 --rounds 1`, each with `--models ok,<case>`. The test sets",
        f"{', '.join(f'`{k}={v}`' for k, v in TIMEOUT_ENV.items())} and gives a cell {CELL_DEADLINE_S} s",
        f"({STALL_DEADLINE_S} s for `stall`) before it interrupts it and reports a hang.",
        "",
        f"**{len(RESULTS) - len(failing)} of {len(RESULTS)} cases behave as they should.**",
        "",
        "| magic | case | what the fake does | what the kernel did | attempts | next cell ok | seconds (rounded) | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in RESULTS:
        verdict = "✅" if not r["problems"] else "❌ " + "; ".join(r["problems"])
        lines.append(
            "| "
            + " | ".join(
                cell_text(x)
                for x in (
                    f"`{r['magic']}`",
                    f"`{r['case']}`",
                    r["fake"],
                    r["did"],
                    r["attempts"],
                    "yes" if r["next_ok"] else "**no**",
                    # Whole seconds, so a rerun rewrites the file only when behaviour changes.
                    f"{round(r['seconds'])}",
                    verdict,
                )
            )
            + " |"
        )
    lines.append("")
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text("\n".join(lines), encoding="utf-8")
    assert DOC.stat().st_size > 0
