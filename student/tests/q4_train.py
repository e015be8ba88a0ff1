from otter.test_files import test_case

OK_FORMAT = False

name = "q4_train"
points = 3

@test_case(points=0, hidden=False)
def test_q4_train_loss_histories(env):
    import math
    train_losses, test_losses = (env.get('train_losses'), env.get('test_losses'))
    assert isinstance(train_losses, list) and isinstance(test_losses, list), '4(b) is not answered yet: train_losses and test_losses must be lists'
    assert len(train_losses) > 0, '4(b) is not answered yet: train_losses is empty (set EPOCHS and the optimiser, and run the training loop)'
    epochs = env.get('EPOCHS')
    if isinstance(epochs, int):
        assert len(train_losses) == len(test_losses) == epochs, f'record one training and one test loss per epoch: EPOCHS is {epochs}, but the lists hold {len(train_losses)} and {len(test_losses)}'
    for name, values in (('train_losses', train_losses), ('test_losses', test_losses)):
        for i, value in enumerate(values):
            try:
                value = float(value)
            except Exception:
                raise AssertionError(f'{name}[{i}] must be a number (use loss.item()), not {type(value).__name__}') from None
            assert math.isfinite(value) and value >= 0, f'{name}[{i}] = {value}: a cross-entropy loss is a finite number >= 0'
            assert value < 2 * math.log(10), f'{name}[{i}] = {value:.3g}, far above ln 10 = {math.log(10):.2f}, where the mean cross-entropy over 10 classes starts: return the mean of the batch losses (not their sum), and check that training does not diverge (optimizer.zero_grad() every batch)'
    assert min((float(v) for v in train_losses)) < 0.8 * math.log(10), f'the training loss never fell below {0.8 * math.log(10):.2f} (chance is ln 10 = {math.log(10):.2f}): the model is not learning. In train_epoch: zero_grad, forward, loss, backward, then step; and the optimiser must hold model.parameters()'

