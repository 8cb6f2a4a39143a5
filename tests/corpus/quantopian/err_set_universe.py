# expect: is not supported: Quantopian removed the universe
def initialize(context):
    set_universe(universe.DollarVolumeUniverse(floor_percentile=98.0, ceiling_percentile=100.0))

def handle_data(context, data):
    pass
