from otter.test_files import test_case

OK_FORMAT = False

name = "q4_probs"
points = 4

@test_case(points=0, hidden=False)
def test_q4_probs_shape(sample_idx, sample_probs, np):
    assert len(sample_idx) == 3, 'sample_idx must hold 3 indices'
    assert np.shape(sample_probs) == (3, 10), 'sample_probs must have shape (3, 10)'

