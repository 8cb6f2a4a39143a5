"""Typed errors of the IB adapter. Each carries IB's code and text when there is one, and says what to do."""

from __future__ import annotations

from collections.abc import Sequence

from runtime.core.ib.errors import default_ports_text, error_info
from runtime.errors import IbAlgoError, NotConnectedError


class IBError(IbAlgoError):
    """An error reported by (or about) TWS / IB Gateway. ``code`` and ``text`` are IB's, when IB sent them."""

    def __init__(self, message: str, code: int | None = None, text: str = "", req_id: int | None = None) -> None:
        self.code = code
        self.text = text
        self.req_id = req_id
        super().__init__(message)

    @classmethod
    def from_ib(cls, code: int, text: str, req_id: int | None = None, what: str = "") -> IBError:
        """The error for an IB error message, with the code table's advice appended."""
        info = error_info(code)
        advice = f" ({info.action})" if info.action else ""
        subject = f"{what}: " if what else ""
        return cls(f"{subject}IB error {code}: {text}{advice}", code, text, req_id)


class IBConnectError(IBError, NotConnectedError):
    """Cannot connect to TWS / IB Gateway (502: nothing listening, or the API is not enabled)."""

    @classmethod
    def cannot_connect(cls, host: str, port: int, detail: str = "") -> IBConnectError:
        extra = f" ({detail})" if detail else ""
        return cls(
            f"cannot connect to TWS / IB Gateway at {host}:{port}{extra}. Is TWS or IB Gateway running and logged in, "
            "with 'Enable ActiveX and Socket Clients' ticked (Configure > API > Settings) and this port set there? "
            f"Default ports: {default_ports_text()}.",
            502,
        )


class ClientIdInUseError(IBConnectError):
    """Error 326: another connection uses this client id."""

    def __init__(self, client_id: int, text: str = "") -> None:
        super().__init__(
            f"client id {client_id} is already in use at TWS / IB Gateway (IB error 326). Use another client id "
            f"(e.g. {client_id + 1}), or close the other program; after a crash TWS frees the id within a minute.",
            326, text,
        )
        self.client_id = client_id


class AccountNotFoundError(IBConnectError):
    """The configured account code is not one of the accounts this login manages."""

    def __init__(self, account: str, managed: Sequence[str]) -> None:
        listed = ", ".join(managed) if managed else "(none reported)"
        super().__init__(f"account {account!r} is not managed by this TWS / IB Gateway login; its accounts are: "
                         f"{listed}. Set the account code to one of them.")
        self.account = account
        self.managed = tuple(managed)


class IBTimeoutError(IBError):
    """A request got no (complete) answer in time."""


class IBRequestCancelled(IBError):
    """A request was abandoned because the connection was lost before it completed."""


class ContractNotFoundError(IBError):
    """Error 200 (or no contract details at all) for a contract description."""


class AmbiguousContractError(IBError):
    """Several contracts match a description; ``candidates`` lists them."""

    def __init__(self, message: str, candidates: Sequence[str]) -> None:
        super().__init__(message, 200)
        self.candidates = tuple(candidates)


class HistoricalDataError(IBError):
    """Error 162 and friends: pacing violation, no data, no permissions."""


class MarketDataError(IBError):
    """Market data could not be subscribed (354 without delayed data, 10168...)."""


class OrderError(IBError):
    """An order could not be built or sent (the engine gets the reason; nothing was sent)."""
