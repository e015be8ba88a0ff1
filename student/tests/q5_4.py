from otter.test_files import test_case

OK_FORMAT = False

name = "q5_4"
points = 6

@test_case(points=0, hidden=False)
def test_q5_4_trained_against_the_bar(env):
    import numpy as np
    bar = 0.25
    weights, biases = (env.get('weights'), env.get('biases'))
    assert weights is not None and biases is not None, 'Q4 is not answered yet: weights is not defined (answer Q1 and run the cells above)'
    assert [np.shape(w) for w in weights] == [(32, 784), (32, 32), (10, 32)], 'weights must keep the layout (n_out, n_in)'
    accuracy = env.get('test_accuracy')
    assert isinstance(accuracy, (int, float, np.number)), 'Q4 is not answered yet: the training loop has not printed a test accuracy (test_accuracy is not defined): complete train_one_epoch and run the loop'
    assert accuracy >= bar, f"your network's test accuracy after training is {accuracy:.3f}, below the bar {bar:.2f}: Q4's accuracy step would get no points. Check train_one_epoch: every sample, in order, one train_one_sample call each"
    print(f"Q4: your network's test accuracy after training is {accuracy:.3f}, above the bar {bar:.2f}. The hidden test also replays your training from its own starting weights (see the question).")

