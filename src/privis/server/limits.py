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
import traceback
from collections.abc import AsyncIterator
from dataclasses import dataclass
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


@dataclass
class Body:
    """A request body held against a budget. `data` is emptied when its block ends.

    Pass the `Body`, not its bytes, to code that may keep a reference (a worker thread's
    last job, a traceback's frames): the memory goes back to the budget's owner all the same.
    """

    data: bytes


def _forget_frames(exc: BaseException) -> None:
    """Drop the locals of finished frames along `exc`'s chain, which would keep a body alive until gc."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        traceback.clear_frames(link.__traceback__)
        link = link.__cause__ or link.__context__


@contextlib.asynccontextmanager
async def limited_body(request: Any, budget: ByteBudget, limit: int, what: str) -> AsyncIterator[Body]:
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
        body = Body(buffer.getvalue())  # shares the buffer's storage rather than copying it
        del buffer
        try:
            yield body
        except BaseException as exc:
            _forget_frames(exc)  # an exception chain would otherwise hold the bytes until gc
            raise
        finally:
            body.data = b""
    finally:
        budget.give(held)
