"""`python -m loaders.binance`: see loaders/binance/cli.py.

This process is the loader's own, so before pyarrow and numpy load it is tuned for the job (each
measured with benchmarks/bench_loader.py; see docs/benchmarks.md).
"""

import ctypes
import gc
import os
import sys

_M_TRIM_THRESHOLD = -1  # glibc mallopt() parameters, from <malloc.h>
_M_MMAP_THRESHOLD = -3


class _NoPandas:
    """An import finder that says pandas is absent (see _tune_process)."""

    @staticmethod
    def find_spec(name: str, *args: object) -> None:
        if name == "pandas":
            raise ImportError("the loader does not use pandas")


def _tune_process() -> None:
    # numpy's OpenBLAS starts a spinning thread per core at import; the loader does no linear algebra.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # Inflated chunks are ~1 MB: glibc would mmap and unmap each one (and trim the heap behind them),
    # page-faulting fresh zeroed memory all the time; keep them on the heap. Half the system time.
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None)
        if hasattr(libc, "mallopt"):  # glibc (musl's is a no-op)
            libc.mallopt(_M_MMAP_THRESHOLD, 4 << 20)
            libc.mallopt(_M_TRIM_THRESHOLD, 32 << 20)
    # pyarrow imports pandas (when installed) on its first array, to recognise pandas inputs: ~0.4 s of
    # every run, for inputs the loader never passes. Let pyarrow's one probe find no pandas.
    if "pandas" not in sys.modules:
        import pyarrow as pa

        sys.meta_path.insert(0, _NoPandas)  # type: ignore[arg-type]
        try:
            pa.array([0])
        finally:
            sys.meta_path.remove(_NoPandas)  # type: ignore[arg-type]


_tune_process()

from loaders.binance.cli import main  # noqa: E402

# Objects made by the imports live for the whole run; the collector need not scan them again.
gc.freeze()
try:
    sys.exit(main())
except BrokenPipeError:  # `status | head`: the reader left; no traceback
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(1)
