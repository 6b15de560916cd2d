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


def test_a_cell_printing_100000_lines_leaves_the_kernel_responsive(kernel):
    """Lines are gathered into a few stream messages and a cell keeps its first 256 KB, with one
    note saying how much was left out; the next cell answers at once."""
    km, kc, home = kernel
    reply, msgs = run(kc, 'for i in 0..100_000 { println!("line {i}"); }', timeout=600)
    assert reply["content"]["status"] == "ok", all_text(msgs)[:2000]
    streams = [m for m in msgs if m["msg_type"] == "stream"]
    text = "".join(m["content"]["text"] for m in streams)
    assert text.startswith("line 0\nline 1\n")
    assert len(text.encode()) <= 256 * 1024
    assert len(streams) <= 50, len(streams)
    notes = [
        m["content"]["data"].get("text/markdown", "")
        for m in msgs
        if m["msg_type"] == "display_data"
    ]
    assert any("more line(s) of output" in n for n in notes), notes
    started = time.time()
    reply, msgs = run(kc, "40 + 2")
    assert result_text(msgs) == "42"
    assert time.time() - started < 5


def statuses(kc, ids, timeout=300):
    """The execute replies of `ids`, by request, in the order the kernel sent them."""
    replies = {}
    while len(replies) < len(ids):
        reply = kc.get_shell_msg(timeout=timeout)
        replies[reply["parent_header"]["msg_id"]] = reply["content"]["status"]
    return [replies[i] for i in ids]


def test_run_all_stops_at_a_failing_cell(kernel):
    km, kc, home = kernel
    run(kc, "let warm = 1;", timeout=600)
    # Run All: every request is sent at once; the ones queued behind the error are aborted.
    ids = [
        kc.execute("let a = 1;"),
        kc.execute('panic!("this cell fails")'),
        kc.execute("let b = 2;"),
        kc.execute(":help"),
    ]
    assert statuses(kc, ids) == ["ok", "error", "aborted", "aborted"]
    # A request sent after the failure runs at once (no waiting), with the earlier variables.
    reply, msgs = run(kc, "a")
    assert reply["content"]["status"] == "ok" and result_text(msgs) == "1", all_text(msgs)
    # stop_on_error=False (what "run the rest anyway" asks for) is respected.
    ids = [kc.execute('panic!("again")', stop_on_error=False), kc.execute("let c = 3; c")]
    assert statuses(kc, ids) == ["error", "ok"]


def test_run_all_stops_at_an_interrupted_cell(kernel):
    km, kc, home = kernel
    run(kc, "let warm = 1;", timeout=600)
    ids = [
        kc.execute("std::thread::sleep(std::time::Duration::from_secs(60));"),
        kc.execute("let b = 2;"),
        kc.execute(":models"),
    ]
    time.sleep(3)
    km.interrupt_kernel()
    assert statuses(kc, ids, timeout=60) == ["error", "aborted", "aborted"]
    reply, msgs = run(kc, "40 + 2", timeout=600)
    assert result_text(msgs) == "42", all_text(msgs)


def test_compile_errors_and_panics_read_as_errors_of_the_cell(kernel):
    """A compile error points at the student's own line (not evcxr's generated src/lib.rs); a
    panic fails the cell with its message and without evcxr's runner backtrace."""
    km, kc, home = kernel
    run(kc, "let warm = 1;", timeout=600)
    reply, msgs = run(kc, 'let n = 1;\nlet x: i32 = "a";')
    assert reply["content"]["status"] == "error"
    (error,) = [m["content"] for m in msgs if m["msg_type"] == "error"]
    text = "\n".join(error["traceback"])
    assert error["ename"] == "CompilationError" and "line 2 of the cell" in error["evalue"], error
    assert "line 2, column 14 of this cell" in text and '2 | let x: i32 = "a";' in text, text
    assert "^^^ expected `i32`, found `&str`" in text, text
    assert "src/lib.rs" not in text
    assert not [m for m in msgs if m["msg_type"] == "stream" and m["content"]["name"] == "stderr"]

    reply, msgs = run(kc, 'let v: Vec<i32> = Vec::new();\nv[3]')
    assert reply["content"]["status"] == "error"
    (error,) = [m["content"] for m in msgs if m["msg_type"] == "error"]
    assert error["ename"] == "Panic" and "index out of bounds" in error["evalue"], error
    stderr = "".join(m["content"]["text"] for m in msgs if m["msg_type"] == "stream")
    assert "panicked at" in stderr and "stack backtrace" not in stderr and "evcxr::runtime" not in stderr, stderr
    # A model call's error returned with `?` fails the cell (evcxr alone would report success).
    reply, msgs = run(kc, 'let a = chat("fine")?;\nlet b = Chat::new().model("no-such-model").user("x").send()?;')
    assert reply["content"]["status"] == "error"
    (error,) = [m["content"] for m in msgs if m["msg_type"] == "error"]
    assert error["ename"] == "ChatError" and "no-such-model" in error["evalue"], error
    # The kernel carries on, with the earlier variables.
    reply, msgs = run(kc, "warm + 1")
    assert result_text(msgs) == "2", all_text(msgs)


def test_a_rerun_with_the_same_seed_is_answered_from_the_cache(kernel, fake_server):
    km, kc, home = kernel
    cell = 'Chat::new().model("numbered-model").user("Cache me.").seed(5).send().unwrap()'
    reply, first = run(kc, cell, timeout=600)
    assert reply["content"]["status"] == "ok", all_text(first)
    asked = len(fake_server.requests)
    reply, again = run(kc, cell)
    assert result_text(again) == result_text(first)
    assert len(fake_server.requests) == asked, "the re-run reached the server"
    assert "1 from the response cache" in all_text(again)
    # Without a seed the model is asked again.
    reply, msgs = run(kc, 'Chat::new().model("numbered-model").user("Cache me.").send().unwrap()')
    assert len(fake_server.requests) == asked + 1


def test_without_a_rust_toolchain_magics_work_and_rust_cells_say_how_to_install_one(
    fake_server, tmp_path
):
    """A student who installed only the kernel: no cargo or rustc on PATH."""
    bare_path = "/usr/local/bin:/usr/bin:/bin"
    with kernel_env(
        ALIGNMENT_LAB_HOME=str(tmp_path), ALIGNMENT_LAB_MODEL="fake-model", PATH=bare_path
    ):
        km, kc = start_new_kernel(kernel_name="alignment-lab", startup_timeout=60)
    try:
        reply, msgs = run(kc, ":chat --seed 1\nHello")
        assert reply["content"]["status"] == "ok", all_text(msgs)
        reply, msgs = run(kc, "let x = 40 + 2;\nx")
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "NoRustToolchain"
        assert "rustup" in reply["content"]["evalue"]
        assert "magics" in reply["content"]["evalue"]
        reply, msgs = run(kc, ":rlhf-challenge reward-hacking --simulate")
        assert reply["content"]["status"] == "ok", all_text(msgs)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
