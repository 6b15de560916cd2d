"""What the tests' fake servers share: an HTTP server on 127.0.0.1 with a port of its own, served
from a daemon thread inside a `with` block; and a free port for servers the tests start."""

import socket
import threading
from http.server import ThreadingHTTPServer


def free_port():
    """A port that was free a moment ago on 127.0.0.1 (nobody listens on it now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalServer:
    def __init__(self, handler):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        # Close the listening socket too: a socket left listening accepts connections into its
        # backlog that nobody answers, and a client would wait for its first token forever.
        self.httpd.server_close()
