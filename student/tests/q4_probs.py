from otter.test_files import test_case

OK_FORMAT = False

name = "q4_probs"
points = 4

@test_case(points=0, hidden=False)
def test_q4_probs_are_probabilities(env):
    import numpy as np
    import torch
    sample_idx, sample_probs = (env.get('sample_idx'), env.get('sample_probs'))
    for name, value in (('sample_idx', sample_idx), ('sample_probs', sample_probs)):
        assert value is not None and value is not Ellipsis, f'4(e) is not answered yet: set {name}'
    if isinstance(sample_probs, torch.Tensor):
        sample_probs = sample_probs.detach().numpy()
    idx = np.ravel(np.asarray(sample_idx.numpy() if isinstance(sample_idx, torch.Tensor) else sample_idx))
    assert idx.size == 3 and len(set(idx.tolist())) == 3, 'sample_idx must hold 3 distinct indices'
    assert np.issubdtype(idx.dtype, np.integer), 'sample_idx must hold integer indices into testdata'
    probs = np.asarray(sample_probs, dtype=float)
    assert probs.shape == (3, 10), f'sample_probs must have shape (3, 10), one row per image; it has shape {probs.shape}'
    assert np.all(probs >= 0) and np.all(probs <= 1), "probabilities lie in [0, 1]: apply the softmax to the model's outputs (logits)"
    assert np.allclose(probs.sum(axis=1), 1, atol=0.0001), 'each row (one image) must sum to 1 over the 10 classes: a softmax over the classes (dim=1)'
    model, testdata, to_input = (env.get('model'), env.get('testdata'), env.get('to_input'))
    if isinstance(model, torch.nn.Module) and testdata is not None and callable(to_input):
        with torch.no_grad():
            mine = torch.softmax(model(to_input(testdata.data[torch.as_tensor(idx)].unsqueeze(1))), dim=1).numpy()
        assert np.allclose(probs, mine, atol=0.0001), "sample_probs are not your model's probabilities for the images testdata[sample_idx]"

