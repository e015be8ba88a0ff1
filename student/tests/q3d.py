from otter.test_files import test_case

OK_FORMAT = False

name = "q3d"
points = 4

@test_case(points=0, hidden=False)
def test_q3d_gradient_check(env):
    import numpy as np
    grad_f, relu_net = (env.get('grad_f'), env.get('relu_net'))
    assert callable(grad_f), '3(d) is not answered yet: grad_f is not defined (run its cell)'
    assert callable(relu_net), '3(d) needs your relu_net from 3(a): it is not defined'
    keys = ('W_H', 'b_H', 'W_O', 'b_O')

    def call(x, theta):
        try:
            g = grad_f(x, theta)
        except Exception as error:
            raise AssertionError(f'grad_f({x}, theta) raised {type(error).__name__}: {error}') from None
        assert g is not None and g is not Ellipsis, '3(d) is not answered yet: grad_f returns None (replace the ... in its body)'
        assert isinstance(g, dict) and set(g) == set(keys), 'grad_f must return a dict with keys "W_H", "b_H", "W_O", "b_O"'
        assert [np.size(g[k]) for k in keys] == [4, 4, 4, 1], 'grad_f must return 13 entries in all (4, 4, 4 and 1), as theta has'
        low_precision.extend((k for k in keys if np.asarray(g[k]).dtype in (np.float32, np.float16)))
        return {k: np.ravel(np.asarray(g[k], dtype=float)) for k in keys}

    def f(x, th):
        value = relu_net(x, th)
        assert value is not None and value is not Ellipsis, '3(a) is not answered yet: relu_net returns None'
        if np.asarray(value).dtype in (np.float32, np.float16):
            low_precision.append('relu_net')
        return float(value)
    low_precision = []
    theta = {'W_H': np.array([0.7, -1.3, 0.4, 1.1]), 'b_H': np.array([0.2, 0.9, -0.3, -1.6]), 'W_O': np.array([1.2, -0.8, 0.5, 0.9]), 'b_O': 0.3}
    (call(-1.0, theta), f(-1.0, theta))
    h, bound = (0.001, 0.01) if low_precision else (1e-06, 1e-05)
    for x in (-1.0, 0.4, 1.3, 2.2):
        g = call(x, {k: v.copy() if np.ndim(v) else v for k, v in theta.items()})
        for key in keys:
            numeric = []
            for i in range(np.size(theta[key])):
                up = {k: np.array(v, dtype=float) if np.ndim(v) else float(v) for k, v in theta.items()}
                down = {k: np.array(v, dtype=float) if np.ndim(v) else float(v) for k, v in theta.items()}
                if key == 'b_O':
                    up[key] += h
                    down[key] -= h
                else:
                    up[key][i] += h
                    down[key][i] -= h
                numeric.append((f(x, up) - f(x, down)) / (2 * h))
            error = np.max(np.abs(g[key] - numeric) / np.maximum(np.abs(g[key]) + np.abs(numeric), 1e-06))
            assert error < bound, f'gradient check failed at x = {x}: grad_f differs in {key} from centred differences of your relu_net, by a relative error of {error:.2g} (a correct gradient gives less than {bound:g})'
    kink = {'W_H': np.array([1.0, 1.0, 1.0, 1.0]), 'b_H': np.array([-2.0, -1.0, -3.0, 0.5]), 'W_O': np.ones(4), 'b_O': 0.0}
    g = call(2.0, kink)
    assert g['b_H'][0] == 0 and g['W_H'][0] == 0, "at z_bar = 0 the handout's ReLU derivative is 0, so that unit's dW_H and db_H must be 0"
    grad_at_2 = env.get('grad_at_2')
    assert grad_at_2 is not None and grad_at_2 is not Ellipsis, '3(d) is not answered yet: set grad_at_2'
    assert isinstance(grad_at_2, dict) and set(grad_at_2) == set(keys), 'grad_at_2 must be a dict with keys "W_H", "b_H", "W_O", "b_O"'
    expected = call(2, env['theta0'])
    assert all((np.allclose(np.ravel(np.asarray(grad_at_2[k], dtype=float)), expected[k]) for k in keys)), 'grad_at_2 must be grad_f(2, theta0)'

