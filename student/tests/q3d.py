from otter.test_files import test_case

OK_FORMAT = False

name = "q3d"
points = 4

@test_case(points=0, hidden=False)
def test_q3d_structure(grad_at_2, np):
    assert isinstance(grad_at_2, dict) and set(grad_at_2) == {'W_H', 'b_H', 'W_O', 'b_O'}, 'grad_at_2 must be a dict with keys "W_H", "b_H", "W_O", "b_O"'
    assert [np.size(grad_at_2[k]) for k in ('W_H', 'b_H', 'W_O', 'b_O')] == [4, 4, 4, 1], 'grad_at_2 must have 13 entries in all (4, 4, 4 and 1)'

