# expect: future_symbol('ESZ12'): the data holds no futures contract
def initialize(context):
    context.es = future_symbol('ESZ12')
