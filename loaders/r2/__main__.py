"""`python -m loaders.r2 push [--lake DIR] [--dry-run] [--delete] [--workers N]` and
`python -m loaders.r2 ls [SUBPATH]`.

Exit codes: 0 done, 1 a request or upload failed, 2 bad configuration or arguments. Every failure is
one line on stderr naming the variable, bucket or endpoint at fault, never the secret.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from loaders import config
from loaders.r2.mirror import format_listing, list_remote, push
from loaders.r2.settings import R2ConfigError, R2Error, R2Settings


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m loaders.r2",
        description="Mirror the Parquet lake to an R2 / S3-compatible bucket (configured by R2_* variables).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("push", help="upload new or changed lake files; skip the rest")
    p.add_argument("--lake", help="lake root (default: LAKE_DIR or ./lake)")
    p.add_argument(
        "--dry-run", action="store_true", help="print what would be uploaded/deleted; change nothing"
    )
    p.add_argument(
        "--delete", action="store_true", help="delete objects under R2_PREFIX the lake no longer has"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=config.R2_DEFAULT_WORKERS,
        help=f"parallel uploads (default {config.R2_DEFAULT_WORKERS})",
    )
    p.add_argument(
        "--no-progress", action="store_true", help="no progress bar (it is off anyway when not a TTY)"
    )
    ls = sub.add_parser("ls", help="list the objects under R2_PREFIX")
    ls.add_argument("subpath", nargs="?", default="", help="only keys under R2_PREFIX + SUBPATH")
    args = parser.parse_args(argv)
    if args.command == "push" and not 1 <= args.workers <= 64:
        parser.error(f"--workers must be between 1 and 64, not {args.workers}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = R2Settings.from_env()
    except R2ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "ls":
            client = settings.client()
            for line in format_listing(list(list_remote(client, settings, args.subpath.lstrip("/")))):
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
    for failure in summary.failed:
        print(f"error: {failure}", file=sys.stderr)
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
