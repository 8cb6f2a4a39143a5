# expect: continuous_future is not supported
from zipline.api import continuous_future

def initialize(context):
    context.es = continuous_future('ES', offset=0, roll='calendar')
