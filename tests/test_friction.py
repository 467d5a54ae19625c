"""Small frictions of issue 16 outside the browser: mail links follow the port served, the DSMB link of today's
cut-off keeps working, `safety --help` starts with the service's own commands, the README points at the API spec.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from safety_service.cli import main as safety_main
from safety_service.settings import base_url_mismatch, from_environment, served_base_url

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("host,port,url", [("127.0.0.1", 8080, "http://127.0.0.1:8080"),
                                           ("0.0.0.0", 5000, "http://127.0.0.1:5000"),
                                           ("safety.example.org", 80, "http://safety.example.org:80"),
                                           ("::1", 9000, "http://[::1]:9000")])
def test_it_derives_the_mail_base_url_from_the_host_and_port_served(host, port, url):
    assert served_base_url(host, port) == url


def test_it_takes_the_port_from_PORT_unless_a_base_url_is_configured():
    assert from_environment({"PORT": "8080"})["BASE_URL"] == "http://127.0.0.1:8080"
    assert from_environment({})["BASE_URL"] == "http://127.0.0.1:5000"
    configured = {"PORT": "8080", "SAFETY_BASE_URL": "https://safety.example.org"}
    assert from_environment(configured)["BASE_URL"] == "https://safety.example.org"


def test_it_warns_only_when_a_configured_base_url_names_another_port():
    assert "port 5000" in base_url_mismatch("http://127.0.0.1:5000", "127.0.0.1", 8080)
    assert base_url_mismatch("http://127.0.0.1:8080", "127.0.0.1", 8080) is None
    assert base_url_mismatch("https://safety.example.org", "127.0.0.1", 8080) is None  # behind a proxy on 443


def test_run_py_warns_at_start_up_of_a_base_url_for_another_port(tmp_path):
    """run.py with a bad rules folder stops right after the settings check: the warning is already printed."""
    env = {**os.environ, "SAFETY_BASE_URL": "http://127.0.0.1:5000", "SAFETY_RULES_DIR": str(tmp_path / "none"),
           "SAFETY_INSTANCE_PATH": str(tmp_path / "instance")}
    done = subprocess.run([sys.executable, "run.py", "--port", "8080"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert "warning: SAFETY_BASE_URL=http://127.0.0.1:5000 but this server listens on port 8080" in done.stderr


def test_it_serves_the_dsmb_pdf_of_todays_cut_off_after_the_page_was_opened(web, clock):
    sam = web("safety_sam")
    html = sam.get("/signals/dsmb").get_data(as_text=True)
    link = re.search(r'href="(/signals/dsmb\.pdf\?[^"]+)"', html).group(1).replace("&amp;", "&")
    clock.advance(timedelta(minutes=5))
    assert sam.get(link).mimetype == "application/pdf"
    again = re.search(r'href="(/signals/dsmb\?cutoff=[^"]+)"', html)
    assert again and sam.get(again.group(1).replace("&amp;", "&")).status_code == 200


def test_it_refuses_a_snapshot_from_an_earlier_day_for_todays_cut_off(web):
    page = web("safety_sam").get("/signals/?held_at=2026-06-14T10:00:00%2B00:00")
    assert page.status_code == 422 and "For a meeting on the cut-off day itself" in page.get_data(as_text=True)


def test_safety_help_lists_the_services_commands_before_flasks(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["safety", "--help"])
    with pytest.raises(SystemExit):
        safety_main()
    out = capsys.readouterr().out
    ours, flasks = out.split("Flask's development commands")
    assert re.search(r"^\s+check\s", ours, re.M) and re.search(r"^\s+digest\s", ours, re.M)
    assert not re.search(r"^\s+run\s", ours, re.M) and re.search(r"^\s+run\s", flasks, re.M)


def test_the_readme_points_at_the_api_spec_that_is_served(app):
    readme = (ROOT / "README.md").read_text()
    assert "## JSON API" in readme and "/api/v1/openapi.json" in readme
    spec = app.test_client().get("/api/v1/openapi.json")
    assert spec.status_code == 200 and spec.get_json()["openapi"].startswith("3.")


def test_the_favicon_is_linked_from_every_page(app):
    client = app.test_client()
    login = client.get("/login").get_data(as_text=True)
    href = re.search(r'<link rel="icon"[^>]*href="([^"]+)"', login).group(1)
    icon = client.get(href)
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml" and b"<svg" in icon.data
