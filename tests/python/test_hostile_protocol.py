"""Hostile and broken frontends on the wire (issue #8, part 3).

Raw multipart messages are sent to the shell socket with pyzmq: bad or foreign signatures,
truncated frames, garbage headers, unknown message types and oversized messages. Each must be
dropped without being executed and leave a line in the kernel's log (its stderr, at the default
log level), and afterwards a valid kernel_info_request and execute_request must still work.

"Never executed" is checked with a side effect: the hostile request is a `:chat` cell whose body
(the prompt) is a unique marker; if it ran, it would publish `busy`/`execute_input`/displays parented to it and send the marker to
the fake model server. Follow-up requests go through the same DEALER socket as the hostile one, so
the kernel sees them after it (ZeroMQ keeps one peer's messages in order) and by the time the
follow-up's outputs are in, anything the hostile message caused would already be visible.

Also: every listening socket of the kernel is on the connection file's IP and ports, and a
frontend can disconnect and reconnect (a new client on the same connection file) and go on.
"""

import datetime
import hashlib
import hmac
import json
import os
import socket
import struct
import subprocess
import time
import urllib.parse
import uuid

import psutil
import pytest
import zmq
from jupyter_client import BlockingKernelClient, KernelManager

from kernel_env import installed_binary, kernel_env

DELIM = b"<IDS|MSG>"
FAKE_ANSWER = "Hello from the fake model."
TIMEOUT = 30


# --- building and reading raw messages -------------------------------------------------------


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def sign(key, parts, digestmod=hashlib.sha256):
    mac = hmac.new(key, digestmod=digestmod)
    for part in parts:
        mac.update(part)
    return mac.hexdigest().encode()


def execute_content(code, **extra):
    content = {
        "code": code,
        "silent": False,
        "store_history": True,
        "user_expressions": {},
        "allow_stdin": False,
        "stop_on_error": True,
    }
    content.update(extra)
    return content


def json_parts(msg_type, content, msg_id, session, parent=None, metadata=None):
    """The four signed frames: header, parent_header, metadata, content."""
    header = {
        "msg_id": msg_id,
        "username": "hostile-test",
        "session": session,
        "date": now(),
        "msg_type": msg_type,
        "version": "5.3",
    }
    return [
        json.dumps(header).encode(),
        json.dumps(parent or {}).encode(),
        json.dumps(metadata or {}).encode(),
        json.dumps(content).encode(),
    ]


def new_marker():
    return f"hostile-marker-{uuid.uuid4().hex[:12]}"


# --- a kernel with a raw DEALER on its shell port and a jupyter_client client for iopub ----------


def kernel_binary():
    return installed_binary()


