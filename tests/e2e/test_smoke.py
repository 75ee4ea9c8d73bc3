"""The engine streams book, bbo and trade events from a loopback venue."""

from __future__ import annotations

from venuefeed.core.events import Bbo, Book, Status, Trade


async def test_streams_books_bbo_and_trades(fake_venue, engine_for, next_matching):
    venue, base = fake_venue
    async with engine_for(base) as engine:
        sub = engine.events()
        live = await next_matching(sub, lambda e: isinstance(e, Status) and e.state == "live")
        assert live.venue == "fakex"
        book = await next_matching(sub, lambda e: isinstance(e, Book) and e.symbol == "ETH")
        assert book.instrument == "ETH-PERP"
        assert book.bids[0][0] == 100.0 and book.asks == [(101.0, 1.5), (102.0, 3.0)]
        bbo = await next_matching(sub, lambda e: isinstance(e, Bbo))
        assert (bbo.bid_px, bbo.ask_px, bbo.ask_sz) == (100.0, 101.0, 1.5)
        trade_id = await venue.trade("BTC-PERP")
        trade = await next_matching(sub, lambda e: isinstance(e, Trade))
        assert (trade.trade_id, trade.price, trade.size, trade.side) == (
            trade_id,
            100.5,
            0.25,
            "buy",
        )
        assert trade.ts_venue == 1_700_000_000_000 + int(trade_id) and trade.symbol == "BTC"
