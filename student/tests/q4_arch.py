from otter.test_files import test_case

OK_FORMAT = False

name = "q4_arch"
points = 6

@test_case(points=0, hidden=False)
def test_q4_arch_layers_and_forward(env):
    import torch
    model = env.get('model')
    assert isinstance(model, torch.nn.Module), '4(a) is not answered yet: model is not a torch.nn.Module (run the cell that makes it)'
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert linears, '4(a) is not answered yet: your FashionMLP has no nn.Linear layers (replace the ... in __init__)'
    sizes = [(m.in_features, m.out_features) for m in linears]
    assert sizes == [(784, 256), (256, 128), (128, 64), (64, 10)], f"FashionMLP's Linear layers are {sizes} (in, out); the question asks for Linear(784, 256), Linear(256, 128), Linear(128, 64), Linear(64, 10), in that order"
    images = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        try:
            out = model(images)
        except RuntimeError as error:
            hint = ' Flatten the images first: x.view(-1, 28*28) turns a batch of shape (batch, 1, 28, 28) into (batch, 784).' if 'cannot be multiplied' in str(error) else ''
            raise AssertionError(f'model(images) for images of shape (4, 1, 28, 28) raised {type(error).__name__}: {error}.{hint}') from None
        assert out is not None, '4(a) is not answered yet: forward returns None (replace the ... in forward)'
        assert tuple(out.shape) == (4, 10), f'model must map images of shape (4, 1, 28, 28) to scores of shape (4, 10), but it returned shape {tuple(out.shape)}: flatten each image with view(-1, 28*28)'
        x = images.view(-1, 28 * 28)
        for i, layer in enumerate(linears):
            x = layer(x)
            if i < len(linears) - 1:
                x = torch.relu(x)
        assert torch.allclose(out, x, rtol=0.0001, atol=1e-05), "model's output is not Linear -> ReLU -> Linear -> ReLU -> Linear -> ReLU -> Linear of your own layers: check for a missing ReLU, or a softmax or log_softmax at the end (forward returns the raw scores, the logits)"

