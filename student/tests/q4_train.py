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

@test_case(points=0, hidden=False)
def test_q4_train_functions_use_their_arguments(env):
    import copy
    import math
    import torch
    train_epoch, test_epoch = (env.get('train_epoch'), env.get('test_epoch'))
    assert callable(train_epoch) and callable(test_epoch), '4(b) is not answered yet: define train_epoch and test_epoch (run their cell)'
    generator = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (150, 1, 28, 28), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 10, (150,), generator=generator)

    class Loader:
        """Serves batches as trainDataLoader does (uint8 images, 64 per batch, the last smaller); counts its passes."""

        def __init__(self):
            self.passes = 0

        def __len__(self):
            return 3

        def __iter__(self):
            self.passes += 1
            for start in range(0, 150, 64):
                yield (images[start:start + 64], labels[start:start + 64])

    class Loss(torch.nn.CrossEntropyLoss):
        """Cross-entropy that keeps each batch's loss, its size, and whether gradients were on."""

        def __init__(self):
            super().__init__()
            self.batches = []

        def forward(self, scores, target):
            loss = super().forward(scores, target)
            self.batches.append((loss.item(), len(target), torch.is_grad_enabled()))
            return loss
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    notebook_model = env.get('model')
    if isinstance(notebook_model, torch.nn.Module) and any((True for _ in notebook_model.parameters())):
        net.to(next(notebook_model.parameters()).device)
    start = copy.deepcopy(net)
    notebook = {name: env.get(name) for name in ('model', 'optimizer')}
    saved = {name: copy.deepcopy(value.state_dict()) for name, value in notebook.items() if hasattr(value, 'state_dict')}

    def restore_notebook():
        """Puts the notebook's model and optimizer back if a function changed them; says whether it did."""
        changed = False
        for name, state in saved.items():
            now = notebook[name].state_dict()
            if name == 'model' and any((not torch.equal(now[k], state[k]) for k in state)):
                changed = True
            notebook[name].load_state_dict(state)
        return changed

    def mean_of_batches(returned, batches, what):
        try:
            value = float(returned)
        except Exception:
            raise AssertionError(f'{what} must return the mean loss, a number (use loss.item()), not {type(returned).__name__}') from None
        per_batch = sum((loss for loss, _, _ in batches)) / len(batches)
        per_image = sum((loss * n for loss, n, _ in batches)) / sum((n for _, n, _ in batches))
        assert any((math.isclose(value, mean, rel_tol=0.0001, abs_tol=1e-06) for mean in (per_batch, per_image))), f'{what} returned {value:.4f}, but the losses of the batches it computed average to {per_batch:.4f} per batch and {per_image:.4f} per image: return the mean of the batch losses, or of the image losses'
    loader, loss_fn = (Loader(), Loss())
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05)
    try:
        returned = train_epoch(net, loader, loss_fn, optimizer)
    except Exception as error:
        restore_notebook()
        raise AssertionError(f'train_epoch(model, loader, loss_fn, optimizer) raised {type(error).__name__}: {error}') from None
    assert not restore_notebook(), "train_epoch changed the notebook's model, not the model it was given (put back as it was): use its arguments model, loader, loss_fn and optimizer, not the notebook's variables"
    assert loader.passes == 1, f'train_epoch went over the loader it was given {loader.passes} times: once per epoch'
    assert len(loss_fn.batches) == 3, f'train_epoch called the loss_fn it was given {len(loss_fn.batches)} times over 3 batches: once per batch, with the loss_fn argument'
    moved = any((not torch.equal(a, b) for a, b in zip(net.parameters(), start.parameters())))
    assert moved, 'train_epoch did not change the model it was given: step the optimizer it is given (after backward)'
    mean_of_batches(returned, loss_fn.batches, 'train_epoch')
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    try:
        train_epoch(net, Loader(), Loss(), optimizer, schedule)
    except Exception as error:
        restore_notebook()
        raise AssertionError(f'train_epoch(model, loader, loss_fn, optimizer, scheduler) raised {type(error).__name__}: {error}') from None
    restore_notebook()
    assert schedule.last_epoch == 3, f'with a scheduler, train_epoch stepped it {schedule.last_epoch} times over 3 batches: call scheduler.step() once after each batch'
    tested, loader, loss_fn = (copy.deepcopy(start), Loader(), Loss())
    try:
        returned = test_epoch(tested, loader, loss_fn)
    except Exception as error:
        restore_notebook()
        raise AssertionError(f'test_epoch(model, loader, loss_fn) raised {type(error).__name__}: {error}') from None
    assert not restore_notebook(), "test_epoch changed the notebook's model: it only measures the model it is given"
    assert loader.passes == 1 and len(loss_fn.batches) == 3, f'test_epoch went over the loader it was given {loader.passes} times and called the loss_fn it was given {len(loss_fn.batches)} times (3 batches): use its arguments loader and loss_fn, once per batch'
    assert not any((grad for _, _, grad in loss_fn.batches)), 'test_epoch must compute its losses under torch.no_grad()'
    assert all((torch.equal(a, b) for a, b in zip(tested.parameters(), start.parameters()))), 'test_epoch must not change the model'
    mean_of_batches(returned, loss_fn.batches, 'test_epoch')

