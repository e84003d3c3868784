"""One line when a request to the bucket goes unanswered for a few seconds, so a push or `ls` against
an endpoint that accepts connections and never answers says what it waits for instead of nothing.

botocore signals each attempt of a request: `before-send` as it goes out, `needs-retry` once its
answer (or error) is in, both in the thread that makes the request. A watcher thread looks at the
attempts still out; the first one older than the notice threshold is reported, once per run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from loaders import config
from loaders.r2.settings import R2Settings

# Requests that carry a body: a long wait there is the upload itself (the progress bar shows it).
_BODY_OPERATIONS = frozenset({"PutObject", "UploadPart"})


class WaitNotice:
    """Attach to clients with `watch(client)`; use as a context manager around the requests."""

    def __init__(
        self,
        settings: R2Settings,
        notice: Callable[[str], None],
        after: float = config.R2_WAIT_NOTICE_SECONDS,
    ) -> None:
        self.settings, self.notice = settings, notice
        # Never later than the request's own timeout, or the notice would come after the retry.
        self.after = min(after, settings.timeout / 2)
        self.out: dict[int, tuple[float, str]] = {}  # thread id -> (sent at, operation)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="r2-wait-notice", daemon=True)

    def watch(self, client) -> None:
        client.meta.events.register("before-send.s3", self._sent)
        client.meta.events.register("needs-retry.s3", self._answered)

    def _sent(self, event_name: str = "", **kwargs) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        if operation not in _BODY_OPERATIONS:
            with self.lock:
                self.out[threading.get_ident()] = (time.monotonic(), operation)
        # None: botocore sends the request itself (a value here would replace the response).

    def _answered(self, **kwargs) -> None:
        with self.lock:
            self.out.pop(threading.get_ident(), None)
        # None: the retry handler decides (a value here would be read as a delay before retrying).

    def _watch(self) -> None:
        while not self.stop.wait(min(0.25, self.after / 4)):
            now = time.monotonic()
            with self.lock:
                waiting = [(now - t, op) for t, op in self.out.values() if now - t >= self.after]
            if waiting:
                seconds, operation = max(waiting)
                s = self.settings
                self.notice(
                    f"waiting for {s.endpoint_url} (bucket {s.bucket!r}): no answer to {operation} "
                    f"after {seconds:.0f} s; giving up after {s.patience}"
                )
                return

    def __enter__(self) -> WaitNotice:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
