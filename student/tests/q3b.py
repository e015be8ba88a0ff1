from otter.test_files import test_case

OK_FORMAT = False

name = "q3b"
points = 3

@test_case(points=0, hidden=False)
def test_q3b_returns_gradient_dict(env):
    import numpy as np
    theta0 = env['theta0']
    saved = env.get('grad_f')
    if saved is None:
        env['grad_f'] = lambda x, theta: {k: np.zeros_like(np.asarray(v, dtype=float)) for k, v in theta.items()}
    try:
        g = env['grad_loss'](np.array([0.0, 1.0]), np.array([1.0, 0.0]), theta0)
    finally:
        if saved is None:
            del env['grad_f']
    assert isinstance(g, dict) and set(g) == set(theta0), 'grad_loss must return a dict with the keys of theta'

