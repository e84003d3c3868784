"""The load run's progress bar (stderr, only on a terminal unless asked): archives done out of planned,
with rows and megabytes so far."""

from __future__ import annotations

import sys

from tqdm import tqdm


class Progress:
    def __init__(self, show: bool | None) -> None:
        self.bar = tqdm(
            unit="archive",
            file=sys.stderr,
            disable=(not sys.stderr.isatty()) if show is None else not show,
            dynamic_ncols=True,
            total=0,
        )

    def planned(self, n: int) -> None:
        """More archives to do (with --symbols ALL they arrive series by series)."""
        self.bar.total += n
        self.bar.refresh()

    def advance(self, rows: int, size: int) -> None:
        self.bar.update(1)
        self.bar.set_postfix_str(f"{rows:,} rows, {size / 1e6:,.1f} MB", refresh=False)

    def close(self) -> None:
        self.bar.close()
