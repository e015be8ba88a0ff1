from otter.test_files import test_case

OK_FORMAT = False

name = "q1b"
points = 2

@test_case(points=0, hidden=False)
def test_q1b_returns_d_vector(best_mu, np):
    mu = best_mu(np.arange(12.0).reshape(4, 3))
    assert np.shape(mu) == (3,), 'best_mu(X) must return a vector of shape (d,) for X of shape (n, d)'

