from otter.test_files import test_case

OK_FORMAT = False

name = "q5_1"
points = 5

@test_case(points=0, hidden=False)
def test_q5_1_layout_and_statistics(env):
    import numpy as np
    init_params = env.get('init_params')
    assert callable(init_params), 'Q1 is not answered yet: init_params is not defined (run its cell)'

    def call(sizes, seed):
        try:
            result = init_params(sizes, seed)
        except Exception as error:
            raise AssertionError(f'init_params({sizes}, {seed}) raised {type(error).__name__}: {error}') from None
        assert result is not None and result is not Ellipsis, 'Q1 is not answered yet: init_params returns None (replace the ...)'
        assert isinstance(result, (tuple, list)) and len(result) == 2, 'init_params must return the two lists (weights, biases)'
        return ([np.asarray(w) for w in result[0]], [np.asarray(b) for b in result[1]])
    weights, biases = call([784, 32, 32, 10], 80085)
    assert [tuple(w.shape) for w in weights] == [(32, 784), (32, 32), (10, 32)], 'weights[l] must have shape (n_out, n_in)'
    assert [tuple(b.shape) for b in biases] == [(32,), (32,), (10,)], 'biases[l] must have shape (n_out,)'
    assert all((np.all(b == 0) for b in biases)), 'the biases start at zero'
    again, _ = call([784, 32, 32, 10], 80085)
    assert all((np.array_equal(a, b) for a, b in zip(weights, again))), 'init_params must give the same weights for the same seed'
    sizes = [10, 400, 5]
    drawn, _ = call(sizes, 0)
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        expected, spread = (1 / np.sqrt(max(n_in, n_out)), float(np.std(drawn[l])))
        assert abs(spread / expected - 1) < 5 / np.sqrt(2 * n_in * n_out) + 0.02, f'with sizes {sizes}, layer {l} ({n_in} -> {n_out}) has weights with standard deviation {spread:.3g}; the question asks for variance 1/max(n_in, n_out), a standard deviation of {expected:.3g}'
    same, _ = call([6, 6, 6], 1)
    assert not np.allclose(same[0], same[1]), 'with sizes [6, 6, 6], both layers start from the same numbers: create rng = np.random.default_rng(seed) once, before the loop over the layers'

@test_case(points=0, hidden=False)
def test_q5_1_draws_from_the_seed_it_is_given(env):
    import numpy as np
    init_params = env.get('init_params')
    assert callable(init_params), 'Q1 is not answered yet: init_params is not defined (run its cell)'
    before = np.random.get_state()
    try:
        first = init_params([20, 30, 5], 11)
        second = init_params([20, 30, 5], 12)
    except Exception as error:
        raise AssertionError(f'init_params([20, 30, 5], seed) raised {type(error).__name__}: {error}') from None
    after = np.random.get_state()
    np.random.set_state(before)
    assert first is not None and first is not Ellipsis, 'Q1 is not answered yet: init_params returns None (replace the ...)'
    assert np.array_equal(before[1], after[1]) and before[2] == after[2], "init_params used numpy's global generator (np.random.normal, np.random.randn or np.random.seed): draw every layer with rng.normal from rng = np.random.default_rng(seed)"
    assert not all((np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(first[0], second[0]))), 'init_params gives the same weights for the seeds 11 and 12: make rng = np.random.default_rng(seed) from the seed that it is given'

