"""Model calls from Rust cells (issue 15, first part): every Rust cell has `chat`, `Chat`,
`chat_all`, `models`, `course_questions` and `grade` in scope with no setup; calls go through
the kernel's loopback endpoint to the session's backend (here the fake server), run
concurrently, stop when the cell is interrupted, and are written to the cell's run record."""

import json
import time

import pytest
from jupyter_client.manager import start_new_kernel

from kernel_env import kernel_env
from test_protocol import collect


@pytest.fixture
def kernel(fake_server, tmp_path):
    with kernel_env(ALIGNMENT_LAB_HOME=str(tmp_path), ALIGNMENT_LAB_MODEL="fake-model"):
        km, kc = start_new_kernel(kernel_name="alignment-lab", startup_timeout=60)
    yield km, kc, tmp_path
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def run(kc, code, timeout=240):
    msg_id = kc.execute(code)
    reply = kc.get_shell_msg(timeout=timeout)
    msgs = collect(kc, msg_id)
    return reply, msgs


def result_text(msgs):
    return "".join(
        m["content"]["data"].get("text/plain", "")
        for m in msgs
        if m["msg_type"] == "execute_result"
    )


def all_text(msgs):
    return json.dumps([m["content"] for m in msgs])


def test_rust_cells_call_the_sessions_model(kernel, fake_server):
    km, kc, home = kernel
    # The first Rust cell starts evcxr and builds the client crate: allow for a cold cache.
    reply, msgs = run(kc, 'let a = chat("Say hello.").unwrap();\na', timeout=600)
    assert reply["content"]["status"] == "ok", all_text(msgs)
    assert "Hello from the fake model." in result_text(msgs)
    # The cell keeps one line saying what was called, and the run record holds the call.
    assert "1 model call(s) to `fake-model`" in all_text(msgs)
    records = sorted((home / "runs").glob("cell-calls-*.json"))
    assert records, list((home / "runs").iterdir())
    call = json.loads(records[-1].read_text())["calls"][0]
    assert call["model"] == "fake-model" and call["messages"][0]["content"] == "Say hello."

    reply, msgs = run(
        kc,
        'let c = Chat::new().system("Be brief.").user("Hi").model("numbered-model").temperature(0.2).max_tokens(8).send().unwrap();\nc',
    )
    assert reply["content"]["status"] == "ok", all_text(msgs)
    assert "Stand-in answer #" in result_text(msgs)
    sent = fake_server.requests[-1]
    assert sent["model"] == "numbered-model" and sent["messages"][0]["role"] == "system"
    assert sent["temperature"] == 0.2 and sent["max_tokens"] == 8

    reply, msgs = run(kc, "models().unwrap()")
    assert "numbered-model" in result_text(msgs)

    reply, msgs = run(
        kc,
        'let qs = course_questions();\nlet g = grade(&qs[2], "They dry in parallel.\\nAnswer: 5 hours to dry 14 shirts").unwrap();\nformat!("{} {} | {}", qs.len(), g.is_correct(), g)',
    )
    assert reply["content"]["status"] == "ok", all_text(msgs)
    text = result_text(msgs)
    assert "5 true" in text and "5 hours" in text, text


def test_chat_all_is_concurrent_and_an_interrupt_cancels_it(kernel, fake_server):
    km, kc, home = kernel
    reply, msgs = run(kc, 'chat("warm up").unwrap()', timeout=600)
    assert reply["content"]["status"] == "ok", all_text(msgs)

    msg_id = kc.execute(
        'let r = chat_all(vec![Chat::new().model("slow-model").user("one"), Chat::new().model("slow-model").user("two")]);\nr.is_ok()'
    )
    deadline = time.time() + 60
    while fake_server.open_streams < 2 and time.time() < deadline:
        time.sleep(0.05)
    # Both requests are at the server at once: served concurrently, not one after the other.
    assert fake_server.open_streams == 2, fake_server.open_streams
    time.sleep(0.5)
    started = time.time()
    km.interrupt_kernel()
    reply = kc.get_shell_msg(timeout=30)
    collect(kc, msg_id)
    assert reply["content"]["status"] == "error"
    assert time.time() - started < 10
    # The kernel cancelled both upstream requests.
    deadline = time.time() + 10
    while fake_server.open_streams and time.time() < deadline:
        time.sleep(0.1)
    assert fake_server.open_streams == 0

    # The next cell works (evcxr restarted its process; the client is in scope again).
    reply, msgs = run(kc, 'chat("again").unwrap()', timeout=600)
    assert reply["content"]["status"] == "ok", all_text(msgs)
    assert "Hello from the fake model." in result_text(msgs)


def test_any_openai_client_can_use_the_endpoint(kernel, fake_server):
    """The endpoint `:endpoint` shows answers the openai package, streamed and not, with the token."""
    from openai import OpenAI, AuthenticationError

    km, kc, home = kernel
    reply, msgs = run(kc, ":endpoint")
    record = [
        m["content"]["metadata"]["alignment_lab"]
        for m in msgs
        if m["msg_type"] == "display_data" and "alignment_lab" in m["content"].get("metadata", {})
    ][-1]
    url = record["url"]
    token = [
        line.split()[-1]
        for m in msgs
        if m["msg_type"] == "display_data"
        for line in m["content"]["data"]["text/plain"].splitlines()
        if line.startswith("token:")
    ][0]
    client = OpenAI(base_url=url, api_key=token)
    answer = client.chat.completions.create(
        model="", messages=[{"role": "user", "content": "Hi"}]
    )
    assert answer.choices[0].message.content == "Hello from the fake model."
    pieces = client.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in pieces if c.choices) == "Hello from the fake model."
    with pytest.raises(AuthenticationError):
        OpenAI(base_url=url, api_key="wrong").chat.completions.create(
            model="", messages=[{"role": "user", "content": "Hi"}]
        )
