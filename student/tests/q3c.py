from otter.test_files import test_case

OK_FORMAT = False

name = "q3c"
points = 3

@test_case(points=0, hidden=False)
def test_q3c_is_number(f_at_2, np):
    assert isinstance(f_at_2, (int, float, np.number)) or (isinstance(f_at_2, np.ndarray) and f_at_2.ndim == 0), 'f_at_2 must be a single number'

