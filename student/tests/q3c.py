from otter.test_files import test_case

OK_FORMAT = False

name = "q3c"
points = 3

@test_case(points=None, hidden=False)
def test_q3c_is_number(f_at_2, np):
    assert np.ndim(f_at_2) == 0, 'f_at_2 must be a single number'

