"""pytest plugin: runs moto's own server-mode tests against the sfn-operator sandbox.

moto's tests in server mode (TEST_SERVER_MODE=true) send every boto3 call to
TEST_SERVER_MODE_ENDPOINT and, at the start and end of each test, POST `/moto-api/reset` to
forget the server's state. The sandbox has no such endpoint (it is moto's own), so this plugin
starts the sandbox itself and replaces moto's reset with a restart of the sandbox (in memory, no
state file), done only when the sandbox saw a write since it started (`GET /_sandbox/requests`).

Environment: SFN_OPERATOR_BIN (the sfn-operator binary), MOTO_SUITE_PORT (the port to listen on).
"""

import json
import os
import subprocess
import time
import urllib.request

_BIN = os.environ["SFN_OPERATOR_BIN"]
_PORT = int(os.environ.get("MOTO_SUITE_PORT", "4590"))
_ENDPOINT = f"http://127.0.0.1:{_PORT}"
_sandbox = None


def _get(path):
    with urllib.request.urlopen(_ENDPOINT + path, timeout=5) as answer:
        return json.loads(answer.read())


def _start():
    global _sandbox
    _sandbox = subprocess.Popen(
        [_BIN, "sandbox", "--listen", f"127.0.0.1:{_PORT}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Generous: a debug build starting on a loaded 2-core CI machine.
    deadline = time.monotonic() + 120
    while True:
        if _sandbox.poll() is not None:
            raise RuntimeError(f"sandbox exited with {_sandbox.returncode} (port {_PORT} busy?)")
        try:
            _get("/_sandbox/requests")
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"sandbox not answering on {_ENDPOINT} after 120 s")
            time.sleep(0.02)


def _stop():
    global _sandbox
    if _sandbox is not None:
        _sandbox.terminate()
        try:
            _sandbox.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _sandbox.kill()
            _sandbox.wait()
        _sandbox = None


def _reset(_self):
    """moto's reset, as a restart of the sandbox when it holds anything."""
    try:
        dirty = _get("/_sandbox/requests").get("writes", 0) > 0
    except OSError:
        dirty = True
    if dirty:
        _stop()
        _start()


def pytest_configure(config):
    os.environ["TEST_SERVER_MODE"] = "true"
    os.environ["TEST_SERVER_MODE_ENDPOINT"] = _ENDPOINT
    from moto.core import models

    models.ServerModeMockAWS.reset = _reset
    _start()


def pytest_unconfigure(config):
    _stop()
