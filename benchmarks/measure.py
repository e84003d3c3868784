"""How the benchmarks measure a command: its own child process, wall time, CPU time (the child and its
reaped descendants, from wait4; optionally the descendants nobody reaps, sampled from /proc) and the
peak RSS of its process tree (sampled from /proc)."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Measured:
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    exit_code: int
    stdout: str
    stderr: str


def _tree(pid: int) -> Iterator[int]:
    """`pid` and its descendants, from each thread's /proc children list. psutil's children() scans every process on the machine: every 10 ms that took a
    fifth of a core, which the measured pipelines then lost."""
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
            yield p
        except (OSError, ValueError):  # the process or thread just ended
            continue


def _read(pid: int, name: str) -> str | None:
    try:
        with open(f"/proc/{pid}/{name}") as f:
            return f.read()
    except OSError:  # the process just ended
        return None


def tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and its descendants, from /proc/<pid>/statm."""
    statm = (_read(p, "statm") for p in _tree(pid))
    return sum(int(text.split()[1]) * _PAGE for text in statm if text)


def tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + sys) so far of `pid` and each of its descendants, from /proc/<pid>/stat."""
    out: dict[int, float] = {}
    for p in _tree(pid):
        if text := _read(p, "stat"):
            fields = text.rsplit(")", 1)[1].split()
            out[p] = (int(fields[11]) + int(fields[12])) / _TICKS
    return out


def run_measured(
    cmd: Sequence[str],
    env: Mapping[str, str] | None = None,
    cwd: Path = REPO_ROOT,
    *,
    count_unreaped: bool = False,
) -> Measured:
    """Run `cmd`, measuring wall time and the peak RSS of its process tree (sampled every 20 ms; wait4's
    ru_maxrss would include this parent's memory, inherited across fork). Output goes to temporary
    files, not pipes: a chatty child must never block on a full pipe while it is timed.

    count_unreaped: add the CPU of the descendants, at their last sample. pyspark starts Spark's JVM and
    leaves it to exit on its own, so wait4 sees the dbt process and none of Spark's work. (A descendant
    the child does reap would count twice: dbt starts none that matter.)"""
    full_env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=full_env, stdout=out, stderr=err, text=True)
        peak, descendants = 0, {}
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, tree_rss(proc.pid))
            if count_unreaped:
                descendants.update({p: c for p, c in tree_cpu(proc.pid).items() if p != proc.pid})
            time.sleep(0.02)
        seconds = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        cpu = usage.ru_utime + usage.ru_stime + sum(descendants.values())
        return Measured(seconds, cpu, peak / 1e6, os.waitstatus_to_exitcode(status), out.read(), err.read())
