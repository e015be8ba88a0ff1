from otter.test_files import test_case

OK_FORMAT = False

name = "q4_acc"
points = 10

@test_case(points=0, hidden=False)
def test_q4_acc_model_is_a_module(model, torch):
    assert isinstance(model, torch.nn.Module), 'model must be your trained torch.nn.Module'

