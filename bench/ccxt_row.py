"""ccxt pro on the same Hyperliquid `l2Book` stream (an optional bench dependency: the
`bench` extra; `bench/throughput.py` skips the row when ccxt is absent)."""

from __future__ import annotations

import time

import ccxt
import ccxt.pro


async def ccxt_pro(port: int, n: int) -> float:
    """Frames per second through `watch_order_book`, from the first book returned to the
    end of the stream (ccxt handles every frame in its own callback and hands the loop
    its latest book: like our consumer, the loop sees fewer books than frames)."""
    exchange = ccxt.pro.hyperliquid(
        {"options": {"fetchMarkets": {"types": ["swap"]}}, "newUpdates": False}
    )
    exchange.has["fetchCurrencies"] = False  # spotMeta: the fake venue has no spot
    exchange.urls["api"]["public"] = f"http://127.0.0.1:{port}"
    exchange.urls["api"]["ws"]["public"] = f"ws://127.0.0.1:{port}/ws"
    try:
        await exchange.load_markets()
        symbol = next(s for s in exchange.symbols if s.startswith("BTC/"))
        await exchange.watch_order_book(symbol)
        t0 = time.perf_counter()
        while True:
            try:
                await exchange.watch_order_book(symbol)
            except ccxt.NetworkError:  # the server's close after n frames ends the stream
                break
        elapsed = time.perf_counter() - t0
    finally:
        await exchange.close()
    return n / elapsed
