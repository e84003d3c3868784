"""`python -m loaders.r2 push [--lake DIR] [--dry-run] [--delete] [--workers N] [--timeout S]` and
`python -m loaders.r2 ls [SUBPATH]`; installed as `binance-r2` too (both call `run`).

Exit codes: 0 done, 1 a request or upload failed, 2 bad configuration or arguments. Every failure is
one line on stderr naming the variable, bucket or endpoint at fault, never the secret.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence

from loaders import cli_args, config
from loaders.r2.mirror import format_listing, list_remote, push
from loaders.r2.settings import ENV_TIMEOUT, R2ConfigError, R2Error, R2Settings, parse_timeout
from loaders.r2.waiting import WaitNotice

PROG = "python -m loaders.r2"

EXAMPLES = """examples:
  %(prog)s push --dry-run            # what would be uploaded or deleted; changes nothing
  %(prog)s push                      # upload new and changed lake files
  %(prog)s push --delete             # ...and delete objects the lake no longer has
  %(prog)s ls binance/manifest/      # what the bucket holds under R2_PREFIX

environment: R2_ACCOUNT_ID (or R2_ENDPOINT_URL for another S3-compatible store), R2_ACCESS_KEY_ID,
R2_SECRET_ACCESS_KEY, R2_BUCKET, R2_PREFIX, R2_TIMEOUT, LAKE_DIR.
exit status: 0 done, 1 a request or upload failed, 2 bad configuration or arguments, 130 interrupted.
"""
# The same, for `push --help` and `ls --help` (their %(prog)s already ends with the command).
PUSH_EXAMPLES = """examples:
  %(prog)s --dry-run            # what would be uploaded or deleted; changes nothing
  %(prog)s                      # upload new and changed lake files
  %(prog)s --delete --workers 4 # ...and delete objects the lake no longer has
"""
LS_EXAMPLES = """examples:
  %(prog)s                      # every object under R2_PREFIX
  %(prog)s binance/manifest/    # only the manifests
"""


def _timeout_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        help=(
            f"wait this long for each answer of the bucket, {config.R2_MAX_ATTEMPTS} attempts "
            f"(default ${ENV_TIMEOUT} or {config.R2_READ_TIMEOUT})"
        ),
    )


def parse_args(argv: Sequence[str] | None, prog: str = PROG) -> argparse.Namespace:
    parser = cli_args.OneLineParser(
        prog=prog,
        description="Mirror the Parquet lake to an R2 / S3-compatible bucket (configured by R2_* variables).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cli_args.add_version(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    raw = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser(
        "push",
        help="upload new or changed lake files; skip the rest",
        epilog=PUSH_EXAMPLES,
        formatter_class=raw,
    )
    cli_args.add_lake(p)
    p.add_argument(
        "--dry-run", action="store_true", help="print what would be uploaded/deleted; change nothing"
    )
    p.add_argument(
        "--delete", action="store_true", help="delete objects under R2_PREFIX the lake no longer has"
    )
    cli_args.add_workers(p, config.R2_DEFAULT_WORKERS, "parallel uploads")
    p.add_argument(
        "--no-progress", action="store_true", help="no progress bar (it is off anyway when not a TTY)"
    )
    _timeout_flag(p)
    ls = sub.add_parser(
        "ls", help="list the objects under R2_PREFIX", epilog=LS_EXAMPLES, formatter_class=raw
    )
    ls.add_argument("subpath", nargs="?", default="", help="only keys under R2_PREFIX + SUBPATH")
    _timeout_flag(ls)
    args = parser.parse_args(argv)
    if args.command == "push" and not 1 <= args.workers <= 64:
        parser.error(f"--workers must be between 1 and 64, not {args.workers}")
    return args


def _notice(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    args = parse_args(argv, prog)
    try:
        settings = R2Settings.from_env()
        if args.timeout is not None:
            settings = dataclasses.replace(settings, timeout=parse_timeout(args.timeout, "--timeout"))
    except R2ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "ls":
            client = settings.client()
            with WaitNotice(settings, _notice) as waiting:
                waiting.watch(client)
                objects = list(list_remote(client, settings, args.subpath.lstrip("/")))
            for line in format_listing(objects):
                print(line)
            return 0
        lake = config.lake_dir(args.lake)
        print(f"push {lake} -> {settings.destination}{' (dry run)' if args.dry_run else ''}", file=sys.stderr)
        summary = push(
            lake,
            settings,
            dry_run=args.dry_run,
            delete=args.delete,
            workers=args.workers,
            progress=False if args.no_progress else None,
            notice=_notice,
        )
    except R2ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except R2Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Uploads in flight never become visible (S3 PUT/multipart are atomic); the next push redoes them.
        print("error: interrupted; run the push again to complete it", file=sys.stderr)
        return 130
    print(summary.line())
    for failure in summary.failures:
        print(f"error: {failure}", file=sys.stderr)
    return summary.exit_code


def run() -> None:
    """`python -m loaders.r2` and the `binance-r2` console script (known by its own name)."""
    name = os.path.basename(sys.argv[0])
    sys.exit(main(prog=PROG if name in ("__main__.py", "-m", "") else name))


if __name__ == "__main__":
    run()
