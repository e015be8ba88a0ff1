from otter.test_files import test_case

OK_FORMAT = False

name = "q5_2"
points = 5

@test_case(points=0, hidden=False)
def test_q5_2_forward_and_evaluate(env):
    import numpy as np
    forward_one, evaluate = (env.get('forward_one'), env.get('evaluate'))
    assert callable(forward_one), 'Q2 is not answered yet: forward_one is not defined (run its cell)'
    for name in ('weights', 'biases', 'x_test', 'y_test'):
        assert env.get(name) is not None, f'Q2 needs {name}, which is not defined: answer Q1 and run the cells above'
    weights, biases, x_test, y_test = (env[k] for k in ('weights', 'biases', 'x_test', 'y_test'))
    own = np.random.default_rng(7)
    own_weights = [own.normal(0.0, 0.2 / np.sqrt(np.shape(w)[1]), size=np.shape(w)) for w in weights]
    own_biases = [own.normal(0.0, 1.0, size=np.shape(b)) for b in biases]

    def forward(x, y, weights=weights, biases=biases):
        try:
            result = forward_one(x, y, weights, biases)
        except Exception as error:
            raise AssertionError(f'forward_one(x, y, weights, biases) raised {type(error).__name__}: {error}') from None
        assert result is not None and result is not Ellipsis, 'Q2 is not answered yet: forward_one returns None (replace the ...)'
        assert isinstance(result, (tuple, list)) and len(result) == 2, 'forward_one must return the pair (loss, guess)'
        loss, guess = result
        assert np.ndim(loss) == 0, 'the loss must be a single number'
        assert np.shape(guess) == (10,) and np.sum(guess) == 1 and (set(np.unique(guess)) <= {0, 1}), 'the guess must be a one-hot vector of length 10'
        return (float(loss), int(np.argmax(guess)))
    x = x_test[0]
    losses = [forward(x, label)[0] for label in range(10)]
    assert all((loss >= 0 for loss in losses if not np.isnan(loss))), 'a cross-entropy loss is never negative'
    if not any(np.isnan(losses)):
        total = float(np.sum(np.exp(-np.array(losses))))
        assert abs(total - 1) < 1e-06, f'exp(-loss) is the probability your network gives the label y; over the 10 labels these must sum to 1, but they sum to {total:.4g}: the loss is the cross-entropy of the softmax output with the one-hot label'
        assert forward(x, 0)[1] == int(np.argmin(losses)), 'the guess must be the most probable label, the one with the smallest loss; the loss for label y is -log of the softmax probability of y (cross-entropy with the one-hot label)'
    mine = [forward(x, label, own_weights, own_biases)[0] for label in range(10)]
    assert np.isnan(mine).any() or np.isnan(losses).any() or (not np.allclose(mine, losses)), "forward_one gives the same losses for the notebook's network and for another one: it must compute with the weights and biases it is given, not the notebook's variables"
    if callable(evaluate):
        X, Y = (x_test[100:120], y_test[100:120])
        try:
            result = evaluate(X, Y, own_weights, own_biases)
        except Exception as error:
            raise AssertionError(f'evaluate(X, Y, weights, biases) raised {type(error).__name__}: {error}') from None
        assert result is not None and result is not Ellipsis, 'Q2 is not answered yet: evaluate returns None (replace the ...)'
        average, accuracy = result
        pairs = [forward(x, y, own_weights, own_biases) for x, y in zip(X, Y)]
        mean_loss = float(np.mean([loss for loss, _ in pairs]))
        hits = float(np.mean([guess == y for (_, guess), y in zip(pairs, Y)]))
        assert np.isclose(float(average), mean_loss, rtol=1e-06), f"on 20 test samples and a network of this check's own, evaluate's average loss is {float(average):.4g}, but the mean of forward_one's losses is {mean_loss:.4g}: evaluate must use the samples and network it is given"
        assert np.isclose(float(accuracy), hits), f"on 20 test samples evaluate's accuracy is {float(accuracy):.3g}, but forward_one's guesses are right for a fraction {hits:.3g} of them"

