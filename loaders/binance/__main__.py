"""`python -m loaders.binance` and the installed `binance-loader` (both call `run`): see
loaders/binance/cli.py.

This process is the loader's own, so before pyarrow and numpy load it is tuned for the job. Each measure
stays only while it wins >=10% wall on a one-archive run (`--intervals 1m --start 2024-12-31` of
benchmarks/bench_loader.py's data, median of 12-20 alternating runs, 2026-12-02); glibc `mallopt`
did not (no gain on the one-archive run nor on the 1s month) and was removed.
"""

import contextlib
import gc
import os
import sys


class _NoPandas:
    """An import finder that says pandas is absent (see _skip_pandas)."""

    @staticmethod
    def find_spec(name: str, *args: object) -> None:
        if name == "pandas":
            raise ImportError("the loader does not use pandas")


def _skip_pandas() -> None:
    """pyarrow imports pandas (when installed) on its first array, to recognise inputs the loader never
    passes: let that one probe find none."""
    if "pandas" not in sys.modules:
        import pyarrow as pa

        sys.meta_path.insert(0, _NoPandas)  # type: ignore[arg-type]
        try:
            pa.array([0])
        finally:
            sys.meta_path.remove(_NoPandas)  # type: ignore[arg-type]


def run() -> None:
    """Tune the process, then run the command line; never returns (sys.exit)."""
    # numpy's OpenBLAS starts a spinning thread per core at import, for linear algebra the loader never does.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one-archive run 0.53 s -> 0.43 s
    _skip_pandas()  # 0.85 s -> 0.53 s

    from loaders.binance.cli import PROG, main

    # The console script is known by its own name; `python -m` by the module's.
    name = os.path.basename(sys.argv[0])
    prog = PROG if name in ("__main__.py", "-m", "") else name
    gc.freeze()  # import-time objects live all run; no collector rescans: 0.45-0.59 s -> 0.38-0.47 s
    try:
        _exit(main(prog=prog))
    except BrokenPipeError:  # `status | head`: the reader left; no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        _exit(1)


def _exit(code: int) -> None:
    """Exit without the interpreter's teardown. By now every thread the loader started is joined and
    every file it wrote is closed; what remains are pyarrow's own pool threads, and a finalizing
    interpreter aborts the process (SIGABRT, exit 134) if one of them touches Python at that moment.
    Exit codes are the contract (docs/loading.md, exit status)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
