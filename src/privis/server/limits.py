"""What a server holds for its clients: a byte budget across all requests in flight, and bodies read within it.

A per-request size limit alone lets twenty clients each send a body just under it at
once; the budget bounds their sum. A request the budget cannot admit is answered 503
at once (before its body is read), so memory stays bounded instead of queueing.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5
_STEP = 1 << 20  # a body without a declared length is admitted a MiB at a time


class ByteBudget:
    """`limit` bytes shared by every request in flight; `take` refuses rather than waits.

    >>> budget = ByteBudget(100)
    >>> budget.take(60), budget.take(60), budget.in_flight
    (True, False, 60)
    """

    def __init__(self, limit: int) -> None:
        self.limit = int(limit)
        self.in_flight = 0
        self._lock = threading.Lock()

    def take(self, n: int) -> bool:
        """Hold `n` more bytes if the budget has them."""
        with self._lock:
            if self.in_flight + n > self.limit:
                return False
            self.in_flight += n
            return True

    def give(self, n: int) -> None:
        """Return `n` bytes taken earlier."""
        with self._lock:
            self.in_flight = max(0, self.in_flight - n)


@contextlib.asynccontextmanager
async def limited_body(request: Any, budget: ByteBudget, limit: int, what: str) -> AsyncIterator[bytes]:
    """The whole body of `request` (a Starlette request), held against `budget` until the block ends.

    Raises HTTPException: 413 over `limit`, 503 when the budget is spent (with Retry-After),
    400 when the body is empty or the client hangs up part-way (logged quietly: nobody is
    left to read the answer).
    """
    from fastapi import HTTPException
    from starlette.requests import ClientDisconnect

    declared = request.headers.get("content-length")
    expected = int(declared) if declared is not None and declared.isdigit() else None
    if expected is not None and expected > limit:
        raise HTTPException(413, f"{what} of {expected} bytes is over the {limit}-byte limit")
    held = 0

    def hold(n: int) -> None:
        nonlocal held
        if not budget.take(n):
            raise HTTPException(503, f"busy: {budget.in_flight} of {budget.limit} bytes in flight from other "
                                     f"requests; retry in {RETRY_AFTER_S} s",
                                headers={"Retry-After": str(RETRY_AFTER_S)})  # fmt: skip
        held += n

    try:
        if expected:
            hold(expected)
        buffer, size = io.BytesIO(), 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HTTPException(413, f"{what} is over the {limit}-byte limit")
                if size > held:
                    hold(max(size - held, _STEP))
                buffer.write(chunk)
        except ClientDisconnect:
            log.info("a client hung up after sending %d bytes of %s", size, what)
            raise HTTPException(400, f"the upload of {what} was cut short") from None
        if not size:
            raise HTTPException(400, f"empty body: expected {what}")
        body = buffer.getvalue()  # shares the buffer's storage rather than copying it
        del buffer
        yield body
    finally:
        budget.give(held)
