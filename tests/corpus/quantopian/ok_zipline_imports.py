"""zipline-era imports: finance modules, execution styles, events, protocol, assets; VolumeShareSlippage limits."""
from zipline.api import order, record, symbol, set_slippage, set_commission
from zipline.finance import commission, slippage
from zipline.finance.execution import LimitOrder, MarketOrder
from zipline.utils.events import date_rules, time_rules  # noqa: F401
from zipline.protocol import BarData  # noqa: F401
from zipline.assets import Equity


def initialize(context):
    context.asset = symbol('MSFT')
    assert isinstance(context.asset, Equity)
    set_slippage(slippage.VolumeShareSlippage(volume_limit=0.025, price_impact=0.1))
    set_commission(commission.PerShare(cost=0.0075, min_trade_cost=1.0))
    context.i = 0


def handle_data(context, data):
    context.i += 1
    if context.i % 10 == 1:
        price = data.current(context.asset, 'price')
        order(context.asset, 100, style=LimitOrder(price * 1.001))
        order(context.asset, -50, style=MarketOrder())
    record(price=data.current(context.asset, 'price'))
