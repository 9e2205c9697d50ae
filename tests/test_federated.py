"""Federated learning (Flower simulation): splits, client-level ε, and what SecAgg+ lets the server see."""

import json

import numpy as np
import pytest

pytest.importorskip("flwr")
pytest.importorskip("torch")

from privis.learn.federated import FederatedConfig, client_epsilon, split_clients  # noqa: E402


def test_iid_split_is_even_and_dirichlet_skews_the_classes():
    labels = np.repeat(np.arange(10), 100)
    iid = split_clients(labels, 10, split="iid", alpha=0.5, seed=0)
    assert sorted(np.concatenate(iid).tolist()) == list(range(1000)) and {len(p) for p in iid} == {100}
    skew = split_clients(labels, 10, split="dirichlet", alpha=0.1, seed=0)
    assert sorted(np.concatenate(skew).tolist()) == list(range(1000))
    classes_per_client = [len(np.unique(labels[p])) for p in skew]
    assert np.mean(classes_per_client) < 6 and all(len(p) for p in skew)


def test_client_level_epsilon_grows_with_rounds_and_shrinks_with_noise():
    assert client_epsilon(1.0, 10, 1e-5) < client_epsilon(1.0, 40, 1e-5)
    assert client_epsilon(4.0, 10, 1e-5) < client_epsilon(1.0, 10, 1e-5)


def test_secagg_share_count_is_made_odd_and_valid():
    config = FederatedConfig(clients=4, num_shares=5, reconstruction_threshold=4)
    assert config.num_shares == 3 and config.reconstruction_threshold == 2


def test_secagg_server_sees_only_masked_vectors_and_their_sum_is_the_plain_sum(tmp_path):
    """3 clients, 2 rounds on digits: the aggregate equals the weighted mean of what the
    clients trained, and no vector the server received is (or correlates with) one of them."""
    from flwr.common import bytes_to_ndarray
    from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS, Key
    from flwr.server.workflow import SecAggPlusWorkflow

    from privis.learn.data import load_image_set
    from privis.learn.federated import run_federated

    received: list[list[np.ndarray]] = []

    class Recording(SecAggPlusWorkflow):
        def collect_masked_vectors_stage(self, grid, context, state):  # noqa: ANN001, ANN201
            send = grid.send_and_receive

            def spy(messages, *args, **kwargs):  # noqa: ANN001, ANN202
                replies = list(send(messages, *args, **kwargs))
                for msg in replies:
                    if not msg.has_error():
                        configs = msg.content.config_records[RECORD_KEY_CONFIGS]
                        received.append([bytes_to_ndarray(b) for b in configs[Key.MASKED_PARAMETERS]])
                return replies

            grid.send_and_receive = spy
            try:
                return super().collect_masked_vectors_stage(grid, context, state)
            finally:
                grid.send_and_receive = send

    data = load_image_set("digits")
    config = FederatedConfig(clients=3, rounds=2, batch_size=16, local_epochs=1)
    result = run_federated(data, config, workflow_factory=Recording, record_dir=tmp_path)
    assert len(result.history) == 2 and result.test_accuracy > 0.5
    assert len(received) == 6  # 3 clients x 2 rounds, each a masked vector

    for r in (1, 2):
        clients = [np.load(tmp_path / f"client{c}_round{r}.npz") for c in range(3)]
        weights = np.array([float(c["n"]) for c in clients])
        plain = [[c[f"arr_{i}"] for i in range(len(c.files) - 1)] for c in clients]
        expected = [sum(w * p[i] for w, p in zip(weights, plain, strict=True)) / weights.sum()
                    for i in range(len(plain[0]))]  # fmt: skip
        glob = np.load(tmp_path / f"global_round{r}.npz")
        got = [glob[f"arr_{i}"] for i in range(len(glob.files))]
        for a, b in zip(got, expected, strict=True):
            assert np.allclose(a, b, atol=1e-3)  # the sum, up to SecAgg+'s quantization
        flat_plain = [np.concatenate([x.ravel() for x in p]) for p in plain]
        for vec in received[(r - 1) * 3 : r * 3]:
            # the first array is the client's (masked) weight, the rest its (masked) parameters
            masked = np.concatenate([x.ravel() for x in vec[1:]]).astype(np.float64)
            assert masked.std() > 1e6  # uniform over the 2^32 ring, not weights of order 1
            for p in flat_plain:
                assert abs(np.corrcoef(masked, p)[0, 1]) < 0.1


def test_cli_federated_json(tmp_path):
    from typer.testing import CliRunner

    from privis.cli import app

    res = CliRunner().invoke(app, ["federated", "digits", "--clients", "3", "--rounds", "1", "--no-secagg",
                                   "--noise-multiplier", "0.5", "--clipping-norm", "5", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["epsilon"] > 0 and summary["rounds"] == 1 and len(summary["history"]) == 1
