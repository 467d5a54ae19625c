"""Serve the safety service (waitress) with the scheduler in this process: `python run.py [--demo] [--host H] [--port P]`."""
from __future__ import annotations

import argparse
import os
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--demo", action="store_true", help="load the demo study if the database is empty")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    args = parser.parse_args()

    from safety_service import create_app
    from safety_service.rulefiles import RulesError
    from safety_service.settings import SettingsError, base_url_mismatch, served_base_url

    config = {"SCHEDULER_ENABLED": os.environ.get("SAFETY_SCHEDULER_ENABLED", "true").lower() != "false"}
    configured = os.environ.get("SAFETY_BASE_URL")
    if configured is None:
        config["BASE_URL"] = served_base_url(args.host, args.port)  # mail links reach this very server
    elif warning := base_url_mismatch(configured, args.host, args.port):
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    try:
        app = create_app(config)
    except (RulesError, SettingsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.demo:
        from safety_service.demo.accounts import ensure_demo
        ensure_demo(app)
    if app.config["SCHEDULER_ENABLED"]:
        from safety_service.jobs.scheduler import start_in_process
        start_in_process(app)

    from waitress import serve
    print(f"Serving on http://{args.host}:{args.port}  (links in mails: {app.config['BASE_URL']})  (Ctrl-C to stop)",
          flush=True)
    serve(app, host=args.host, port=args.port, threads=8, ident="safety-service")
    return 0


if __name__ == "__main__":
    sys.exit(main())
