"""Stock exchanges outside the US that the gateway lists, and the non-US stocks of every gateway universe."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Listing:
    """A stock exchange outside the US: IB's exchange code, the exchange_calendars code, other names clients use."""

    exchange: str
    currency: str
    calendar: str
    tick: float
    aliases: tuple[str, ...] = ()


#: Non-US listings the gateway serves (primary exchange -> listing).
LISTINGS = {
    "LSE": Listing("LSE", "GBP", "XLON", 0.0005, ("LSEETF",)),
    "IBIS": Listing("IBIS", "EUR", "XETR", 0.001, ("XETRA", "IBIS2", "FWB")),
}
#: The non-US stocks of every gateway universe: symbol -> (primary exchange, long name).
INTERNATIONAL_STOCKS = {"BP.": ("LSE", "BP PLC"), "SAP": ("IBIS", "SAP SE")}


__all__ = ["INTERNATIONAL_STOCKS", "LISTINGS", "Listing"]
