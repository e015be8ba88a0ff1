from otter.test_files import test_case

OK_FORMAT = False

name = "q3b"
points = 3

@test_case(points=0, hidden=False)
def test_q3b_gradient_check(env):
    import numpy as np
    grad_loss, relu_net = (env.get('grad_loss'), env.get('relu_net'))
    assert callable(grad_loss), '3(b) is not answered yet: grad_loss is not defined (run its cell)'
    assert callable(relu_net), '3(b) needs your relu_net from 3(a): it is not defined'
    theta = {'W_H': np.array([0.7, -1.3, 0.4, 1.1]), 'b_H': np.array([0.2, 0.9, -0.3, -1.6]), 'W_O': np.array([1.2, -0.8, 0.5, 0.9]), 'b_O': 0.3}
    xs, ys = (np.array([-1.0, 0.4, 1.3, 2.2]), np.array([0.5, -0.2, 1.0, 0.3]))
    h = 1e-06

    def f(x, th):
        value = relu_net(x, th)
        assert value is not None and value is not Ellipsis, '3(a) is not answered yet: relu_net returns None'
        return float(value)

    def shifted(th, key, index, step):
        new = {k: np.array(v, dtype=float) if np.ndim(v) else float(v) for k, v in th.items()}
        if np.ndim(new[key]):
            new[key][index] += step
        else:
            new[key] += step
        return new

    def centred(fun, th):
        return {key: np.array([(fun(shifted(th, key, i, h)) - fun(shifted(th, key, i, -h))) / (2 * h) for i in range(np.size(v))]) if np.ndim(v) else (fun(shifted(th, key, None, h)) - fun(shifted(th, key, None, -h))) / (2 * h) for key, v in th.items()}
    had, saved = ('grad_f' in env, env.get('grad_f'))
    env['grad_f'] = lambda x, th: centred(lambda t: f(x, t), th)
    try:
        g = grad_loss(xs.copy(), ys.copy(), shifted(theta, 'b_O', None, 0.0))
    except AssertionError:
        raise
    except Exception as error:
        raise AssertionError(f'grad_loss(xs, ys, theta) raised {type(error).__name__}: {error}') from None
    finally:
        if had:
            env['grad_f'] = saved
        else:
            del env['grad_f']
    assert g is not None and g is not Ellipsis, '3(b) is not answered yet: grad_loss returns None (replace the ... in its body)'
    assert isinstance(g, dict) and set(g) == set(theta), 'grad_loss must return a dict with the keys of theta'
    numeric = centred(lambda t: sum(((y - f(x, t)) ** 2 for x, y in zip(xs, ys))), theta)
    for key in theta:
        assert np.size(g[key]) == np.size(theta[key]), f'grad_loss(...)[{key!r}] must have the shape of theta[{key!r}], {np.shape(theta[key])}'
        a, n = (np.ravel(np.asarray(g[key], dtype=float)), np.ravel(numeric[key]))
        error = np.max(np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), 1e-06))
        assert error < 0.0001, f'gradient check failed: grad_loss differs in {key} from centred differences of L(theta) = sum_i (y_i - f(x_i, theta))^2 computed with your relu_net, by a relative error of {error:.2g} (a correct gradient gives less than 1e-4): check the chain-rule step from grad f to grad L'

