from otter.test_files import test_case

OK_FORMAT = False

name = "q5_4"
points = 6

@test_case(points=0, hidden=False)
def test_q5_4_weights_have_the_layout(weights, biases, np):
    assert [np.shape(w) for w in weights] == [(32, 784), (32, 32), (10, 32)], 'weights must keep the layout (n_out, n_in)'

