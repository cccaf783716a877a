"""asyncio glue for the native module's awaitable waits."""

import asyncio


async def run_blocking(func, *args):
    """Awaits ``func(*args)`` run in the running loop's default executor: the blocking
    call (which releases the GIL) happens on a worker thread while the loop keeps
    running. Cancelling the await does not stop the call on its thread."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, func, *args)
