"""The ``apexflow`` command."""
from __future__ import annotations

import argparse
import sys

from apexflow.contract import ContractError


def _demo(args) -> int:
    from apexflow_aws.local import demo

    result = demo.run(seed=args.seed, laps=args.laps)
    print(demo.report(result))
    return 0


def _migrate(args) -> int:
    from apexflow.storage.db import database_url
    from apexflow.storage.migrate import migrate

    applied = migrate(database_url())
    print("applied: " + ", ".join(applied) if applied else "schema is up to date")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="apexflow", description="Telemetry in, detections and insight out.")
    sub = p.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the whole pipeline locally on a synthetic race")
    demo.add_argument("--seed", type=int, default=7, help="simulator seed (default 7)")
    demo.add_argument("--laps", type=int, default=6, help="race length in laps (default 6; a full race is 57)")
    demo.set_defaults(func=_demo)
    db = sub.add_parser("db", help="database commands")
    db.add_argument("action", choices=["migrate"])
    db.set_defaults(func=_migrate)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except ContractError as e:
        print(f"apexflow: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
