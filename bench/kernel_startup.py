"""Kernel start-up benchmark: time from process start to kernel_info_reply, and idle resident
memory, for alignment-lab beside ipykernel, measured in the same run.

    python bench/kernel_startup.py --binary target/debug/alignment-lab --repeat 5
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

from jupyter_client import BlockingKernelClient


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure(argv_for):
    ports = free_ports(5)
    info = dict(
        ip="127.0.0.1", transport="tcp", signature_scheme="hmac-sha256", key=uuid.uuid4().hex,
        shell_port=ports[0], iopub_port=ports[1], stdin_port=ports[2], control_port=ports[3], hb_port=ports[4],
    )
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(info, f)
        path = f.name
    client = BlockingKernelClient()
    client.load_connection_file(path)
    client.start_channels()
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv_for(path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Messages queue in the client's socket until the kernel binds and answers.
        client.kernel_info()
        client.get_shell_msg(timeout=60)
        startup = time.perf_counter() - t0
        time.sleep(1.0)
        mem = rss_mb(proc.pid)
    finally:
        client.stop_channels()
        proc.kill()
        proc.wait()
        os.unlink(path)
    return startup, mem


def summary(name, runs):
    starts = [r[0] * 1000 for r in runs]
    mems = [r[1] for r in runs]
    med = statistics.median(starts)
    print(f"{name:<14} start→kernel_info_reply: median {med:7.1f} ms  "
          f"(min {min(starts):.1f}, max {max(starts):.1f}, n={len(starts)})   "
          f"idle RSS: median {statistics.median(mems):6.1f} MB")
    return med, statistics.median(mems)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    ours = [measure(lambda p: [args.binary, "kernel", "--connection-file", p]) for _ in range(args.repeat)]
    ipk = [measure(lambda p: [sys.executable, "-m", "ipykernel_launcher", "-f", p]) for _ in range(args.repeat)]
    print(f"machine: {os.cpu_count()} cores; binary: {args.binary}")
    a_start, a_mem = summary("alignment-lab", ours)
    b_start, b_mem = summary("ipykernel", ipk)
    print(f"ratio (ipykernel / alignment-lab): start-up {b_start / a_start:.2f}x, memory {b_mem / a_mem:.2f}x")
    print(f"goals: start-up < 150 ms: {'met' if a_start < 150 else 'MISSED'}; "
          f"idle memory < 40 MB: {'met' if a_mem < 40 else 'MISSED'}")


if __name__ == "__main__":
    main()
