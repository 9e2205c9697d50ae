"""Issue 8's accuracy floors on MNIST (../shared/data/mnist: 8,000 train / 2,000 test), trained the
way `privis train mnist [--epsilon E]` trains. Epoch times and the membership audit are in
benchmarks/dp_training.py (no timed asserts here)."""

import pytest

pytest.importorskip("opacus")

FLOORS = {None: 0.97, 3.0: 0.93, 1.0: 0.88}


@pytest.mark.parametrize("epsilon", list(FLOORS))
def test_mnist_accuracy_at_each_privacy_level(data_root, epsilon):
    from privis.learn.data import load_image_set
    from privis.learn.dp_train import TrainConfig, train_classifier

    data = load_image_set("mnist")
    assert (len(data.train), len(data.test)) == (8000, 2000)
    result = train_classifier(data, TrainConfig(epsilon=epsilon, delta=1e-5))
    assert result.test_accuracy >= FLOORS[epsilon]
    if epsilon is not None:
        assert result.epsilon <= epsilon * 1.01
