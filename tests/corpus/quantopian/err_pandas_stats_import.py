# expect: pandas.stats was removed from pandas
from pandas.stats.moments import rolling_mean

def initialize(context):
    pass
