from otter.test_files import test_case

OK_FORMAT = False

name = "q2a_shapes"
points = 2

@test_case(points=0, hidden=False)
def test_q2a_shapes_fit_together(env):
    import numpy as np
    l1_shapes = env.get('l1_shapes')
    assert callable(l1_shapes), '2(a) shapes is not answered yet: l1_shapes is not defined (run its cell)'
    try:
        shapes = l1_shapes(5, 3)
    except Exception as error:
        raise AssertionError(f'l1_shapes(5, 3) raised {type(error).__name__}: {error}') from None
    assert shapes is not None and shapes is not Ellipsis, '2(a) shapes is not answered yet: l1_shapes returns None (replace the ...)'
    assert isinstance(shapes, dict) and set(shapes) == {'X', 'y', 'w', 'loss'}, 'l1_shapes must return a dict with keys "X", "y", "w", "loss"'
    assert all((isinstance(s, tuple) and all((isinstance(k, int) for k in s)) for s in shapes.values())), 'each shape must be a tuple of ints'
    n, d = (5, 3)
    assert shapes['X'] == (n, d), f"X holds the n points as rows: for n = 5, d = 3 its shape is (n, d) = (5, 3), not {shapes['X']}"
    try:
        other = l1_shapes(7, 2)
    except Exception as error:
        raise AssertionError(f'l1_shapes(7, 2) raised {type(error).__name__}: {error}') from None
    assert isinstance(other, dict) and other.get('X') == (7, 2), 'l1_shapes(7, 2) must describe X of shape (7, 2): use the n and d it is given'
    X, y, w = (np.ones(shapes[key]) for key in ('X', 'y', 'w'))
    try:
        residual_shape = (X @ w).shape
    except ValueError:
        raise AssertionError(f"X of shape {shapes['X']} and w of shape {shapes['w']} cannot be multiplied (Xw)") from None
    assert residual_shape == shapes['y'], f"in your convention Xw has shape {residual_shape} but y has shape {shapes['y']}: Xw - y would broadcast; use 1-D y and w, or columns for both"
    l1_loss = env.get('l1_loss')
    if callable(l1_loss):
        try:
            value = l1_loss(X, y, w)
        except Exception as error:
            raise AssertionError(f'your l1_loss fails on arrays of the shapes l1_shapes gives: {type(error).__name__}: {error}') from None
        if value is not None and value is not Ellipsis:
            assert np.shape(value) == shapes['loss'], f"your l1_loss returns a value of shape {np.shape(value)} for arrays of these shapes, but l1_shapes says the loss has shape {shapes['loss']}"

