# Two accounts (ACCOUNT_CODE = ['DU111', 'DU222']): every order and query names its account.


def initialize(context):
    context.security = symbol('AAPL')
    context.bar = 0
    context.checks = {}


def handle_data(context, data):
    context.bar += 1
    c = context.checks
    if context.bar == 2:
        order_status_monitor(order(context.security, 10, accountCode='DU111'), 'Filled')
        order_status_monitor(order(context.security, 20, accountCode='DU222'), 'Filled')
    elif context.bar == 4:
        c['positions'] = (get_position(context.security, accountCode='DU111').amount,
                          get_position(context.security, accountCode='DU222').amount,
                          count_positions(context.security, accountCode='DU222'))
        c['portfolio'] = context.portfolio.positions[context.security].amount
        c['net'] = (show_account_info('NetLiquidation', accountCode='DU111'),
                    show_account_info('NetLiquidation', accountCode='DU222'))
        c['cash'] = (show_account_info('TotalCashValue', accountCode='DU111'),
                     show_account_info('TotalCashValue', accountCode='DU222'))
        c['orders'] = (len(get_all_orders(accountCode='DU111')), len(get_all_orders(accountCode='DU222')))
        c['shown'] = display_all('DU222')
        c['target'] = order_target(context.security, 5, accountCode='DU222')
    elif context.bar == 6:
        c['after_target'] = get_position(context.security, accountCode='DU222').amount
        end()
