"""Command-line pieces both loaders share (`python -m loaders.binance`, `python -m loaders.r2`), defined
once so a flag means the same in every command: the lake folder, verbosity, workers, `--version`, and a
parser whose errors are one line."""

from __future__ import annotations

import argparse
from typing import NoReturn

from loaders import config
from loaders.version import version_line


class OneLineParser(argparse.ArgumentParser):
    """Usage errors are one line and exit 2 (argparse's default prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_version(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--version", action="version", version=version_line(), help="print the installed version and exit"
    )


def add_lake(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--lake", metavar="DIR", help=f"lake folder (default: $LAKE_DIR or {config.DEFAULT_LAKE_DIR})"
    )


def add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="only warnings, errors and the summary")


def add_workers(p: argparse.ArgumentParser, default: int, what: str) -> None:
    p.add_argument("--workers", type=int, metavar="N", default=default, help=f"{what} (default {default})")
