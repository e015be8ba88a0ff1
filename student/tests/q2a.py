from otter.test_files import test_case

OK_FORMAT = False

name = "q2a"
points = 3

@test_case(points=0, hidden=False)
def test_q2a_returns_scalar(l1_loss, np):
    values = []
    for y, w in ((np.zeros(4), np.ones(2)), (np.zeros((4, 1)), np.ones((2, 1)))):
        try:
            values.append(l1_loss(np.ones((4, 2)), y, w))
        except Exception:
            pass
    assert values, 'l1_loss raised an error for 1-D and for column vectors alike'
    assert all((v is not None and np.ndim(v) == 0 for v in values)), 'l1_loss must return a single number'

