# expect: quantopian.research is Quantopian's notebook API
from quantopian.research import get_pricing

def initialize(context):
    pass
