# expect: batch_transform is not supported
@batch_transform(window_length=10)
def ols_transform(datapanel):
    return datapanel['price'].mean()

def initialize(context):
    context.stock = sid(24)
