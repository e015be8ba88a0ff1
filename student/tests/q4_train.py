from otter.test_files import test_case

OK_FORMAT = False

name = "q4_train"
points = 3

@test_case(points=0, hidden=False)
def test_q4_train_histories_exist(train_losses, test_losses):
    assert isinstance(train_losses, list) and isinstance(test_losses, list), 'train_losses and test_losses must be lists'
    assert len(train_losses) > 0, 'record one training loss per epoch in train_losses'

