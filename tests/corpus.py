"""The graded corpus: submissions made from the solutions notebook, with expected scores.

Each submission is a list of exact ``(old, new)`` edits of the solutions notebook
(see ``grading.submission_from_solution``) and the points it must get for each
question it breaks; every question not listed must get full marks. A submission
that breaks several problems at once also proves that a fault costs only its
own question's points.
"""

from dataclasses import dataclass, field


@dataclass
class Submission:
    edits: list | None  # None: the untouched student notebook
    expected: dict = field(default_factory=dict)  # {question: points}; unlisted -> full marks
    all_zero: bool = False  # every autograded question scores 0
    why: str = ""


SUBMISSIONS = {
    "solution": Submission(edits=[], why="the reference solution gets every autograded point"),
    "blank_student": Submission(edits=None, all_zero=True, why="the untouched student notebook runs to the end and gets 0"),
    "alternative_correct": Submission(
        why="other correct answers: P4 trained as in the demo (SGD, lr 0.01) for only 3 epochs clears the lower accuracy "
        "bar only; P5's backprop takes sigmoid' from the stored activations, which is the same gradient and gets full marks",
        edits=[
            ("EPOCHS = 12\n", "EPOCHS = 3\n"),
            ("optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)", "optimizer = torch.optim.SGD(model.parameters(), lr=0.01)"),
            ("scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=EPOCHS * len(trainDataLoader))",
             "scheduler = None"),
            ("* sigmoid_prime(pre_activations[l - 1])", "* activations[l] * (1.0 - activations[l])"),
            ('    "b_O": 0.0,\n}', '    "b_O": 0.0,\n}\ntheta_dataset2["W_H"] = 2 * theta_dataset2["W_H"]\ntheta_dataset2["b_H"] = 2 * theta_dataset2["b_H"]\ntheta_dataset2["W_O"] = theta_dataset2["W_O"] / 2'),
        ],
        expected={"q4_acc": 5},
    ),
    "p1_p2_wrong": Submission(
        why="gradient without the factor 2, the median for the mean, a mean l1 loss, a claimed closed form, a wrong loss shape",
        edits=[
            ("    return 2 * x  # SOLUTION", "    return x"),
            ("    return X.mean(axis=0)  # SOLUTION", "    return np.median(X, axis=0)"),
            ("    return float(np.abs(residual).sum())", "    return float(np.abs(residual).mean())"),
            ("l1_closed_form_exists = False  # SOLUTION", "l1_closed_form_exists = True"),
            ('"loss": ()}  # SOLUTION', '"loss": (1,)}'),
        ],
        expected={"q1a": 0, "q1b": 0, "q2a": 0, "q2b": 0, "q2a_shapes": 0},
    ),
    "p3_hardcoded_forward": Submission(
        why="f without its ReLU and a typed-in -3: 3(c) earns nothing, 3(b) and dataset 1 of 3(a) (graded with the "
        "grader's own f) keep theirs; dataset 2 has a wrong slope after x = 5; P4 trains on shuffled labels, so its loss stays flat and its accuracy at chance",
        edits=[
            ("loss = loss_fn(model(to_input(images)), labels)", "loss = loss_fn(model(to_input(images)), labels[torch.randperm(len(labels))])"),
            ("    z = np.maximum(0.0, x[..., None] * np.asarray(theta[\"W_H\"], dtype=float) + np.asarray(theta[\"b_H\"], dtype=float))",
             "    z = x[..., None] * np.asarray(theta[\"W_H\"], dtype=float) + np.asarray(theta[\"b_H\"], dtype=float)"),
            ("f_at_2 = relu_net(2, theta0)  # SOLUTION", "f_at_2 = -3.0"),
            ('"W_O": np.array([1.0, -2.0, 1.5, 0.0]),', '"W_O": np.array([1.0, -2.0, 1.0, 0.0]),'),
        ],
        expected={"q3c": 0, "q3a": 2, "q4_train": 0, "q4_acc": 0},
    ),
    "p3_wrong_gradients": Submission(
        why="ReLU derivative 1 at z = 0 (the known values at theta0 still pass), a sign error in grad_loss, one dataset "
        "missed; P4 trains with the wrong loss (NLL of raw logits), which never learns the classes",
        edits=[
            ("loss_fn = nn.CrossEntropyLoss()", "loss_fn = nn.NLLLoss()"),
            ("    dz = W_O * (z_bar > 0)", "    dz = W_O * (z_bar >= 0)"),
            ("total[key] - 2 * residual", "total[key] + 2 * residual"),
            ('    "b_O": -16.0,', '    "b_O": -15.0,'),
        ],
        expected={"q3d": 2, "q3b": 0, "q3a": 2, "q4_acc": 0},
    ),
    "p4_wrong_arch_p5_sigmoid_derivative": Submission(
        why="a 100-unit third layer (ReLUs all there); backprop through sigmoid'(a) instead of sigmoid'(z): the gradient "
        "tests catch it, but it still trains to full accuracy, which is why accuracy alone cannot grade backprop",
        edits=[
            ("nn.Linear(128, 64), nn.ReLU(),\n            nn.Linear(64, 10),", "nn.Linear(128, 100), nn.ReLU(),\n            nn.Linear(100, 10),"),
            ("sigmoid_prime(pre_activations[l - 1])", "sigmoid_prime(activations[l])"),
        ],
        expected={"q4_arch": 3, "q5_3": 0},
    ),
    "p4_missing_relu_p5_missing_y": Submission(
        why="no ReLU after the second hidden layer; biases initialised to 0.01; the output error without -y, so training "
        "learns nothing",
        edits=[
            ("biases.append(np.zeros(n_out))", "biases.append(np.full(n_out, 0.01))"),
            ("nn.Linear(256, 128), nn.ReLU(),", "nn.Linear(256, 128),"),
            ("delta = activations[-1] - one_hot(y, activations[-1].size)", "delta = activations[-1]"),
        ],
        expected={"q4_arch": 3, "q5_1": 4, "q5_3": 0, "q5_4": 0},
    ),
    "p4_no_training_p5_transposed": Submission(
        why="the train loop only measures the loss; a sigmoid instead of the softmax at the output; backprop multiplies "
        "by W instead of W.T",
        edits=[
            ("    y_hat = softmax(weights[-1] @ a + biases[-1])", "    y_hat = sigmoid(weights[-1] @ a + biases[-1])"),
            ("train_losses.append(train_epoch(model, trainDataLoader, loss_fn, optimizer, scheduler))",
             "train_losses.append(test_epoch(model, trainDataLoader, loss_fn))"),
            ("delta = (weights[l].T @ delta)", "delta = (weights[l] @ delta)"),
        ],
        expected={"q4_train": 0, "q4_acc": 0, "q5_2": 0, "q5_3": 0, "q5_4": 0},
    ),
    "p4_not_softmax_p5_one_layer": Submission(
        why="probabilities from a softmax at temperature 2 (a distribution, not the model's); SGD updates only the last "
        "layer, which trains to about 0.50: above the lower accuracy bar, below the full one",
        edits=[
            ("torch.softmax(model(to_input(testdata.data[sample_idx].unsqueeze(1))), dim=1)",
             "torch.softmax(model(to_input(testdata.data[sample_idx].unsqueeze(1))) / 2, dim=1)"),
            ("    for l in range(len(weights)):\n        weights[l] -= learning_rate",
             "    for l in [len(weights) - 1]:\n        weights[l] -= learning_rate"),
        ],
        expected={"q4_probs": 2, "q5_3": 7, "q5_4": 3},
    ),
    "p4_no_zero_grad_p5_init_n_in": Submission(
        why="gradients accumulate without zero_grad, so training diverges; init variance 1/n_in (equal to 1/max here, so "
        "only the statistics test on wider layers catches it)",
        edits=[
            ("        optimizer.zero_grad()\n", ""),
            ("np.sqrt(1.0 / max(n_in, n_out))", "np.sqrt(1.0 / n_in)"),
        ],
        expected={"q4_train": 0, "q4_acc": 0, "q5_1": 3},
    ),
}
