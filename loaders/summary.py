"""The shape every loader command's result shares (`python -m loaders.binance load`, `python -m
loaders.r2 push`): `ok`, `failures` (one line each) and `line()` (the one-line summary), so a caller
such as the update command reads both the same way."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RunSummary:
    """What a command did. Subclasses add their counts and their `line()`."""

    failures: list[str] = field(default_factory=list)  # one line per failure, printed after the summary line
    seconds: float = 0.0
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        """Success: nothing failed. A subclass may ask more (e.g. that something was loaded)."""
        return not self.failures

    @property
    def exit_code(self) -> int:
        """0 on success, 1 when something failed (the rest was done): both CLIs' contract."""
        return 0 if self.ok else 1

    def line(self) -> str:
        raise NotImplementedError
