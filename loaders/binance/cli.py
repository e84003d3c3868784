"""Command line of the Binance loader, three commands: `load` (the default: bare flags mean load, so
`python -m loaders.binance --symbols BTCUSDT --intervals 1d` loads), `status` (what the lake holds) and
`rebuild-manifest` (a manifest from the lake files). Arguments they share come from loaders/cli_args.py.

Exit codes: 0 all good, 1 some archive failed (the others stay loaded), 2 bad input or an unusable
set-up (one line, nothing written), 130 interrupted."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable

from tqdm import tqdm

from loaders import cli_args, config, contract
from loaders.binance.errors import BadInput, Interrupted, LoadError
from loaders.binance.run import load

PROG = "python -m loaders.binance"  # also installed as `binance-loader` (pyproject [project.scripts])


def _usage(prog: str) -> str:
    return f"""{prog} [--market {{spot,um,cm}}] [--dataset DATASET] --symbols SYMBOL [SYMBOL ...]
           [--intervals INTERVAL ...] [--start YYYY-MM[-DD]] [--end YYYY-MM[-DD]] [options]
       {prog} load ...   (the same: load is the default command)
       {prog} status [--json] [--market M] [--dataset D] [--lake DIR] [--check]
       {prog} rebuild-manifest [--lake DIR] [--dataset D]
       {prog} --version"""


# %(prog)s is the name the user typed (`python -m loaders.binance` or `binance-loader`); `%%` is a `%`.
EXAMPLES = """examples:
  # hourly and daily BTC and ETH candles since 2021 (monthly archives, then daily ones for this month)
  %(prog)s --symbols BTCUSDT ETHUSDT --intervals 1h 1d --start 2021-01
  # USD-M futures minute candles for the first half of 2024 (--end is inclusive)
  %(prog)s --market um --symbols BTCUSDT --intervals 1m --start 2024-01 --end 2024-06
  # one week of 1-second candles (spot only; large: ~86,400 rows a day)
  %(prog)s --symbols BTCUSDT --intervals 1s --start 2025-01-01 --end 2025-01-07 --workers 2
  # derivatives: funding rates (no --intervals), open interest and ratios, mark-price candles
  %(prog)s --market um --dataset fundingRate --symbols BTCUSDT ETHUSDT
  %(prog)s --market um --dataset metrics --symbols BTCUSDT --start 2024-01
  %(prog)s --market um --dataset markPriceKlines --symbols BTCUSDT --intervals 1h
  # every USDT pair, delisted ones included, without stablecoin pairs: what would be loaded
  %(prog)s --symbols ALL --quote USDT --exclude USDCUSDT FDUSDUSDT --intervals 1d --dry-run
  # the same command named (scripts may spell it out)
  %(prog)s load --symbols BTCUSDT --intervals 1d
  # what the lake holds, and the days missing (no network); `status --help` for more
  %(prog)s status
  %(prog)s status --json --market um --dataset metrics
  # a lost or corrupt manifest, rebuilt from the lake files
  %(prog)s rebuild-manifest

