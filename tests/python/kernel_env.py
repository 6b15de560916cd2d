"""Environment helpers for tests that start kernels (a kernel inherits the environment of the
process that starts it)."""

import contextlib
import os
import pathlib
import tempfile


@contextlib.contextmanager
def kernel_env(**changes):
    """Set (or, with None, remove) environment variables for kernels started inside the block."""
    saved = {k: os.environ.get(k) for k in changes}
    try:
        _set_env(changes)
        yield
    finally:
        _set_env(saved)


def _set_env(values):
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def lab_home():
    """The data dir the test script uses (the embedded model lives under it)."""
    default = pathlib.Path.home() / ".cache" / "alignment-lab" / "home"
    return pathlib.Path(os.environ.get("ALIGNMENT_LAB_HOME", default))


def embedded_gguf():
    return lab_home() / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"


def artifacts_dir():
    """Where tests leave files for a person to look at (exports, screenshots)."""
    out = os.environ.get("ALIGNMENT_LAB_TEST_OUTPUT")
    path = pathlib.Path(out) if out else pathlib.Path(tempfile.gettempdir()) / "alignment-lab-test-output"
    path.mkdir(parents=True, exist_ok=True)
    return path


def embedded_kernel_env(home):
    """The environment for a kernel on the embedded SmolLM2 model (no server), data in `home`."""
    return kernel_env(
        ALIGNMENT_LAB_BACKEND="embedded",
        ALIGNMENT_LAB_GGUF=str(embedded_gguf()),
        ALIGNMENT_LAB_BASE_URL=None,
        ALIGNMENT_LAB_MODEL=None,
        ALIGNMENT_LAB_HOME=str(home),
    )


def installed_binary():
    """The binary the installed kernelspec launches. The wheel's kernel.json names it relative to
    the spec's own directory (`{resource_dir}/../../../../bin/alignment-lab`), so expand that the
    way jupyter_client does."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("alignment-lab")
    argv0 = spec.argv[0].replace("{resource_dir}", spec.resource_dir)
    return str(pathlib.Path(argv0).resolve())
