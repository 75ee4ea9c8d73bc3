"""The cluster demo's accounting (`make cluster-demo`), fed deliberately broken tails: a
checker that cannot fail proves nothing."""

from __future__ import annotations

from bench.cluster_accounting import Received, VenueRow, account, failed, lost_trades, table

#: venue -> symbol -> (trade id, made at wall ms): ids 1-3 before the window opened at
#: 1000 ms, 4-9 in it, 10 after the cutoff at 2000 ms
MADE = {
    "aster": {"BTC": [(i, 200 + i * 200) for i in range(1, 11)]},
    "lighter": {"ETH": [(1, 1500)]},
}
WINDOWS = {("aster", "BTC"): (1000, 2000), ("lighter", "ETH"): (1000, 2000)}


def tail(ids: list[int], venue: str = "aster", symbol: str = "BTC") -> list[Received]:
    return [Received(venue, symbol, i, float(n)) for n, i in enumerate(ids)]


def row(rows: list[VenueRow], venue: str) -> VenueRow:
    return next(r for r in rows if r.venue == venue)


def test_a_clean_tail_passes_and_backfill_and_late_trades_are_not_owed():
    got = tail([2, 3, 4, 5, 6, 7, 8, 9, 10]) + tail([1], "lighter", "ETH")  # 2, 3: backfill
    rows = account(MADE, got, WINDOWS)
    assert row(rows, "aster") == VenueRow("aster", 6, 6, 9, 0, 0, 1.0)
    assert failed(rows) == []
    assert table(rows)[-1].split()[:6] == ["all", "7", "7", "10", "0", "0"]


def test_a_duplicated_and_a_lost_trade_are_reported_and_fail():
    got = tail([4, 5, 5, 7, 8, 9]) + tail([1], "lighter", "ETH")  # 5 twice, 6 never
    rows = account(MADE, got, WINDOWS)
    aster = row(rows, "aster")
    assert (aster.duplicates, aster.lost, aster.received) == (1, 1, 5)
    assert failed(rows) == ["aster: 1 duplicate trade(s)", "aster: 1 lost trade(s)"]
    assert lost_trades(MADE, got, WINDOWS) == [("aster", "BTC", 6, 1400)]


def test_a_duplicate_outside_the_window_still_fails_and_an_empty_venue_is_not_a_pass():
    got = tail([1, 1, 4, 5, 6, 7, 8, 9])  # a backfilled trade published twice; lighter: none
    rows = account(MADE, got, WINDOWS)
    assert failed(rows) == ["aster: 1 duplicate trade(s)", "lighter: 1 lost trade(s)"]
    assert lost_trades(MADE, got, WINDOWS) == [("lighter", "ETH", 1, 1500)]
    assert lost_trades(MADE, got, {}) == []
    assert failed(account(MADE, got, {})) == [
        "aster: 1 duplicate trade(s)",
        "aster: no trade in the window (nothing was checked)",
        "lighter: no trade in the window (nothing was checked)",
    ]


def test_the_longest_gap_is_between_arrivals_of_owed_trades():
    got = [Received("aster", "BTC", i, at) for i, at in [(4, 0.0), (5, 0.5), (6, 4.0), (7, 4.1)]]
    got += [Received("aster", "BTC", 2, 9.0)]  # a backfilled trade, late: not in the gap
    assert row(account(MADE, got, WINDOWS), "aster").longest_gap_s == 3.5
