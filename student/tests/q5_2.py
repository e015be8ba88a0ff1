from otter.test_files import test_case

OK_FORMAT = False

name = "q5_2"
points = 5

@test_case(points=0, hidden=False)
def test_q5_2_forward_returns(forward_one, weights, biases, x_test, y_test, np):
    loss, guess = forward_one(x_test[0], y_test[0], weights, biases)
    assert np.ndim(loss) == 0, 'the loss must be a single number'
    assert np.shape(guess) == (10,) and np.sum(guess) == 1, 'the guess must be a one-hot vector of length 10'

