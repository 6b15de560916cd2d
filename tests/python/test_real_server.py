"""The HTTP client against a real OpenAI-compatible server: llama.cpp's, through
llama-cpp-python's server (from PyPI), serving the embedded SmolLM2 GGUF. The fakes test faults;
this tests that the wire format of a real server is read right."""

import json
import os
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest
from nbclient import NotebookClient

from kernel_env import artifacts_dir, embedded_gguf, kernel_env
from local_server import free_port

ALIAS = "smollm2-server"



@pytest.fixture(scope="module")
def llama_server():
    required = os.environ.get("ALIGNMENT_LAB_REQUIRE_MODEL")
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError:
        if required:
            pytest.fail("llama-cpp-python[server] is not installed in the test venv")
        pytest.skip("llama-cpp-python[server] is not installed")
    if not embedded_gguf().exists():
        if required:
            pytest.fail(f"model missing at {embedded_gguf()}")
        pytest.skip("model not downloaded")
    port = free_port()
    log = open(artifacts_dir() / "llama-cpp-server.log", "w")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(embedded_gguf()),
            "--model_alias", ALIAS,
            "--host", "127.0.0.1",
            "--port", str(port),
            "--n_ctx", "2048",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama-cpp-python's server exited with {proc.returncode}; see llama-cpp-server.log")
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        pytest.fail("llama-cpp-python's server did not start in 120 s")
    yield base_url
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_every_model_magic_against_llama_cpp_server(llama_server, tmp_path):
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
    with kernel_env(
        ALIGNMENT_LAB_BACKEND="openai",
        ALIGNMENT_LAB_BASE_URL=llama_server,
        ALIGNMENT_LAB_MODEL=None,
        ALIGNMENT_LAB_HOME=str(tmp_path),
        ALIGNMENT_LAB_PARALLEL="1",  # llama-cpp-python's server decodes one request at a time
    ):
        NotebookClient(nb, kernel_name="alignment-lab", timeout=600, startup_timeout=60).execute()
    nbformat.write(nb, artifacts_dir() / "llama-cpp-server.ipynb")
    outputs = [o for c in nb.cells for o in c.outputs]
    errors = [f"{o.ename}: {o.evalue}" for o in outputs if o.output_type == "error"]
    assert not errors, errors

    def record(cell):
        metas = [o.metadata["alignment_lab"] for o in cell.outputs if "alignment_lab" in o.get("metadata", {})]
        assert metas, cell.outputs
        return metas[-1]

    assert ALIAS in json.dumps(record(nb.cells[1]))
    chat = record(nb.cells[2])
    assert chat["backend"]["kind"] == "openai" and chat["model"] == ALIAS
    assert chat["answer"].strip()
    probe = record(nb.cells[3])
    # Every conversation is counted: classified, or "no answer" when 32 tokens ran out before the
    # answer said anything either way (left out of the rates, counted beside them).
    assert sum(r["samples"] + r["no_answer"] for r in probe["rows"]) == 4
    assert not [c for c in probe["cells"] if c.get("error")]
    debate = record(nb.cells[4])
    answers = [a for r in debate["questions"][0]["rounds"] for a in r["answers"]]
    assert len(answers) == 4 and all(a["answer"].strip() and not a.get("error") for a in answers)
