from otter.test_files import test_case

OK_FORMAT = False

name = "q2a"
points = 3

@test_case(points=0, hidden=False)
def test_q2a_returns_scalar(env):
    import numpy as np
    l1_loss = env.get('l1_loss')
    assert callable(l1_loss), '2(a) is not answered yet: l1_loss is not defined (run its cell)'

    def loss(X, y, w):
        errors = []
        for column in (False, True):
            try:
                value = l1_loss(X.copy(), y.reshape(-1, 1) if column else y.copy(), w.reshape(-1, 1) if column else w.copy())
            except Exception as error:
                errors.append(error)
                continue
            assert value is not None and value is not Ellipsis, '2(a) is not answered yet: l1_loss returns None (replace the ... in its body)'
            assert np.ndim(value) == 0, f'l1_loss must return a single number (shape ()), not an array of shape {np.shape(value)}'
            return float(value)
        raise AssertionError('l1_loss raised an error for 1-D vectors and for column vectors alike: ' + '; '.join((f'{type(e).__name__}: {e}' for e in errors))) from errors[0]
    X = np.array([[1.0, 2.0], [0.5, -1.0], [-1.5, 0.3], [2.0, 1.0]])
    w = np.array([0.4, -0.7])
    y = np.array([1.0, -0.2, 0.9, -1.5])
    total = loss(X, y, w)
    assert total >= 0, 'a norm is never negative, but l1_loss returned a negative number'
    assert abs(loss(X, X @ w, w)) < 1e-05 * np.abs(X @ w).sum(), 'when y = Xw exactly, every residual is 0 and so must be the loss'
    flipped = np.array([-1.0, 1.0, 1.0, 1.0])
    assert np.isclose(loss(X * flipped[:, None], y * flipped, w), total), 'the l1 loss must not change when one residual changes sign: it adds up absolute values of the residuals'
    assert np.isclose(loss(X, 3 * y, 3 * w), 3 * total), 'scaling every residual by 3 must scale an l1 loss by 3'
    assert np.isclose(loss(X[:2], y[:2], w) + loss(X[2:], y[2:], w), total), 'the loss of all the points must be the sum of the losses of two halves: the text asks for the sum, not the mean'

