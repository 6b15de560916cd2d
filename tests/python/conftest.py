import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from fake_openai import FakeOpenAI  # noqa: E402

# One fake server for the whole session, started at import so that unittest-style suites
# (jupyter_kernel_test) see it too. Kernels inherit the environment of the process starting them.
SERVER = FakeOpenAI().__enter__()
os.environ["ALIGNMENT_LAB_BASE_URL"] = SERVER.base_url
os.environ["ALIGNMENT_LAB_MODEL"] = "fake-model"
# Kernels keep alignment-lab-results.json in their working directory; most tests run them in the
# repository. The tests of the hand-in path switch it back on (ALIGNMENT_LAB_RESULTS=None).
os.environ["ALIGNMENT_LAB_RESULTS"] = "off"


@pytest.fixture(scope="session")
def fake_server():
    return SERVER


def pytest_unconfigure(config):
    SERVER.__exit__(None, None, None)
