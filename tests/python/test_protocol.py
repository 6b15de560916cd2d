"""Message-level checks with jupyter_client: ordering, execution counts, interrupts."""

import time

import pytest
from jupyter_client.manager import start_new_kernel


@pytest.fixture
def kernel(fake_server):
    km, kc = start_new_kernel(kernel_name="alignment-lab", startup_timeout=60)
    yield km, kc
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def collect(kc, msg_id, timeout=60):
    """All iopub messages of one request, up to its idle status."""
    msgs = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        msg = kc.get_iopub_msg(timeout=deadline - time.time())
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        msgs.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return msgs
    raise AssertionError("no idle status")


def test_busy_input_outputs_idle_and_counts(kernel):
    _, kc = kernel
    msg_id = kc.execute(":help")
    reply = kc.get_shell_msg(timeout=30)
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"]["status"] == "ok"
    types = [m["msg_type"] for m in collect(kc, msg_id)]
    assert types[0] == "status" and types[1] == "execute_input"
    assert "display_data" in types and types[-1] == "status"
    first = reply["content"]["execution_count"]

    # silent and store_history=False requests do not move the count.
    kc.execute(":help", silent=True)
    assert kc.get_shell_msg(timeout=30)["content"]["status"] == "ok"
    kc.execute(":help", store_history=False)
    assert kc.get_shell_msg(timeout=30)["content"]["execution_count"] == first
    kc.execute(":help")
    assert kc.get_shell_msg(timeout=30)["content"]["execution_count"] == first + 1


def test_error_is_one_error_message_and_an_error_reply(kernel):
    _, kc = kernel
    msg_id = kc.execute(":chat --samples -1\nhi")
    reply = kc.get_shell_msg(timeout=30)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "UsageError"
    errors = [m for m in collect(kc, msg_id) if m["msg_type"] == "error"]
    assert len(errors) == 1


def test_interrupt_keeps_partial_answer_and_kernel_lives(kernel, fake_server):
    km, kc = kernel
    msg_id = kc.execute(":chat --model slow-model\nCount slowly.")
    time.sleep(2.0)
    started = time.time()
    km.interrupt_kernel()
    reply = kc.get_shell_msg(timeout=15)
    assert time.time() - started < 5
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "Interrupted"
    msgs = collect(kc, msg_id)
    updates = [m for m in msgs if m["msg_type"] == "update_display_data"]
    final = updates[-1]["content"]
    assert "word0" in final["data"]["text/markdown"]
    assert final["metadata"]["alignment_lab"]["interrupted"] is True
    # The in-flight HTTP stream was dropped.
    deadline = time.time() + 5
    while fake_server.open_streams and time.time() < deadline:
        time.sleep(0.1)
    assert fake_server.open_streams == 0

    kc.execute(":help")
    assert kc.get_shell_msg(timeout=30)["content"]["status"] == "ok"


def test_shutdown(kernel):
    km, kc = kernel
    kc.shutdown()
    deadline = time.time() + 10
    while km.is_alive() and time.time() < deadline:
        time.sleep(0.1)
    assert not km.is_alive()