class Lab:
    """One kernel started through KernelManager with its stderr in a file."""

    def __init__(self, tmp_dir):
        self.stderr_path = os.path.join(tmp_dir, f"kernel-{uuid.uuid4().hex[:8]}.stderr")
        self.stderr_file = open(self.stderr_path, "wb")
        self.km = KernelManager(kernel_name="alignment-lab")
        # The default log level (warn) is what users run with: drops must show up there.
        with kernel_env(ALIGNMENT_LAB_LOG=None):
            self.km.start_kernel(stderr=self.stderr_file)
        self.pid = self.km.provisioner.process.pid
        self.info = self.km.get_connection_info(session=False)
        self.key = self.info["key"]
        if isinstance(self.key, str):
            self.key = self.key.encode()
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=TIMEOUT)
        self.session = str(uuid.uuid4())
        self.ctx = zmq.Context.instance()
        self.dealer = self.new_dealer()
        self.replies = []  # every reply read from self.dealer, in arrival order
        # Warm up the raw socket: it is connected and answered before anything hostile is sent.
        self.expect_reply(self.send("kernel_info_request", {}))

    def new_dealer(self):
        dealer = self.ctx.socket(zmq.DEALER)
        dealer.linger = 0
        dealer.connect(f"tcp://{self.info['ip']}:{self.info['shell_port']}")
        return dealer

    # sending

    def parts(self, msg_type, content, msg_id=None):
        return json_parts(msg_type, content, msg_id or str(uuid.uuid4()), self.session)

    def send_raw(self, frames):
        self.dealer.send_multipart(frames, copy=False)

    def send(self, msg_type, content):
        msg_id = str(uuid.uuid4())
        parts = self.parts(msg_type, content, msg_id)
        self.send_raw([DELIM, sign(self.key, parts), *parts])
        return msg_id

    # receiving

    def alive(self):
        return psutil.pid_exists(self.pid) and self.km.is_alive()

    def log_lines(self):
        self.stderr_file.flush()
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace").splitlines()

    def diagnostics(self):
        lines = self.log_lines()
        shown = lines if len(lines) <= 20 else lines[:5] + ["..."] + lines[-15:]
        status = "alive" if self.alive() else f"DEAD (exit code {self.km.provisioner.process.poll()})"
        return f"kernel {status}; stderr:\n" + "\n".join(shown)

    def expect_reply(self, msg_id, timeout=TIMEOUT):
        """Read replies from the raw DEALER until the one to msg_id; keep all of them."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.dealer.poll(int(min(0.5, deadline - time.time()) * 1000) + 1):
                if not self.alive():
                    break
                continue
            frames = self.dealer.recv_multipart()
            i = frames.index(DELIM)
            signature, parts = frames[i + 1], frames[i + 2 : i + 6]
            assert hmac.compare_digest(signature, sign(self.key, parts)), "reply badly signed"
            header, parent, metadata, content = (json.loads(p) for p in parts)
            reply = {"header": header, "parent_header": parent, "metadata": metadata, "content": content}
            self.replies.append(reply)
            if parent.get("msg_id") == msg_id:
                return reply
        raise AssertionError(f"no reply to {msg_id} within {timeout} s; {self.diagnostics()}")

    def drain_iopub(self):
        while True:
            try:
                self.kc.get_iopub_msg(timeout=0.2)
            except Exception:
                return

    def iopub_until_idle(self, msg_id, timeout=TIMEOUT):
        """Every iopub message (of any parent) up to the idle status of msg_id."""
        msgs = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                msg = self.kc.get_iopub_msg(timeout=min(0.5, max(0.01, deadline - time.time())))
            except Exception:
                if not self.alive():
                    break
                continue
            msgs.append(msg)
            if (
                msg["parent_header"].get("msg_id") == msg_id
                and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"
            ):
                return msgs
        raise AssertionError(f"no idle status for {msg_id}; {self.diagnostics()}")

    def close(self):
        self.dealer.close(linger=0)
        try:
            self.kc.stop_channels()
        finally:
            if self.km.is_alive():
                self.km.shutdown_kernel(now=True)
            else:
                self.km.cleanup_resources()
            self.stderr_file.close()


@pytest.fixture(scope="module")
def shared(fake_server, tmp_path_factory):
    """One kernel for the small hostile messages: it must live on through all of them. If a test
    kills it, the next test gets a fresh one, so one crash fails one test."""
    tmp = tmp_path_factory.mktemp("hostile")
    box = {"lab": None}

    def get():
        lab = box["lab"]
        if lab is None or not lab.alive():
            if lab is not None:
                lab.close()
            box["lab"] = lab = Lab(str(tmp))
        return lab

    yield get
    if box["lab"] is not None:
        box["lab"].close()


@pytest.fixture
def lab(shared):
    return shared()


@pytest.fixture
def fresh_lab(fake_server, tmp_path):
    """A kernel of its own, for tests that may kill it or leave it with a large heap."""
    lab = Lab(str(tmp_path))
    yield lab
    lab.close()


# --- the check run after every hostile message -------------------------------------------------


def assert_dropped(
    lab,
    fake_server,
    frames,
    *,
    hostile_id=None,
    marker=None,
    allow_status=False,
    require_log=True,
    timeout=TIMEOUT,
):
    """Send `frames` to the shell socket, then a valid kernel_info_request and a valid
    `:chat` (body `hi`), all through the same DEALER. The hostile message must leave no trace but a log
    line; the valid requests must be answered as usual."""
    lab.drain_iopub()
    log_before = len(lab.log_lines())
    requests_before = len(fake_server.requests)
    replies_before = len(lab.replies)

    lab.send_raw(frames)
    info_id = lab.send("kernel_info_request", {})
    info = lab.expect_reply(info_id, timeout)
    exec_id = lab.send("execute_request", execute_content(":chat\nhi"))
    reply = lab.expect_reply(exec_id, timeout)
    iopub = lab.iopub_until_idle(exec_id, timeout)

    # The kernel lives on and answers.
    assert info["header"]["msg_type"] == "kernel_info_reply"
    assert info["content"]["status"] == "ok"
    assert reply["header"]["msg_type"] == "execute_reply"
    assert reply["content"]["status"] == "ok", reply["content"]
    outputs = [m for m in iopub if m["parent_header"].get("msg_id") == exec_id]
    assert any(FAKE_ANSWER in json.dumps(m["content"]) for m in outputs), [
        m["msg_type"] for m in outputs
    ]

    # The hostile message was not executed: the model server saw only the follow-up `:chat` ...
    new_requests = fake_server.requests[requests_before:]
    if marker is not None:
        assert not any(marker in json.dumps(r) for r in new_requests), "the hostile :chat ran"
    assert len(new_requests) == 1, f"expected only the follow-up's request, got {len(new_requests)}"
    # ... it got no reply ...
    stray = [
        r for r in lab.replies[replies_before:] if r["parent_header"].get("msg_id") not in (info_id, exec_id)
    ]
    assert stray == [], f"the kernel replied to the hostile message: {stray}"
    # ... nothing on iopub (an unknown type may get busy/idle, as ipykernel does) ...
    ours = (info_id, exec_id)
    foreign = [m for m in iopub if m["parent_header"].get("msg_id") not in ours]
    if allow_status:
        foreign = [m for m in foreign if m["msg_type"] != "status"]
    assert foreign == [], "iopub traffic for the hostile message: " + repr(
        [(m["msg_type"], m["parent_header"].get("msg_id"), m["content"]) for m in foreign]
    )
    if hostile_id is not None:
        assert not any(
            m["parent_header"].get("msg_id") == hostile_id and m["msg_type"] != "status"
            for m in iopub
        )

    if not require_log:
        return []
    # The drop is logged.
    deadline = time.time() + 2
    new_lines = []
    while time.time() < deadline:
        new_lines = [line for line in lab.log_lines()[log_before:] if line.strip()]
        if new_lines:
            break
        time.sleep(0.05)
    print("kernel log:", *new_lines, sep="\n  ")
    assert new_lines, "the kernel logged nothing about the dropped message (default log level)"
    return new_lines


# --- baseline ----------------------------------------------------------------------------------


def test_valid_requests_log_nothing_and_the_side_effect_is_visible(lab, fake_server):
    """Baselines for the checks below: valid traffic adds no log line at the default level, and
    a validly signed `:chat` with a marker body does show up (execute_input, the marker at the
    fake server), so the "never executed" checks would see a hostile message that ran."""
    lab.drain_iopub()
    log_before = len(lab.log_lines())
    requests_before = len(fake_server.requests)
    lab.expect_reply(lab.send("kernel_info_request", {}))
    marker = new_marker()
    exec_id = lab.send("execute_request", execute_content(f":chat\n{marker}"))
    assert lab.expect_reply(exec_id)["content"]["status"] == "ok"
    outputs = lab.iopub_until_idle(exec_id)
    assert any(FAKE_ANSWER in json.dumps(m["content"]) for m in outputs)
    assert "execute_input" in [m["msg_type"] for m in outputs]
    new_requests = fake_server.requests[requests_before:]
    assert len(new_requests) == 1 and marker in json.dumps(new_requests[0])
    time.sleep(0.2)
    assert lab.log_lines()[log_before:] == []


# --- signatures ----------------------------------------------------------------------------------


BAD_SIGNATURES = {
    "wrong-key": lambda key, parts: sign(b"not-the-key-" + key, parts),
    "signature-of-other-content": lambda key, parts: sign(
        key, parts[:3] + [json.dumps(execute_content(":help")).encode()]
    ),
    "empty": lambda key, parts: b"",
    "not-hex": lambda key, parts: b"zz" * 32,
    "truncated": lambda key, parts: sign(key, parts)[:32],
    "sha256-of-header-only": lambda key, parts: sign(key, parts[:1]),
}


@pytest.mark.parametrize("kind", sorted(BAD_SIGNATURES))
def test_bad_signature_is_dropped(lab, fake_server, kind):
    marker = new_marker()
    msg_id = str(uuid.uuid4())
    parts = lab.parts("execute_request", execute_content(f":chat\n{marker}"), msg_id)
    frames = [DELIM, BAD_SIGNATURES[kind](lab.key, parts), *parts]
    assert_dropped(lab, fake_server, frames, hostile_id=msg_id, marker=marker)


@pytest.mark.parametrize("scheme", ["sha1", "md5", "sha512", "sha224"])
def test_other_signature_scheme_is_dropped(lab, fake_server, scheme):
    """The connection file says hmac-sha256; a correct HMAC with another hash is not accepted."""
    assert lab.info["signature_scheme"] == "hmac-sha256"
    marker = new_marker()
    msg_id = str(uuid.uuid4())
    parts = lab.parts("execute_request", execute_content(f":chat\n{marker}"), msg_id)
    frames = [DELIM, sign(lab.key, parts, getattr(hashlib, scheme)), *parts]
    assert_dropped(lab, fake_server, frames, hostile_id=msg_id, marker=marker)


# --- truncated frames ---------------------------------------------------------------------------


def truncated(key, parts, keep):
    kept = [parts[i] for i in keep]
    return [DELIM, sign(key, kept), *kept]


TRUNCATIONS = {
    # Each is signed correctly over the frames it has, so only the framing is wrong.
    "only-delimiter": lambda key, parts: [DELIM],
    "delimiter-and-signature": lambda key, parts: [DELIM, sign(key, [])],
    "header-only": lambda key, parts: truncated(key, parts, [0]),
    "missing-content": lambda key, parts: truncated(key, parts, [0, 1, 2]),
    "missing-parent-header": lambda key, parts: truncated(key, parts, [0, 2, 3]),
    "missing-metadata": lambda key, parts: truncated(key, parts, [0, 1, 3]),
    "no-delimiter": lambda key, parts: [sign(key, parts), *parts],
    "identities-but-no-delimiter": lambda key, parts: [b"id-1", b"id-2", sign(key, parts), *parts],
}


@pytest.mark.parametrize("kind", sorted(TRUNCATIONS))
def test_truncated_message_is_dropped(lab, fake_server, kind):
    marker = new_marker()
    msg_id = str(uuid.uuid4())
    parts = lab.parts("execute_request", execute_content(f":chat\n{marker}"), msg_id)
    assert_dropped(lab, fake_server, TRUNCATIONS[kind](lab.key, parts), hostile_id=msg_id, marker=marker)


# --- garbage headers and content ------------------------------------------------------------------


GARBAGE_HEADERS = {
    "not-json": b"\x00\xff{{{ this is not json",
    "truncated-json": b'{"msg_id": "x", "msg_type": "execute_requ',
    "json-array": b'["execute_request"]',
    "json-string": b'"execute_request"',
    "missing-fields": b'{"msg_type": "execute_request"}',
    "wrong-types": b'{"msg_id": 1, "username": [], "session": {}, "date": 5, '
    b'"msg_type": "execute_request", "version": null}',
}


@pytest.mark.parametrize("kind", sorted(GARBAGE_HEADERS))
def test_garbage_header_is_dropped(lab, fake_server, kind):
    """Signed correctly (the key holder sent it), but the header is not a Jupyter header."""
    marker = new_marker()
    parts = lab.parts("execute_request", execute_content(f":chat\n{marker}"))
    parts[0] = GARBAGE_HEADERS[kind]
    assert_dropped(lab, fake_server, [DELIM, sign(lab.key, parts), *parts], marker=marker)


@pytest.mark.parametrize(
    "content",
    [b"not json at all", b'{"silent": false}', b'{"code": 42}', b"[]"],
    ids=["not-json", "no-code", "code-not-a-string", "array"],
)
def test_garbage_execute_content_is_dropped(lab, fake_server, content):
    msg_id = str(uuid.uuid4())
    parts = lab.parts("execute_request", {}, msg_id)
    parts[3] = content
    assert_dropped(lab, fake_server, [DELIM, sign(lab.key, parts), *parts], hostile_id=msg_id)


# --- unknown message types ----------------------------------------------------------------------


UNKNOWN_TYPES = ["foo_request", "execute_reply", ""]


def unknown_type_frames(lab, msg_type, marker, msg_id):
    parts = lab.parts(msg_type, execute_content(f":chat\n{marker}"), msg_id)
    return [DELIM, sign(lab.key, parts), *parts]


@pytest.mark.parametrize("msg_type", UNKNOWN_TYPES)
def test_unknown_message_type_is_not_executed(lab, fake_server, msg_type):
    """Correctly signed, but nothing the shell channel handles. The content looks like an
    execute_request's, to show it is not run as one. busy/idle around it is allowed (ipykernel
    publishes them too); a reply, execute_input or outputs are not. (The log line is checked
    separately below.)"""
    marker = new_marker()
    msg_id = str(uuid.uuid4())
    frames = unknown_type_frames(lab, msg_type, marker, msg_id)
    assert_dropped(
        lab, fake_server, frames, hostile_id=msg_id, marker=marker, allow_status=True, require_log=False
    )


@pytest.mark.parametrize("msg_type", UNKNOWN_TYPES)
def test_unknown_message_type_is_logged(lab, fake_server, msg_type):
    marker = new_marker()
    msg_id = str(uuid.uuid4())
    frames = unknown_type_frames(lab, msg_type, marker, msg_id)
    lines = assert_dropped(lab, fake_server, frames, hostile_id=msg_id, marker=marker, allow_status=True)
    if msg_type:
        assert any(msg_type in line for line in lines), lines


# --- oversized messages ---------------------------------------------------------------------------


OVERSIZED_BYTES = 64 * 1024 * 1024


def test_oversized_message_is_dropped(fresh_lab, fake_server):
    """A validly signed execute_request whose content frame is 64 MiB (the padding sits in
    user_expressions, a legitimate field the kernel ignores) is refused, not run."""
    lab = fresh_lab
    marker = new_marker()
    msg_id = str(uuid.uuid4())
    pad = "x" * OVERSIZED_BYTES
    parts = lab.parts("execute_request", execute_content(f":chat\n{marker}", user_expressions={"pad": pad}), msg_id)
    del pad
    assert len(parts[3]) > OVERSIZED_BYTES
    frames = [DELIM, sign(lab.key, parts), *parts]
    del parts
    try:
        assert_dropped(lab, fake_server, frames, hostile_id=msg_id, marker=marker, timeout=45)
    finally:
        rss = psutil.Process(lab.pid).memory_info().rss if lab.alive() else None
        print(f"kernel RSS after the oversized message: {rss and rss // 2**20} MiB")


def zmtp_connect_dealer(ip, port):
    """A bare TCP connection that completes the ZMTP 3.0 NULL handshake as a DEALER."""
    s = socket.create_connection((ip, port), timeout=5)
    greeting = b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\x00")
    greeting += b"\x00" + b"\x00" * 31
    assert len(greeting) == 64
    s.sendall(greeting)
    body = b"\x05READY" + b"\x0bSocket-Type" + struct.pack(">I", 6) + b"DEALER"
    s.sendall(bytes([0x04, len(body)]) + body)
    got = b""
    while len(got) < 64 + 2:  # the peer's greeting and the start of its READY
        chunk = s.recv(4096)
        assert chunk, "the kernel closed the connection during the handshake"
        got += chunk
    assert got[0] == 0xFF and got[9] == 0x7F
    return s


def test_frame_declaring_a_huge_length_does_not_kill_the_kernel(fresh_lab, fake_server):
    """A peer that completes the handshake (no key needed) and sends one frame header announcing
    a 1 TiB body. The kernel must not try to reserve that memory up front, and must go on
    serving other frontends."""
    lab = fresh_lab
    s = zmtp_connect_dealer(lab.info["ip"], lab.info["shell_port"])
    try:
        s.sendall(b"\x02" + struct.pack(">Q", 1 << 40) + b"x" * 4096)  # long frame, no MORE
        time.sleep(1.0)
        assert lab.alive(), "a 9-byte frame header killed the kernel: " + lab.diagnostics()
        rss = psutil.Process(lab.pid).memory_info().rss
        assert rss < 1 << 30, f"kernel RSS {rss // 2**20} MiB after one frame header"
        # Other frontends are still served while that connection hangs.
        info_id = lab.send("kernel_info_request", {})
        assert lab.expect_reply(info_id)["content"]["status"] == "ok"
        exec_id = lab.send("execute_request", execute_content(":chat\nhi"))
        assert lab.expect_reply(exec_id)["content"]["status"] == "ok"
        outputs = lab.iopub_until_idle(exec_id)
        assert any(FAKE_ANSWER in json.dumps(m["content"]) for m in outputs)
    finally:
        s.close()
    time.sleep(0.3)
    assert lab.alive(), lab.diagnostics()


# --- sockets bind only to the connection file's address ------------------------------------------


def free_ports(ip, n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind((ip, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def listening(pid):
    """(ip, port) of every TCP socket in LISTEN of the process and its children."""
    proc = psutil.Process(pid)
    out = set()
    for p in [proc, *proc.children(recursive=True)]:
        conns = p.net_connections(kind="inet") if hasattr(p, "net_connections") else p.connections(kind="inet")
        out |= {(c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN}
    return out


@pytest.mark.parametrize("ip", ["127.0.0.1", "127.0.0.2"])
def test_sockets_bind_only_to_the_connection_file_address(fake_server, tmp_path, ip):
    """The kernel launched on a connection file listens on exactly its five ports at its IP, and
    on one more: the token-guarded endpoint for Rust cells, on 127.0.0.1 only, at the address
    `:endpoint` names. 127.0.0.2 (also loopback on Linux) shows the Jupyter address comes from
    the file, not a default."""
    ports = free_ports(ip, 5)
    names = ["shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"]
    conn = dict(zip(names, ports))
    conn.update(ip=ip, transport="tcp", key=uuid.uuid4().hex, signature_scheme="hmac-sha256",
                kernel_name="alignment-lab")
    conn_file = tmp_path / "kernel.json"
    conn_file.write_text(json.dumps(conn))
    stderr_path = tmp_path / "kernel.stderr"
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen(
            [kernel_binary(), "kernel", "--connection-file", str(conn_file)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
        )
    kc = BlockingKernelClient()
    try:
        kc.load_connection_file(str(conn_file))
        kc.start_channels()
        kc.wait_for_ready(timeout=TIMEOUT)
        # Exercise the kernel a little first (the HTTP client, the output path), then look.
        msg_id = kc.execute(":chat\nhi")
        reply = kc.get_shell_msg(timeout=TIMEOUT)
        assert reply["parent_header"]["msg_id"] == msg_id and reply["content"]["status"] == "ok"
        msg_id = kc.execute(":endpoint")
        reply = kc.get_shell_msg(timeout=TIMEOUT)
        assert reply["content"]["status"] == "ok"
        endpoint = None
        while endpoint is None:
            msg = kc.get_iopub_msg(timeout=TIMEOUT)
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "display_data":
                endpoint = urllib.parse.urlparse(msg["content"]["metadata"]["alignment_lab"]["url"])
        assert endpoint.hostname == "127.0.0.1"
        found = listening(proc.pid)
        expected = {(ip, p) for p in ports} | {("127.0.0.1", endpoint.port)}
        assert found == expected, f"listening on {sorted(found)}, expected {sorted(expected)}"
    finally:
        kc.stop_channels()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- disconnect and reconnect ------------------------------------------------------------------


def run_chat(kc):
    msg_id = kc.execute(":chat\nhi")
    deadline = time.time() + TIMEOUT
    while True:
        reply = kc.get_shell_msg(timeout=max(0.1, deadline - time.time()))
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    assert reply["content"]["status"] == "ok", reply["content"]
    outputs = []
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.1, deadline - time.time()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        outputs.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    types = [m["msg_type"] for m in outputs]
    assert types[0] == "status" and "execute_input" in types, types
    assert any(FAKE_ANSWER in json.dumps(m["content"]) for m in outputs), types


def test_frontend_disconnects_and_reconnects(fresh_lab):
    """Close the client, open a new one on the same connection file: kernel_info and a `:chat`
    cell work and the new client's iopub gets the outputs. Also after a client vanished mid-request."""
    lab = fresh_lab
    conn_file = lab.km.connection_file
    lab.kc.stop_channels()

    for cycle in range(3):
        kc = BlockingKernelClient()
        kc.load_connection_file(conn_file)
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=TIMEOUT)
            info = kc.kernel_info(reply=True, timeout=TIMEOUT)
            assert info["content"]["status"] == "ok"
            run_chat(kc)
            if cycle == 1:
                # Leave with a request in flight: its reply goes to a peer that is gone.
                kc.execute(":chat\nhi")
        finally:
            kc.stop_channels()
        assert lab.alive(), lab.diagnostics()

    # The raw DEALER opened at start-up still works too.
    assert lab.expect_reply(lab.send("kernel_info_request", {}))["content"]["status"] == "ok"
