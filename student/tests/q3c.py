from otter.test_files import test_case

OK_FORMAT = False

name = "q3c"
points = 3

@test_case(points=0, hidden=False)
def test_q3c_consistent_and_relu_net_invariants(env):
    import numpy as np
    relu_net = env.get('relu_net')
    assert callable(relu_net), '3(c) needs your relu_net from 3(a): it is not defined'
    assert 'f_at_2' in env and env['f_at_2'] is not Ellipsis and (env['f_at_2'] is not None), '3(c) is not answered yet: set f_at_2'
    f_at_2 = env['f_at_2']
    assert isinstance(f_at_2, (int, float, np.number)) or (isinstance(f_at_2, np.ndarray) and f_at_2.ndim == 0), 'f_at_2 must be a single number'

    def f(x, theta):
        try:
            value = relu_net(x, theta)
        except Exception as error:
            raise AssertionError(f'relu_net raised {type(error).__name__}: {error}') from None
        assert value is not None and value is not Ellipsis, '3(a) is not answered yet: relu_net returns None'
        return float(value)
    assert np.isclose(float(f_at_2), f(2, env['theta0']), rtol=1e-09, atol=1e-12), 'f_at_2 must be relu_net(2, theta0): your network at x = 2 with theta0'
    silent = {'W_H': np.array([0.5, -1.0, 2.0, 1.0]), 'b_H': np.array([0.3, 0.1, -0.4, 2.0]), 'W_O': np.zeros(4), 'b_O': -0.7}
    assert np.isclose(f(1.5, silent), -0.7), 'with all output weights W_O = 0, f(x) must be the output bias b_O (here -0.7): check b_O, and that the output unit is linear (no ReLU on the output)'
    one = {'W_H': np.array([1.0, 0.0, 0.0, 0.0]), 'b_H': np.array([-1.0, -1.0, -1.0, -1.0]), 'W_O': np.array([2.0, 0.0, 0.0, 0.0]), 'b_O': 0.0}
    assert np.isclose(f(0.0, one), f(0.5, one)), 'a hidden unit with z_bar = W_H x + b_H < 0 must contribute nothing (the ReLU makes it 0), but with one unit your f(0) and f(0.5) differ although z_bar < 0 at both'
    assert np.isclose(f(3.0, one) - f(2.0, one), 2.0), 'an active unit (z_bar > 0) adds W_O * z_bar: with one unit of W_H = 1, W_O = 2, f(3) - f(2) must be 2'

