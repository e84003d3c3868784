"""`binance-warehouse` (installed console script) and `python -m binance_warehouse`: the warehouse's
command line. Its one subcommand today is `update` (binance_warehouse/update/)."""

from __future__ import annotations

import sys

USAGE = "usage: binance-warehouse update [--config PATH] [--dry-run] [--wait] [--history] [--notify-always]"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["update"]:
        from binance_warehouse.update.command import main as update_main

        return update_main(argv[1:])
    if argv[:1] in (["-h"], ["--help"]):
        print(USAGE)
        return 0
    print(USAGE, file=sys.stderr)
    return 2


def run() -> None:
    """Console-script entry point (pyproject [project.scripts])."""
    sys.exit(main())


if __name__ == "__main__":
    run()
