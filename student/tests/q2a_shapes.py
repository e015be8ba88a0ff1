from otter.test_files import test_case

OK_FORMAT = False

name = "q2a_shapes"
points = 2

@test_case(points=0, hidden=False)
def test_q2a_shapes_structure(l1_shapes):
    shapes = l1_shapes(5, 3)
    assert isinstance(shapes, dict) and set(shapes) == {'X', 'y', 'w', 'loss'}, 'l1_shapes must return a dict with keys "X", "y", "w", "loss"'
    assert all((isinstance(s, tuple) for s in shapes.values())), 'each shape must be a tuple of ints'

