"""The CLI starts at once: no heavy numeric or drawing library is imported before a command needs it (issue 18).

Measured with `python -X importtime`: pandas ~0.5 s, scipy.stats ~1 s, matplotlib + fpdf ~0.6 s on these machines.
Each check runs in a fresh interpreter, since this test process has imported them all already.
"""
from __future__ import annotations

import subprocess
import sys

HEAVY = ("pandas", "numpy", "scipy", "matplotlib", "fpdf", "pyreadstat", "xlsxwriter")


def _probe(code: str, tmp_path, tag: str) -> list[str]:
    """Run ``code`` in a fresh interpreter on a fresh database; the comma-separated list it prints after ``tag:``."""
    env = {"SAFETY_DATABASE": str(tmp_path / "probe.sqlite"), "SAFETY_INSTANCE_PATH": str(tmp_path / "instance"),
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    (line,) = [x for x in done.stdout.splitlines() if x.startswith(f"{tag}:")]
    return [m for m in line[len(tag) + 1:].split(",") if m]


def _heavy_modules_after(code: str, tmp_path) -> list[str]:
    return _probe(f"{code}\nimport sys\nprint('HEAVY:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))",
                  tmp_path, "HEAVY")


def test_it_imports_the_cli_without_pandas_matplotlib_or_scipy(tmp_path):
    assert _heavy_modules_after("import safety_service.cli", tmp_path) == []


def test_it_keeps_sqlite_utils_working_without_pandas_at_start(tmp_path):
    code = ("import safety_service\nimport sqlite_utils\ndb = sqlite_utils.Database(memory=True)\n"
            "db['t'].insert({'a': 1, 'b': 2.5, 'c': 'x'})\nassert list(db['t'].rows) == [{'a': 1, 'b': 2.5, 'c': 'x'}]")
    assert _heavy_modules_after(code, tmp_path) == []


def _modules_after_command(argv: list[str], tmp_path, prefixes: tuple[str, ...]) -> list[str]:
    """The modules (under ``prefixes``) a fresh interpreter has imported after running `safety ARGV`."""
    code = (f"import sys\nsys.argv = ['safety', *{argv!r}]\nfrom safety_service.cli import main\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            f"print('MODULES:' + ','.join(sorted(m for m in sys.modules if m.startswith({prefixes!r}))))")
    return _probe(code, tmp_path, "MODULES")


def test_it_answers_safety_help_without_building_the_app_or_importing_an_area(tmp_path):
    loaded = _modules_after_command(["--help"], tmp_path, ("safety_service", "pydantic", "apscheduler", *HEAVY))
    # no rules, no web pages, no jobs, no exports: only the command line and what it needs to parse options
    for area in ("safety_service.rulebook", "safety_service.web", "safety_service.jobs", "safety_service.exports",
                 "safety_service.cli.jobs", "safety_service.cli.exports"):
        assert area not in loaded, area
    assert not [m for m in loaded if m.split(".")[0] in ("pydantic", "apscheduler", *HEAVY)]


def test_a_token_is_created_without_the_rules_the_pages_or_the_jobs(tmp_path):
    _modules_after_command(["init-db"], tmp_path, ("safety_service",))
    code_user = ["user", "add", "t@example.org", "--role", "safety_officer", "--password-stdin"]
    subprocess.run([sys.executable, "-m", "safety_service.cli", *code_user], input="a long probe passphrase 42\n",
                   text=True, capture_output=True, check=True,
                   env={"SAFETY_DATABASE": str(tmp_path / "probe.sqlite"),
                        "SAFETY_INSTANCE_PATH": str(tmp_path / "instance"), "PATH": "/usr/bin:/bin"})
    loaded = _modules_after_command(["token", "create", "t@example.org"], tmp_path, ("safety_service", "pydantic"))
    for module in ("safety_service.rulebook", "safety_service.web", "safety_service.jobs", "pydantic"):
        assert module not in loaded, module


def test_safety_check_imports_its_jobs_but_no_export_page_or_scheduler(tmp_path):
    loaded = _modules_after_command(["check", "--now", "2026-06-15T10:00:00+00:00"], tmp_path,
                                    ("safety_service", "apscheduler", *HEAVY))
    assert "safety_service.jobs.checks" in loaded and "safety_service.rulebook" in loaded
    for module in ("safety_service.web", "safety_service.cli.exports", "safety_service.exports.service",
                   "apscheduler", *HEAVY):
        assert module not in loaded, module
