"""The `safety` command knows every area command by name and imports one only when it runs (issue 18).

Its help lines come from a table in cli/__init__.py, so they are checked here against each command's own.
"""
from __future__ import annotations

import click
from click.testing import CliRunner
from flask.cli import ScriptInfo

from safety_service.cli import AREA_COMMANDS, COMMANDS, SafetyGroup, area_command


def test_each_area_commands_help_line_is_the_commands_own():
    for name, (_modules, _attr, help_line) in AREA_COMMANDS.items():
        command = area_command(name)
        assert command.name == name
        assert command.get_short_help_str(limit=500) == help_line, name


def test_an_area_command_is_complete_whichever_module_defines_it():
    # `export` is defined by one module and joined by three: asking for it brings all its subcommands
    assert {"ae", "sdtm", "audit", "queries", "odm", "cioms", "screening-log"} <= set(area_command("export").commands)
    assert {"labs", "conmeds", "medical-history"} <= set(area_command("import").commands)


def test_help_lists_every_command_with_its_help_line_and_flasks_own_after():
    group = SafetyGroup(create_app=lambda: (_ for _ in ()).throw(AssertionError("--help built the app")),
                        add_default_commands=True, help="The trial safety service.")
    out = CliRunner().invoke(group, ["--help"], prog_name="safety", terminal_width=200).output
    ours = out.split("Commands:")[1].split("Flask's development commands")[0]
    for name in [c.name for c in COMMANDS] + list(AREA_COMMANDS):
        assert f"  {name} " in ours, name
    assert "Run every scheduled check once" in ours
    assert "routes" in out.split("Flask's development commands")[1]


def test_flask_app_cli_has_the_same_commands(app):
    # `flask --app safety_service ...` reaches the commands through app.cli
    ctx = click.Context(app.cli, obj=ScriptInfo(create_app=lambda: app))
    names = app.cli.list_commands(ctx)
    assert {c.name for c in COMMANDS} | set(AREA_COMMANDS) <= set(names)
    assert app.cli.get_command(ctx, "check").name == "check"
    assert app.cli.get_command(ctx, "nope") is None
