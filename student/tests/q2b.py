from otter.test_files import test_case

OK_FORMAT = False

name = "q2b"
points = 1

@test_case(points=0, hidden=False)
def test_q2b_is_bool(env):
    assert 'l1_closed_form_exists' in env and env['l1_closed_form_exists'] is not Ellipsis, '2(b) is not answered yet: set l1_closed_form_exists to True or False'
    assert isinstance(env['l1_closed_form_exists'], bool), 'l1_closed_form_exists must be True or False'

