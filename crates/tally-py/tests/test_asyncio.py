"""asyncio: recording never blocks the loop; waits for epochs are awaitable."""

import asyncio
import time

import tally


def test_recording_from_coroutines_is_exact_and_waiting_does_not_block_the_loop():
    async def main():
        stats = tally.InferenceStats()
        ticks = 0

        async def heartbeat(stop):
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.001)

        async def handler(i):
            await asyncio.sleep(0)
            stats.record_inference(success=i % 5 != 0, cache_hit=i % 2 == 0, latency_s=0.001)

        stop = asyncio.Event()
        beat = asyncio.create_task(heartbeat(stop))
        after = stats.latest().number
        # Nobody refreshes for 0.2 s: the wait runs on an executor thread meanwhile.
        waiter = asyncio.create_task(stats.next_epoch(after, timeout=30))  # a coroutine
        await asyncio.gather(*(handler(i) for i in range(1_000)))
        ticks_before = ticks
        await asyncio.sleep(0.2)
        assert not waiter.done()
        assert ticks > ticks_before + 10  # the loop kept running while the wait blocked
        epoch = await asyncio.get_running_loop().run_in_executor(None, stats.refresh)
        got = await waiter
        assert got.number >= epoch.number > after
        assert got.snapshot.total_inferences == 1_000
        assert got.snapshot.failed_inferences == 200
        until = await stats.until(lambda s: s.total_inferences >= 1_000, timeout=5)
        assert until.snapshot.is_coherent()
        stop.set()
        await beat

    asyncio.run(main())


def test_awaited_wait_times_out_with_timeout_error():
    async def main():
        s = tally.MetricSet(counters=["x"])
        t0 = time.monotonic()
        try:
            await s.next_epoch(timeout=0.05)
        except TimeoutError:
            return time.monotonic() - t0
        raise AssertionError("the wait should have timed out")

    assert asyncio.run(main()) >= 0.05