Symbols are Binance's (case does not matter: btcusdt is BTCUSDT). Monthly archives are used where
they exist, daily archives for the rest (a monthly file replaces its month's daily files). Re-runs skip
archives already loaded and unchanged upstream, so the same command run daily keeps the lake current.
Several loaders may run on one lake at once, and next to a dbt build.
environment: BINANCE_BASE_URL, BINANCE_LISTING_URL, LAKE_DIR (flags win).
exit status: 0 success, 1 some archive failed (the rest are loaded), 2 bad input or an unusable
lake or URL (nothing written), 130 interrupted (finished archives are kept).
"""


def build_parser(prog: str = PROG, *, named: bool = False) -> argparse.ArgumentParser:
    """The `load` command's parser (`named`: typed as `PROG load`, else as bare flags)."""
    p = cli_args.OneLineParser(
        prog=f"{prog} load" if named else prog,
        usage=_usage(prog),
        description=(
            "Download Binance archives (data.binance.vision), verify their sha256 and convert them to\n"
            "the Parquet lake. Commands: load (the default), status (what the lake holds), rebuild-manifest."
        ),
        epilog=EXAMPLES % {"prog": prog},  # the base name: `load --help` shows the same examples
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cli_args.add_version(p)
    p.add_argument(
        "--dataset",
        default="klines",
        metavar="DATASET",
        help=f"one of {', '.join(contract.DATASETS)} (default klines)",
    )
    p.add_argument(
        "--market",
        default="spot",
        metavar="{spot,um,cm}",
        help="spot (default), um (USD-M futures) or cm (COIN-M futures)",
    )
    p.add_argument(
        "--symbols",
        nargs="+",
        required=True,
        metavar="SYMBOL",
        help="e.g. BTCUSDT ETHUSDT (any case), or ALL: every symbol with archives, delisted ones included",
    )
    p.add_argument(
        "--quote", metavar="ASSET", help="with --symbols ALL: only symbols quoted in ASSET (e.g. USDT)"
    )
    p.add_argument(
        "--exclude", nargs="+", default=[], metavar="SYMBOL", help="with --symbols ALL: leave these out"
    )
    p.add_argument(
        "--intervals",
        nargs="+",
        metavar="INTERVAL",
        help=f"kline-format datasets only (required there): {' '.join(contract.INTERVAL_SECONDS)} (1s: spot only)",
    )
    p.add_argument(
        "--start", metavar="DATE", help="YYYY-MM or YYYY-MM-DD (default: the first archive that exists)"
    )
    p.add_argument(
        "--end", metavar="DATE", help="YYYY-MM or YYYY-MM-DD, inclusive (default: the latest archive)"
    )
    cli_args.add_lake(p)
    p.add_argument(
        "--base-url",
        metavar="URL",
        help=f"archive host (default: $BINANCE_BASE_URL or {config.DEFAULT_BASE_URL})",
    )
    p.add_argument(
        "--listing-url",
        metavar="URL",
        help=f"S3 ListObjects endpoint (default: $BINANCE_LISTING_URL or {config.DEFAULT_LISTING_URL})",
    )
    cli_args.add_workers(p, config.DEFAULT_WORKERS, "parallel listings and downloads; hides network latency")
    p.add_argument(
        "--stall-timeout",
        type=float,
        default=config.STALL_SECONDS,
        metavar="SECONDS",
        help=(
            f"a download receiving under {config.STALL_MIN_BYTES >> 10} KiB in this many seconds is "
            f"retried, then fails (default {config.STALL_SECONDS:g})"
        ),
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="list what would be loaded or replaced (and how many symbols); write nothing",
    )
    cli_args.add_quiet(p)
    return p


class _TqdmHandler(logging.Handler):
    """Each record once, on stderr, printed above any progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # logging must never break the run
            self.handleError(record)


def setup_logging(quiet: bool) -> None:
    logger = logging.getLogger("loaders")
    logger.handlers[:] = [_TqdmHandler()]
    logger.handlers[0].setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    # No root handler is configured (no basicConfig), so each record is printed once, by this handler.


def _terminate(signum: int, frame: object) -> None:
    # SIGTERM behaves like Ctrl-C: queued archives are dropped, running ones are stopped and cleaned up.
    raise KeyboardInterrupt


def _load(argv: list[str], prog: str, named: bool) -> int:
    args = build_parser(prog, named=named).parse_args(argv)
    setup_logging(args.quiet)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        summary = load(
            args.market,
            args.symbols,
            args.intervals,
            start=args.start,
            end=args.end,
            lake=args.lake,
            base_url=args.base_url,
            listing_url=args.listing_url,
            workers=args.workers,
            dataset=args.dataset,
            quote=args.quote,
            exclude=args.exclude,
            dry_run=args.dry_run,
            stall_seconds=args.stall_timeout,
        )
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except LoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Interrupted as exc:
        print(exc.line, file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted before any archive was loaded", file=sys.stderr)
        return 130
    for failure in summary.failures:
        print(f"FAILED {failure}", file=sys.stderr)
    print(summary.line())
    return summary.exit_code


def _status(argv: list[str], prog: str) -> int:
    from loaders.binance.status import main as status_main

    return status_main(argv, prog=f"{prog} status")


def _rebuild(argv: list[str], prog: str) -> int:
    from loaders.binance.rebuild import main as rebuild_main

    return rebuild_main(argv, prog=f"{prog} rebuild-manifest")


COMMANDS: dict[str, Callable[[list[str], str], int]] = {
    "load": lambda argv, prog: _load(argv, prog, named=True),
    "status": _status,
    "rebuild-manifest": _rebuild,
}


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    """Dispatch on the first argument; anything else (flags) is `load`'s."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in COMMANDS:
        return COMMANDS[argv[0]](argv[1:], prog)
    return _load(argv, prog, named=False)
