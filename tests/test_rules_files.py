import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from safety_service import create_app
from safety_service.rulefiles import RulesError

RULES = Path(__file__).resolve().parent.parent / "rules"


@pytest.fixture
def rules_copy(tmp_path):
    target = tmp_path / "rules"
    shutil.copytree(RULES, target)
    return target


def _app(tmp_path, rules_dir):
    return create_app({"TESTING": True, "DATABASE": str(tmp_path / "x.db"), "RULES_DIR": str(rules_dir),
                       "INSTANCE_PATH": str(tmp_path / "inst"), "SECRET_KEY": "k"})


def test_it_stops_with_the_file_key_and_problem_for_a_bad_value(tmp_path, rules_copy):
    study = rules_copy / "study.toml"
    study.write_text(study.read_text().replace("window_before = 7", "window_before = -7", 1))
    with pytest.raises(RulesError) as e:
        _app(tmp_path, rules_copy)
    assert "study.toml" in str(e.value) and "visits.0.window_before" in str(e.value)
    assert "greater than or equal to 0" in str(e.value)


def test_it_refuses_an_unknown_key(tmp_path, rules_copy):
    study = rules_copy / "study.toml"
    study.write_text(study.read_text().replace("missed_after_days = 30", "missed_after_dayz = 30"))
    with pytest.raises(RulesError, match="missed_after_dayz"):
        _app(tmp_path, rules_copy)


def test_it_reports_a_toml_syntax_error(tmp_path, rules_copy):
    (rules_copy / "study.toml").write_text("study_id = \n")
    with pytest.raises(RulesError, match=r"study.toml: \(syntax\)"):
        _app(tmp_path, rules_copy)


def test_it_refuses_overlapping_visit_windows(tmp_path, rules_copy):
    study = rules_copy / "study.toml"
    study.write_text(study.read_text().replace("window_after = 7", "window_after = 60", 1))
    with pytest.raises(RulesError, match="overlap"):
        _app(tmp_path, rules_copy)


def test_it_prints_one_line_and_exits_non_zero_from_the_command_line(tmp_path, rules_copy):
    (rules_copy / "study.toml").write_text("study_id = 'X'\n")
    proc = subprocess.run([sys.executable, "-m", "safety_service.cli", "init-db"], capture_output=True, text=True,
                          env={"SAFETY_RULES_DIR": str(rules_copy), "SAFETY_DATABASE": str(tmp_path / "c.db"),
                               "SAFETY_INSTANCE_PATH": str(tmp_path / "i"), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: ") and "study.toml" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_it_audits_a_changed_rules_file_at_start_up(tmp_path, rules_copy):
    _app(tmp_path, rules_copy)
    study = rules_copy / "study.toml"
    study.write_text(study.read_text().replace("opening_soon_days = 7", "opening_soon_days = 10"))
    app = _app(tmp_path, rules_copy)
    from safety_service.db import connect
    db = connect(app.config["DATABASE"])
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log WHERE entity_id = 'study.toml' ORDER BY id")]
    assert actions == ["rules_loaded", "rules_changed"]
