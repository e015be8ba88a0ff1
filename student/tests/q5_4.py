from otter.test_files import test_case

OK_FORMAT = False

name = "q5_4"
points = 6

@test_case(points=0, hidden=False)
def test_q5_4_trained_against_the_bar(env):
    import numpy as np
    bar = 0.25
    weights, biases = (env.get('weights'), env.get('biases'))
    assert weights is not None and biases is not None, 'Q4 is not answered yet: weights is not defined (answer Q1 and run the cells above)'
    assert [np.shape(w) for w in weights] == [(32, 784), (32, 32), (10, 32)], 'weights must keep the layout (n_out, n_in)'
    accuracy = env.get('test_accuracy')
    assert isinstance(accuracy, (int, float, np.number)), 'Q4 is not answered yet: the training loop has not printed a test accuracy (test_accuracy is not defined): complete train_one_epoch and run the loop'
    assert accuracy >= bar, f"your network's test accuracy after training is {accuracy:.3f}, below the bar {bar:.2f}: Q4's accuracy step would get no points. Check train_one_epoch: every sample, in order, one train_one_sample call each"
    print(f"Q4: your network's test accuracy after training is {accuracy:.3f}, above the bar {bar:.2f}. The hidden test also replays your training from its own starting weights (see the question).")

@test_case(points=0, hidden=False)
def test_q5_4_passes_on_what_it_is_given(env):
    import numpy as np
    train_one_epoch = env.get('train_one_epoch')
    assert callable(train_one_epoch), 'Q4 is not answered yet: train_one_epoch is not defined (run its cell)'
    for name in ('x_train', 'y_train'):
        assert env.get(name) is not None, f"Q4's check needs {name}, which is not defined: run the cells above"
    X, Y = (np.array(env['x_train'][10:15]), np.array(env['y_train'][10:15]))
    weights, biases = ([np.zeros((2, 2))], [np.zeros(2)])
    rate = 0.0173
    calls = []

    def record(x, y, weights_given, biases_given, learning_rate=None):
        calls.append((np.array(x), y, weights_given, biases_given, learning_rate))
        if len(calls) > len(Y):
            raise RuntimeError(f'train_one_sample was called more often than there are samples ({len(Y)})')
        return (weights_given, biases_given)
    saved = env.get('train_one_sample')
    env['train_one_sample'] = record
    try:
        train_one_epoch(X, Y, weights, biases, rate)
    except Exception as error:
        raise AssertionError(f'train_one_epoch(X, Y, weights, biases, learning_rate) with 5 samples raised {type(error).__name__}: {error}') from None
    finally:
        if saved is None:
            env.pop('train_one_sample', None)
        else:
            env['train_one_sample'] = saved
    assert len(calls) == len(Y), f'train_one_epoch over 5 samples called train_one_sample {len(calls)} times: once per sample (it must call the function train_one_sample by its name, for each sample of X it is given)'
    for i, (x, y, w, b, lr) in enumerate(calls):
        assert np.array_equal(np.ravel(x), np.ravel(X[i])) and int(np.ravel(y)[0]) == int(Y[i]), f'call {i + 1} of train_one_sample got another sample or label than sample {i + 1} of X and Y: pass each sample and its label, in order, unchanged'
        assert w is weights and b is biases, 'train_one_epoch must pass on the weights and biases lists it was given (the same lists, so that train_one_sample updates them in place)'
        assert lr is not None and np.isclose(float(lr), rate), f"train_one_epoch(..., learning_rate={rate}) passed {lr} on to train_one_sample: pass on the learning_rate it was given (train_one_sample's default is not it)"

