from otter.test_files import test_case

OK_FORMAT = False

name = "q1b"
points = 2

@test_case(points=0, hidden=False)
def test_q1b_is_a_minimum(env):
    import numpy as np
    best_mu = env.get('best_mu')
    assert callable(best_mu), '1(b) is not answered yet: best_mu is not defined (run its cell)'
    X = np.array([[1.0, 2.0, -1.0], [0.5, -3.0, 2.0], [4.0, 0.0, 1.0], [-2.0, 1.0, 0.5]])
    try:
        mu = best_mu(X.copy())
    except Exception as error:
        raise AssertionError(f'best_mu(X) raised {type(error).__name__}: {error}') from None
    assert mu is not None and mu is not Ellipsis, '1(b) is not answered yet: best_mu returns None (replace the ... in its body)'
    assert np.shape(mu) == (3,), f'best_mu(X) must return a vector of shape (d,) = (3,) for X of shape (n, d) = (4, 3), one entry per coordinate; it returned shape {np.shape(mu)}'
    mu = np.asarray(mu, dtype=float)

    def objective(m):
        return float(((X - m) ** 2).sum())
    h = 1e-05
    slope = np.array([(objective(mu + h * e) - objective(mu - h * e)) / (2 * h) for e in np.eye(3)])
    assert np.max(np.abs(slope)) < 1e-06 * max(1.0, objective(mu)), 'your mu is not a minimum of sum_i ||x_i - mu||^2: centred differences of that sum show a non-zero gradient at your mu'

