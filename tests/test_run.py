"""`python run.py --demo` (what `make run` starts) serves /healthz and the sign-in page, and prints the demo accounts."""
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_it_serves_the_demo_study_from_an_empty_database(tmp_path):
    port = free_port()
    env = {**os.environ, "SAFETY_INSTANCE_PATH": str(tmp_path / "instance"), "PORT": str(port),
           "SAFETY_SMTP_HOST": ""}
    env.pop("SAFETY_DATABASE", None)
    proc = subprocess.Popen([sys.executable, "run.py", "--demo", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, body = time.monotonic() + 60, None
        while time.monotonic() < deadline and body is None:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(0.3)
        assert body == b'{"status":"ok"}\n'
        login = urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5).read().decode()
        assert "Sign in" in login and "csrf_token" in login
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    for role in ("nurse", "investigator", "safety_officer", "auditor", "admin"):
        assert f"  {role} " in out
    assert (tmp_path / "instance" / "safety.db").exists()
