from otter.test_files import test_case

OK_FORMAT = False

name = "q5_3"
points = 10

@test_case(points=0, hidden=False)
def test_q5_3_gradient_check(env):
    import numpy as np
    backprop_one, forward_one = (env.get('backprop_one'), env.get('forward_one'))
    assert callable(backprop_one), 'Q3 is not answered yet: backprop_one is not defined (run its cell)'
    for name in ('weights', 'biases', 'x_train', 'y_train'):
        assert env.get(name) is not None, f'Q3 needs {name}, which is not defined: answer Q1 and run the cells above'
    own = np.random.default_rng(3)
    W = [own.normal(0.0, 1.0 / np.sqrt(max(np.shape(w))), size=np.shape(w)) for w in env['weights']]
    B = [own.normal(0.0, 0.1, size=np.shape(b)) for b in env['biases']]
    W_given, B_given = ([w.copy() for w in W], [b.copy() for b in B])
    x, y = (env['x_train'][0], env['y_train'][0])
    try:
        result = backprop_one(x, y, W, B)
    except Exception as error:
        raise AssertionError(f'backprop_one(x, y, weights, biases) raised {type(error).__name__}: {error}') from None
    assert result is not None and result is not Ellipsis, 'Q3 is not answered yet: backprop_one returns None (replace the ...)'
    assert isinstance(result, (tuple, list)) and len(result) == 2, 'backprop_one must return the pair (grad_weights, grad_biases)'
    low_precision = any((np.asarray(g).dtype in (np.float32, np.float16) for g in list(result[0]) + list(result[1])))
    grad_weights = [np.asarray(g, dtype=float) for g in result[0]]
    grad_biases = [np.ravel(np.asarray(g, dtype=float)) for g in result[1]]
    assert [g.shape for g in grad_weights] == [w.shape for w in W], 'each weight gradient must have the shape of its weight matrix'
    assert [g.shape for g in grad_biases] == [b.shape for b in B], 'each bias gradient must have the shape of its bias vector'
    assert all((np.array_equal(w, v) for w, v in zip(W, W_given))) and all((np.array_equal(b, v) for b, v in zip(B, B_given))), 'backprop_one must not change weights or biases'
    assert callable(forward_one), 'the gradient check needs your forward_one from Q2'

    def loss():
        value = forward_one(x, y, W, B)
        assert value is not None and value is not Ellipsis, 'Q2 is not answered yet: forward_one returns None'
        return value[0]
    low_precision = low_precision or np.asarray(loss()).dtype in (np.float32, np.float16)
    step, bound, floor = (0.05, 0.05, 0.01) if low_precision else (1e-05, 0.0001, 1e-05)
    rng = np.random.default_rng(0)
    lit = np.flatnonzero(np.asarray(x) != 0)
    checked = []
    for l in range(len(W)):
        rows = rng.integers(0, W[l].shape[0], 6)
        cols = rng.choice(lit, 6) if l == 0 else rng.integers(0, W[l].shape[1], 6)
        for param, grad, where in [(W[l], grad_weights[l], (r, c)) for r, c in zip(rows, cols)] + [(B[l], grad_biases[l], (r,)) for r in rng.integers(0, B[l].shape[0], 4)]:
            h = step / max(1.0, abs(float(x[where[1]]))) if param is W[l] and l == 0 else step
            old = param[where]
            param[where] = old + h
            up = loss()
            param[where] = old - h
            down = loss()
            param[where] = old
            name = f"{('weights' if param is W[l] else 'biases')}[{l}][{', '.join((str(int(i)) for i in where))}]"
            checked.append((name, float(grad[where]), (float(up) - float(down)) / (2 * h)))
    scale = max((abs(numeric) for _, _, numeric in checked))
    assert scale > 0, "the loss that your forward_one returns does not change when the weights and biases change: the gradient check needs a forward_one that computes with the weights and biases it is given (see Q2's check)"
    errors = [(abs(a - n) / max(abs(a) + abs(n), floor * scale), name) for name, a, n in checked]
    error, name = max(errors)
    assert error < bound, f"gradient check failed: for {name}, backprop_one's gradient differs from centred differences of the loss that your forward_one returns, by a relative error of {error:.2g} (a correct backprop gives less than {bound:g}; {sum((e >= bound for e, _ in errors))} of {len(errors)} checked entries fail). If forward_one passes Q2's check, look at the backward pass"
    train_one_sample = env.get('train_one_sample')
    assert callable(train_one_sample), 'Q3 is not answered yet: train_one_sample is not defined'
    W1, B1, rate = ([w.copy() for w in W], [b.copy() for b in B], 0.0137)
    try:
        train_one_sample(x, y, W1, B1, rate)
    except Exception as error:
        raise AssertionError(f'train_one_sample(x, y, weights, biases, learning_rate) raised {type(error).__name__}: {error}') from None
    for kind, before, after, grads in (('weights', W, W1, grad_weights), ('biases', B, B1, grad_biases)):
        for l, (p0, p1, g) in enumerate(zip(before, after, grads)):
            expected = p0 - rate * g
            if np.array_equal(expected, p0):
                continue
            assert not np.array_equal(p1, p0), f"train_one_sample left {kind}[{l}] unchanged: it must update every layer's weights and biases in place (param -= learning_rate * gradient changes the array in the list; param = param - ... does not)"
            moved = np.allclose(p1 - p0, -rate * g, rtol=1e-05, atol=1e-06 * float(np.abs(rate * g).max())) if low_precision else np.allclose(p1, expected, rtol=1e-07, atol=0)
            assert moved, f'{kind}[{l}] did not move by -learning_rate * gradient (the gradient from your backprop_one): check the sign and the size of the step'

