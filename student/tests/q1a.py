from otter.test_files import test_case

OK_FORMAT = False

name = "q1a"
points = 2

@test_case(points=0, hidden=False)
def test_q1a_returns_vector_of_same_shape(grad_squared_norm, np):
    g = grad_squared_norm(np.array([1.0, -2.0, 0.5]))
    assert np.shape(g) == (3,), 'grad_squared_norm(x) must return an array with the same shape as x'

