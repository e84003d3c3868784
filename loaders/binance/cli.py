"""Command line of the Binance loader. Exit codes: 0 all good, 1 some archive failed (the others stay
loaded), 2 bad input (one line, nothing written)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import NoReturn

from tqdm.contrib.logging import logging_redirect_tqdm

from loaders import config
from loaders.binance.errors import BadInput, LoadError
from loaders.binance.run import load

EXAMPLES = """examples:
  python -m loaders.binance --symbols BTCUSDT ETHUSDT --intervals 1h 1d --start 2021-01
  python -m loaders.binance --market um --symbols BTCUSDT --intervals 1m --start 2024-01 --end 2024-06
  python -m loaders.binance --symbols BTCUSDT --intervals 1s --start 2025-01-01 --end 2025-01-07 --workers 2
  python -m loaders.binance --symbols BTCUSDT --intervals 1h --dry-run      # what would be downloaded

Monthly archives are used where they exist, daily archives for the rest (a monthly file replaces its
month's daily files). Re-runs skip archives already loaded and unchanged upstream.
environment: BINANCE_BASE_URL, BINANCE_LISTING_URL, LAKE_DIR (flags win).
exit status: 0 success, 1 some archive failed (the rest are loaded), 2 bad input (nothing written).
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, exit 2 (argparse's default prints the whole usage first)."""
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m loaders.binance",
        description="Download Binance kline archives, verify their sha256, convert them to the Parquet lake.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--market",
        default="spot",
        metavar="{spot,um,cm}",
        help="spot (default), um (USD-M futures) or cm (COIN-M futures)",
    )
    p.add_argument("--symbols", nargs="+", required=True, metavar="SYMBOL", help="e.g. BTCUSDT ETHUSDT")
    p.add_argument(
        "--intervals",
        nargs="+",
        required=True,
        metavar="INTERVAL",
        help=f"any of {' '.join(config.INTERVAL_SECONDS)} (1s: spot only)",
    )
    p.add_argument("--start", help="YYYY-MM or YYYY-MM-DD (default: the first archive that exists)")
    p.add_argument("--end", help="YYYY-MM or YYYY-MM-DD, inclusive (default: the latest archive)")
    p.add_argument("--lake", help=f"lake folder (default: $LAKE_DIR or {config.DEFAULT_LAKE_DIR})")
    p.add_argument(
        "--base-url", help=f"archive host (default: $BINANCE_BASE_URL or {config.DEFAULT_BASE_URL})"
    )
    p.add_argument(
        "--listing-url",
        help=f"S3 ListObjects endpoint (default: $BINANCE_LISTING_URL or {config.DEFAULT_LISTING_URL})",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=config.DEFAULT_WORKERS,
        help=f"parallel downloads (default {config.DEFAULT_WORKERS})",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="list what would be loaded or replaced; write nothing"
    )
    p.add_argument("--quiet", action="store_true", help="only warnings, errors and the summary")
    return p


def _terminate(signum: int, frame: object) -> None:
    # SIGTERM behaves like Ctrl-C: queued archives are dropped, running ones finish or clean up.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    signal.signal(signal.SIGTERM, _terminate)
    try:
        with logging_redirect_tqdm(loggers=[logging.getLogger("loaders.binance")]):
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
                dry_run=args.dry_run,
            )
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except LoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: finished archives are kept; run again to load the rest", file=sys.stderr)
        return 130
    for failure in summary.failures:
        print(f"FAILED {failure}", file=sys.stderr)
    print(summary.line())
    return 0 if summary.ok else 1
