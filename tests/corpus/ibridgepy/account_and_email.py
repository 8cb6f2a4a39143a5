# Account values by IB tag, positions with IBridgePy's fields, a mail after the fill, and the display helpers.


def initialize(context):
    context.security = symbol('IBM')
    context.bar = 0
    context.checks = {}


def handle_data(context, data):
    context.bar += 1
    c = context.checks
    if context.bar == 2:
        order_status_monitor(order(context.security, 20), 'Filled')
    elif context.bar == 5:
        for tag in ('NetLiquidation', 'TotalCashValue', 'GrossPositionValue', 'BuyingPower', 'AvailableFunds',
                    'UnrealizedPnL'):
            c[tag] = show_account_info(tag)
        c['account_buying_power'] = context.account.buying_power
        position = get_position(context.security)
        c['position'] = (position.amount, position.price)
        c['profit'] = calculate_profit(context.security)
        c['mail'] = send_email('IBM bought', 'holding ' + str(position.amount) + ' shares')
        c['shown'] = display_all()
        c['balance'] = display_account_info()
        end()
