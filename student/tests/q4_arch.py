from otter.test_files import test_case

OK_FORMAT = False

name = "q4_arch"
points = 6

@test_case(points=0, hidden=False)
def test_q4_arch_output_shape(model, torch):
    out = model(torch.zeros(2, 1, 28, 28))
    assert tuple(out.shape) == (2, 10), 'model must map a batch of shape (N, 1, 28, 28) to scores of shape (N, 10)'

