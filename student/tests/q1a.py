from otter.test_files import test_case

OK_FORMAT = False

name = "q1a"
points = 2

@test_case(points=0, hidden=False)
def test_q1a_gradient_check(env):
    import numpy as np
    grad_squared_norm = env.get('grad_squared_norm')
    assert callable(grad_squared_norm), '1(a) is not answered yet: grad_squared_norm is not defined (run its cell)'
    x = np.array([0.3, -1.2, 2.0, 0.7, -0.4])
    try:
        g = grad_squared_norm(x.copy())
    except Exception as error:
        raise AssertionError(f'grad_squared_norm(x) raised {type(error).__name__}: {error}') from None
    assert g is not None and g is not Ellipsis, '1(a) is not answered yet: grad_squared_norm returns None (replace the ... in its body)'
    assert np.shape(g) == x.shape, f'grad_squared_norm(x) must return an array of the shape of x, {x.shape}; it returned shape {np.shape(g)}'
    h = 1e-06
    numeric = np.array([((x + h * e) @ (x + h * e) - (x - h * e) @ (x - h * e)) / (2 * h) for e in np.eye(x.size)])
    g = np.asarray(g, dtype=float)
    error = np.max(np.abs(g - numeric) / np.maximum(np.abs(g) + np.abs(numeric), 1e-08))
    assert error < 1e-05, f'gradient check failed: your gradient differs from the centred differences (f(x + h e_j) - f(x - h e_j)) / 2h of f(x) = x . x by a relative error of {error:.2g} (a correct gradient gives less than 1e-5): derive df/dx_j again, component by component'

