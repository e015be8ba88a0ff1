from otter.test_files import test_case

OK_FORMAT = False

name = "q5_1"
points = 5

@test_case(points=0, hidden=False)
def test_q5_1_shapes(init_params):
    weights, biases = init_params([784, 32, 32, 10], 80085)
    assert [tuple(w.shape) for w in weights] == [(32, 784), (32, 32), (10, 32)], 'weights[l] must have shape (n_out, n_in)'
    assert [tuple(b.shape) for b in biases] == [(32,), (32,), (10,)], 'biases[l] must have shape (n_out,)'

