from otter.test_files import test_case

OK_FORMAT = False

name = "q2a"
points = 3

@test_case(points=None, hidden=False)
def test_q2a_returns_scalar(l1_loss, np):
    value = l1_loss(np.ones((4, 2)), np.zeros(4), np.ones(2))
    assert value is not None and np.ndim(value) == 0, 'l1_loss must return a single number'

