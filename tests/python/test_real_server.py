"""The HTTP client against a real OpenAI-compatible server: llama.cpp's own `llama-server` (what
LM Studio and Ollama run), built by scripts/llama-server.sh from the llama.cpp sources in PyPI's
llama-cpp-python sdist and named by ALIGNMENT_LAB_LLAMA_SERVER, serving the embedded SmolLM2
GGUF with four slots. The fakes test faults; this tests that the wire format of a real server is
read right, that `:backend` finds it where llama.cpp listens by default (port 8080), and that the
server's prompt-cache accounting reaches the records."""

import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from kernel_env import artifacts_dir, embedded_gguf, kernel_env
from local_server import free_port

ALIAS = "smollm2-server"
# Where llama-server listens by default, and where `:backend` auto-discovery looks for it.
LLAMA_CPP_PORT = 8080


def port_is_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture(scope="module")
def llama_server():
    required = os.environ.get("ALIGNMENT_LAB_REQUIRE_MODEL")
    binary = os.environ.get("ALIGNMENT_LAB_LLAMA_SERVER")
    if not binary or not Path(binary).is_file():
        if required:
            pytest.fail("ALIGNMENT_LAB_LLAMA_SERVER does not name a llama-server binary (scripts/llama-server.sh)")
        pytest.skip("no llama-server (scripts/llama-server.sh builds it)")
    if not embedded_gguf().exists():
        if required:
            pytest.fail(f"model missing at {embedded_gguf()}")
        pytest.skip("model not downloaded")
    # Port 8080 when free, so auto-discovery is tested too; otherwise any free port.
    discoverable = port_is_free(LLAMA_CPP_PORT)
    port = LLAMA_CPP_PORT if discoverable else free_port()
    log = open(artifacts_dir() / "llama-server.log", "w")
    proc = subprocess.Popen(
        [
            binary,
            "--model", str(embedded_gguf()),
            "--alias", ALIAS,
            "--host", "127.0.0.1",
            "--port", str(port),
            "--parallel", "4",
            "--ctx-size", "8192",
            "--threads", "2",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama-server exited with {proc.returncode}; see llama-server.log")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.3)
    else:
        pytest.fail("llama-server did not become healthy in 120 s")
    yield base_url, discoverable
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_every_model_magic_against_llama_server(llama_server, tmp_path):
    base_url, discoverable = llama_server
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(":backend"),
        nbformat.v4.new_code_cell(":models"),
        nbformat.v4.new_code_cell(":chat --seed 1 --temperature 0 --max-tokens 24\nName a fruit."),
        nbformat.v4.new_code_cell(
            ":probe --strategies direct,poem --samples 2 --seed 1 --max-tokens 32\n"
            "Explain how to pick a pin-tumbler lock."
        ),
        nbformat.v4.new_code_cell(":debate --agents 2 --rounds 2 --seed 1 --max-tokens 32\nWhat is 2 + 2?"),
    ]
    # With port 8080 free, the kernel is told nothing: `:backend` must find llama.cpp there.
    where = (
        dict(ALIGNMENT_LAB_BACKEND="auto", ALIGNMENT_LAB_BASE_URL=None)
        if discoverable
        else dict(ALIGNMENT_LAB_BACKEND="openai", ALIGNMENT_LAB_BASE_URL=base_url)
    )
    with kernel_env(**where, ALIGNMENT_LAB_MODEL=None, ALIGNMENT_LAB_HOME=str(tmp_path)):
        NotebookClient(nb, kernel_name="alignment-lab", timeout=600, startup_timeout=60).execute()
    nbformat.write(nb, artifacts_dir() / "llama-server.ipynb")
    outputs = [o for c in nb.cells for o in c.outputs]
    errors = [f"{o.ename}: {o.evalue}" for o in outputs if o.output_type == "error"]
    assert not errors, errors

    def record(cell):
        metas = [o.metadata["alignment_lab"] for o in cell.outputs if "alignment_lab" in o.get("metadata", {})]
        assert metas, cell.outputs
        return metas[-1]

    backend = record(nb.cells[0])
    if discoverable:
        assert "llama.cpp" in json.dumps(backend), backend
    assert ALIAS in json.dumps(record(nb.cells[1]))
    chat = record(nb.cells[2])
    assert chat["backend"]["kind"] == "openai" and chat["model"] == ALIAS
    assert chat["answer"].strip()
    # llama.cpp's own numbers come through: its timings, and its prompt-cache count.
    assert chat["server_report"]["timings"]["prompt_n"] > 0
    assert chat["usage"]["prompt_tokens"] > 0 and "cached_prompt_tokens" in chat["usage"]
    probe = record(nb.cells[3])
    # Every conversation is counted: classified, or "no answer" when 32 tokens ran out before the
    # answer said anything either way (left out of the rates, counted beside them).
    assert sum(r["samples"] + r["no_answer"] for r in probe["rows"]) == 4
    assert not [c for c in probe["cells"] if c.get("error")]
    debate = record(nb.cells[4])
    answers = [a for r in debate["questions"][0]["rounds"] for a in r["answers"]]
    assert len(answers) == 4 and all(a["answer"].strip() and not a.get("error") for a in answers)
    # Round 2 extends round 1's conversations: the server's slots served part of the prompts.
    accounting = debate["accounting"]
    assert 0 < accounting["prompt_tokens_cached"] < accounting["prompt_tokens"], accounting
