from pathlib import Path

import pytest

from safety_service.settings import SETTINGS, SettingsError, from_environment

README = Path(__file__).resolve().parent.parent / "README.md"


def test_it_documents_every_setting_in_the_readme():
    text = README.read_text()
    assert [s.name for s in SETTINGS if f"SAFETY_{s.name}" not in text] == []


def test_it_names_the_variable_with_a_bad_value():
    with pytest.raises(SettingsError, match="SAFETY_SMTP_PORT"):
        from_environment({"SAFETY_SMTP_PORT": "seventy"})
    with pytest.raises(SettingsError, match="SAFETY_TIMEZONE"):
        from_environment({"SAFETY_TIMEZONE": "Mars/Olympus"})


def test_it_keeps_a_random_secret_key_under_instance(tmp_path):
    from safety_service import create_app
    cfg = {"TESTING": True, "INSTANCE_PATH": str(tmp_path / "inst")}
    first = create_app(cfg).config["SECRET_KEY"]
    assert len(first) == 64 and first == create_app(cfg).config["SECRET_KEY"]
    assert (tmp_path / "inst" / "secret_key").stat().st_mode & 0o077 == 0
    assert create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "other")}).config["SECRET_KEY"] != first
