"""The CLI starts at once: no heavy numeric or drawing library is imported before a command needs it (issue 18).

Measured with `python -X importtime`: pandas ~0.5 s, scipy.stats ~1 s, matplotlib + fpdf ~0.6 s on these machines.
Each check runs in a fresh interpreter, since this test process has imported them all already.
"""
from __future__ import annotations

import subprocess
import sys

HEAVY = ("pandas", "numpy", "scipy", "matplotlib", "fpdf", "pyreadstat", "xlsxwriter")


def _heavy_modules_after(code: str, tmp_path) -> list[str]:
    probe = f"{code}\nimport sys\nprint('HEAVY:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    env = {"SAFETY_DATABASE": str(tmp_path / "probe.sqlite"), "SAFETY_INSTANCE_PATH": str(tmp_path / "instance"),
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("HEAVY:")]
    return [m for m in line[len("HEAVY:"):].split(",") if m]


def test_it_imports_the_cli_without_pandas_matplotlib_or_scipy(tmp_path):
    assert _heavy_modules_after("import safety_service.cli", tmp_path) == []


def test_it_keeps_sqlite_utils_working_without_pandas_at_start(tmp_path):
    code = ("import safety_service\nimport sqlite_utils\ndb = sqlite_utils.Database(memory=True)\n"
            "db['t'].insert({'a': 1, 'b': 2.5, 'c': 'x'})\nassert list(db['t'].rows) == [{'a': 1, 'b': 2.5, 'c': 'x'}]")
    assert _heavy_modules_after(code, tmp_path) == []


def test_it_answers_safety_help_without_them_although_the_whole_app_is_built(tmp_path):
    # `safety --help` builds the app (every blueprint, the rules, the migrations) to list the commands
    code = ("import sys\nsys.argv = ['safety', '--help']\nfrom safety_service.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass")
    assert _heavy_modules_after(code, tmp_path) == []
