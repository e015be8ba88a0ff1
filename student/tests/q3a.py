from otter.test_files import test_case

OK_FORMAT = False

name = "q3a"
points = 4

@test_case(points=0, hidden=False)
def test_q3a_fits_with_your_relu_net(env):
    import numpy as np
    relu_net = env.get('relu_net')
    assert callable(relu_net), '3(a) is not answered yet: relu_net is not defined (run its cell)'
    try:
        value = relu_net(1.0, env['theta0'])
    except Exception as error:
        raise AssertionError(f'relu_net(1.0, theta0) raised {type(error).__name__}: {error}') from None
    assert value is not None and value is not Ellipsis, '3(a) is not answered yet: relu_net returns None (replace the ... in its body)'
    assert np.ndim(value) == 0, f'relu_net(x, theta) must return a number for a number x, not an array of shape {np.shape(value)}'
    for name, xs, ys in (('theta_dataset1', env['dataset1_x'], env['dataset1_y']), ('theta_dataset2', env['dataset2_x'], env['dataset2_y'])):
        theta = env.get(name)
        assert isinstance(theta, dict) and set(theta) == {'W_H', 'b_H', 'W_O', 'b_O'}, f'{name} must be a dict with keys "W_H", "b_H", "W_O", "b_O"'
        for key, part in theta.items():
            assert part is not Ellipsis and part is not None, f'3(a) is not answered yet: {name}[{key!r}] is still ...'
        try:
            predictions = np.array([float(relu_net(float(x), theta)) for x in xs])
        except Exception as error:
            raise AssertionError(f'relu_net(x, {name}) raised {type(error).__name__}: {error}') from None
        misses = np.abs(predictions - ys)
        assert misses.max() < 1e-06, f'{name} does not fit its dataset exactly: with your relu_net, it misses by {misses.max():.3g} at x = {xs[int(np.argmax(misses))]:g}'

