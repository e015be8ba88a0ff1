from otter.test_files import test_case

OK_FORMAT = False

name = "q3a"
points = 4

@test_case(points=0, hidden=False)
def test_q3a_structure(relu_net, theta_dataset1, theta_dataset2, theta0, np):
    for name, theta in (('theta_dataset1', theta_dataset1), ('theta_dataset2', theta_dataset2)):
        assert isinstance(theta, dict) and set(theta) == {'W_H', 'b_H', 'W_O', 'b_O'}, f'{name} must be a dict with keys "W_H", "b_H", "W_O", "b_O"'
    value = relu_net(1.0, theta0)
    assert value is not None and np.ndim(value) == 0, 'relu_net(x, theta) must return a number for a number x'

