import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from fake_openai import FakeOpenAI  # noqa: E402


@pytest.fixture(scope="session")
def fake_server():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(autouse=True, scope="session")
def kernel_env(fake_server):
    # Kernels inherit the environment of the process that starts them.
    os.environ["ALIGNMENT_LAB_BASE_URL"] = fake_server.base_url
    os.environ["ALIGNMENT_LAB_MODEL"] = "fake-model"
    yield
