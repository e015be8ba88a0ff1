from otter.test_files import test_case

OK_FORMAT = False

name = "q5_3"
points = 10

@test_case(points=0, hidden=False)
def test_q5_3_gradient_shapes(backprop_one, weights, biases, x_train, y_train):
    grad_weights, grad_biases = backprop_one(x_train[0], y_train[0], weights, biases)
    assert [g.shape for g in grad_weights] == [w.shape for w in weights], 'each weight gradient must have the shape of its weight matrix'
    assert [g.shape for g in grad_biases] == [b.shape for b in biases], 'each bias gradient must have the shape of its bias vector'

