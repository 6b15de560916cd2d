"""The Jupyter conformance suite (jupyter_kernel_test) against the installed kernelspec.
The fake model server and the environment pointing at it come from conftest.py."""

import unittest

import jupyter_kernel_test as jkt

# The first Rust cell starts evcxr and compiles; later Rust cells still compile with rustc.
RUST_TIMEOUT = 240


class AlignmentLabKernelTests(jkt.KernelTests):
    kernel_name = "alignment-lab"
    language_name = "rust"
    file_extension = ".rs"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Warm evcxr up once, with a long time-out, so each test's 15 s budget is for the test.
        reply = cls.kc.execute_interactive("let _warm_up = 1;", timeout=RUST_TIMEOUT)
        assert reply["content"]["status"] == "ok", reply

    def execute_helper(self, code, timeout=RUST_TIMEOUT, **kwargs):
        return super().execute_helper(code, timeout=timeout, **kwargs)

    code_hello_world = 'println!("hello, world");'
    code_stderr = 'eprintln!("oops");'
    code_execute_result = [{"code": "40 + 2", "result": "42"}]
    code_display_data = [
        {"code": ":help", "mime": "text/markdown"},
        {"code": ":chat\nSay hello.", "mime": "text/markdown"},
    ]
    completion_samples = [
        {"text": ":ch", "matches": {":chat", ":check"}},
        {"text": ":chat --max", "matches": {"--max-tokens"}},
    ]
    complete_code_samples = ["let x = 1;", ":help", ":chat\n{"]
    incomplete_code_samples = ["fn f() {", "let v = vec![1,"]
    code_inspect_sample = ":chat"
    code_generate_error = ":chat --no-such-flag\nhi"
    supported_history_operations = ()


class AlignmentLabIopubWelcomeTests(jkt.IopubWelcomeTests):
    kernel_name = "alignment-lab"
    support_iopub_welcome = True


if __name__ == "__main__":
    unittest.main()
