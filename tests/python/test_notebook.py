"""A notebook mixing Rust cells, evcxr commands, :chat and a bad flag, run with nbclient."""

import os

import nbformat
from nbclient import NotebookClient

from kernel_env import kernel_env

HERE = os.path.dirname(__file__)


def test_smoke_notebook(fake_server, tmp_path):
    nb = nbformat.read(os.path.join(HERE, "..", "notebooks", "smoke.ipynb"), as_version=4)
    client = NotebookClient(nb, kernel_name="alignment-lab", timeout=300, startup_timeout=60)
    client.execute()
    nbformat.write(nb, tmp_path / "smoke.executed.ipynb")
    cells = [c for c in nb.cells if c.cell_type == "code"]

    # Rust: the execute_result of `x` is 42.
    result = [o for o in cells[0].outputs if o.output_type == "execute_result"]
    assert result and result[0].data["text/plain"] == "42", cells[0].outputs

    # evcxr's :vars still works and shows x.
    assert "x" in str(cells[1].outputs), cells[1].outputs

    # :dep then use the crate.
    stdout = "".join(o.get("text", "") for o in cells[3].outputs if o.output_type == "stream")
    assert "84" in stdout, cells[3].outputs

    # :chat stores text/plain + text/markdown, and the saved state is the final one.
    chat = [o for o in cells[4].outputs if o.output_type == "display_data"]
    assert len(chat) == 1, cells[4].outputs
    data = chat[0].data
    assert "Hello from the fake model." in data["text/markdown"]
    assert "Hello from the fake model." in data["text/plain"]
    meta = chat[0].metadata["alignment_lab"]
    assert meta["kind"] == "chat" and meta["model"] == "fake-model"
    assert meta["backend"]["kind"] == "openai"
    assert meta["parameters"]["seed"] == 3

    # A bad flag: one error output naming the flag and the suggestion ...
    errors = [o for o in cells[5].outputs if o.output_type == "error"]
    assert len(errors) == 1, cells[5].outputs
    assert errors[0].ename == "UsageError"
    assert "--temperature" in errors[0].evalue

    # ... and the next cell still runs.
    assert any(o.output_type == "display_data" for o in cells[6].outputs), cells[6].outputs


def test_embedded_model_answers_without_a_server(tmp_path):
    """No server configured: the kernel runs SmolLM2 in-process and says so in the metadata."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(":chat --seed 7 --temperature 0 --max-tokens 24\nName a fruit."),
        nbformat.v4.new_code_cell(":rlhf-challenge robust-rl --simulate"),
        nbformat.v4.new_code_cell(":rlhf-challenge"),
    ]
    with kernel_env(ALIGNMENT_LAB_BASE_URL=None, ALIGNMENT_LAB_MODEL=None, ALIGNMENT_LAB_BACKEND="embedded"):
        NotebookClient(nb, kernel_name="alignment-lab", timeout=300, startup_timeout=60).execute()
    chat = [o for o in nb.cells[0].outputs if o.output_type == "display_data"][0]
    meta = chat.metadata["alignment_lab"]
    assert meta["backend"]["kind"] == "embedded"
    assert meta["model"] == "SmolLM2-135M-Instruct.Q4_1"
    assert meta["usage"]["completion_tokens"] > 0
    assert meta["answer"].strip()
    plots = [o for o in nb.cells[1].outputs if "image/png" in o.get("data", {})]
    assert plots, nb.cells[1].outputs

    # The export students hand in: nbconvert HTML keeps the plot and the table, with no errors.
    from nbconvert import HTMLExporter

    html, _ = HTMLExporter().from_notebook_node(nb)
    assert "data:image/png" in html
    assert "<table" in html and "reward-hacking" in html
    assert not [o for c in nb.cells for o in c.outputs if o.output_type == "error"]
    (tmp_path / "embedded.html").write_text(html)
