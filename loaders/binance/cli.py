"""Command line of the Binance loader: `python -m loaders.binance [--dataset D] --symbols ... ` loads
archives; `python -m loaders.binance status` reports what the lake holds.

Exit codes: 0 all good, 1 some archive failed (the others stay loaded), 2 bad input or an unusable
set-up (one line, nothing written), 130 interrupted."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import NoReturn

from tqdm import tqdm

from loaders import config, contract
from loaders.binance.errors import BadInput, Interrupted, LoadError
from loaders.binance.run import load
from loaders.version import version_line

PROG = "python -m loaders.binance"  # also installed as `binance-loader` (pyproject [project.scripts])

USAGE = """%(prog)s [--market {spot,um,cm}] [--dataset DATASET] --symbols SYMBOL [SYMBOL ...]
           [--intervals INTERVAL ...] [--start YYYY-MM[-DD]] [--end YYYY-MM[-DD]] [options]
       %(prog)s status [--json] [--market M] [--dataset D] [--lake DIR]
       %(prog)s rebuild-manifest [--lake DIR] [--dataset D]
       %(prog)s --version"""

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
  # what the lake holds, and the days missing (no network)
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


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, exit 2 (argparse's default prints the whole usage first)."""
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    p = _Parser(
        prog=prog,
        usage=USAGE,
        description=(
            "Download Binance archives (data.binance.vision), verify their sha256 and convert them to\n"
            "the Parquet lake. `status` (first argument) reports what the lake holds."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--version", action="version", version=version_line(), help="print the installed version and exit"
    )
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
    p.add_argument(
        "--lake", metavar="DIR", help=f"lake folder (default: $LAKE_DIR or {config.DEFAULT_LAKE_DIR})"
    )
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
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        default=config.DEFAULT_WORKERS,
        help=f"parallel listings and downloads (default {config.DEFAULT_WORKERS}); hides network latency",
    )
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
    p.add_argument("--quiet", action="store_true", help="only warnings, errors and the summary")
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


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["status"]:
        from loaders.binance.status import main as status_main

        return status_main(argv[1:])
    if argv[:1] == ["rebuild-manifest"]:
        from loaders.binance.rebuild import main as rebuild_main

        return rebuild_main(argv[1:])
    args = build_parser(prog).parse_args(argv)
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
    return 0 if summary.ok else 1
