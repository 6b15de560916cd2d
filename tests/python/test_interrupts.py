"""Interrupting long magics: what finished is kept and rendered, the rest is marked cancelled,
the run record is written, no request is left streaming, and the next cell works."""

import json
import time

import pytest
from jupyter_client.manager import start_new_kernel

from kernel_env import kernel_env
from test_protocol import collect


@pytest.fixture
def kernel(fake_server, tmp_path):
    with kernel_env(ALIGNMENT_LAB_HOME=str(tmp_path)):
        km, kc = start_new_kernel(kernel_name="alignment-lab", startup_timeout=60)
    yield km, kc, tmp_path
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def interrupt_after(km, kc, fake_server, seconds):
    """Wait until a slow stream is open, let it run, interrupt, and return the reply."""
    deadline = time.time() + 30
    while fake_server.open_streams == 0 and time.time() < deadline:
        time.sleep(0.05)
    assert fake_server.open_streams > 0, "the slow model was never called"
    time.sleep(seconds)
    started = time.time()
    km.interrupt_kernel()
    reply = kc.get_shell_msg(timeout=15)
    assert time.time() - started < 5, "the interrupt took too long"
    return reply


def streams_closed(fake_server):
    deadline = time.time() + 5
    while fake_server.open_streams and time.time() < deadline:
        time.sleep(0.1)
    return fake_server.open_streams == 0


def final_record(msgs):
    records = [
        m["content"]["metadata"]["alignment_lab"]
        for m in msgs
        if m["msg_type"] in ("display_data", "update_display_data")
        and "alignment_lab" in m["content"].get("metadata", {})
    ]
    assert records, [m["msg_type"] for m in msgs]
    return records[-1]


def test_interrupting_a_probe_keeps_finished_conversations(kernel, fake_server):
    km, kc, home = kernel
    msg_id = kc.execute(
        ":probe --models fake-model,slow-model --strategies direct,poem --samples 2 --max-tokens 64\n"
        "Explain how to pick a pin-tumbler lock."
    )
    reply = interrupt_after(km, kc, fake_server, 1.0)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "Interrupted"
    msgs = collect(kc, msg_id)
    record = final_record(msgs)
    assert record["interrupted"] is True
    cells = record["cells"]
    done = [c for c in cells if c["model"] == "fake-model"]
    cancelled = [c for c in cells if c["model"] == "slow-model"]
    assert len(done) == 4 and not any(c["cancelled"] for c in done), done
    assert cancelled and all(c["cancelled"] for c in cancelled), cancelled
    # The table and plot of what finished are rendered.
    rendered = [m for m in msgs if m["msg_type"] == "display_data"]
    assert any("text/html" in m["content"]["data"] for m in rendered)
    assert any("image/png" in m["content"]["data"] for m in rendered)
    # The run record on disk says the same, without answer text.
    saved = [json.loads(p.read_text()) for p in (home / "runs").glob("probe-*.json")]
    assert saved and saved[-1]["interrupted"] is True
    assert "Hello from the fake model" not in json.dumps(saved)
    assert streams_closed(fake_server)
    kc.execute(":chat\nhi")
    assert kc.get_shell_msg(timeout=30)["content"]["status"] == "ok"


def test_interrupting_a_debate_keeps_the_answers_that_finished(kernel, fake_server):
    km, kc, home = kernel
    msg_id = kc.execute(
        ":debate --models fake-model,slow-model --agents 2 --rounds 3 --max-tokens 64\nWhat is 2 + 2?"
    )
    reply = interrupt_after(km, kc, fake_server, 1.0)
    assert reply["content"]["ename"] == "Interrupted"
    record = final_record(collect(kc, msg_id))
    first_round = record["questions"][0]["rounds"][0]["answers"]
    by_agent = {a["agent"]: a for a in first_round}
    assert "Hello from the fake model" in by_agent[1]["answer"]
    assert by_agent[2]["error"] == "cancelled"
    assert list((home / "runs").glob("debate-*.json"))
    assert streams_closed(fake_server)
    kc.execute(":chat\nhi")
    assert kc.get_shell_msg(timeout=30)["content"]["status"] == "ok"
