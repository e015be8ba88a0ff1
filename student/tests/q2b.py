from otter.test_files import test_case

OK_FORMAT = False

name = "q2b"
points = 1

@test_case(points=0, hidden=False)
def test_q2b_is_bool(l1_closed_form_exists):
    assert isinstance(l1_closed_form_exists, bool), 'l1_closed_form_exists must be True or False'

