from otter.test_files import test_case

OK_FORMAT = False

name = "q4_acc"
points = 10

@test_case(points=0, hidden=False)
def test_q4_acc_against_the_bars(env):
    import torch
    low, high = (0.7, 0.87)
    assert isinstance(env.get('model'), torch.nn.Module), 'model must be your trained torch.nn.Module'
    correct = env.get('correct')
    assert correct is not None and (not isinstance(correct, type(Ellipsis))), '4(c) is not answered yet: the accuracy cell has not run to the end (correct is not defined): finish 4(a) and 4(b), train, then run it'
    testdata = env.get('testdata')
    accuracy = float(correct) / (len(testdata) if testdata is not None else 10000)
    assert accuracy >= low, f"your model's test accuracy is {accuracy:.4f}, below the first bar {low:.2f}: 4(c) would get no points. Check 4(a) and 4(b) first, then train longer or better"
    assert accuracy >= high, f"your model's test accuracy is {accuracy:.4f}: it clears the first bar {low:.2f} but not the second {high:.2f}, so 4(c) would get half of its points. Train longer or better (see Problem 4's introduction)"
    print(f"4(c): your model's test accuracy is {accuracy:.4f}, above both bars ({low:.2f} and {high:.2f}); the hidden test measures it again, with your model's weights in its own network.")

