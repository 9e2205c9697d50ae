"""Secret-shared inference (MPyC): 3 parties on loopback agree with the plaintext model."""

import dataclasses
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("mpyc")

from typer.testing import CliRunner  # noqa: E402

from privis.cli import app  # noqa: E402
from privis.errors import PrivisError  # noqa: E402
from privis.learn.data import load_image_set  # noqa: E402
from privis.learn.dp_train import train_classifier  # noqa: E402
from privis.learn.models import create_model  # noqa: E402
from privis.learn.mpc import MPC_TRAINING, mlp_layers, run_mpc  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    data = load_image_set("digits")
    model = train_classifier(data, dataclasses.replace(MPC_TRAINING, epochs=5, shift=0)).model
    return data, model


def test_only_dense_layers_and_relu():
    assert [w.shape for w, _ in mlp_layers(create_model("mlp", (1, 8, 8), 10))] == [(64, 64), (64, 10)]
    linear = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    assert len(mlp_layers(linear)) == 1
    for bad in (create_model("small-cnn", (1, 8, 8), 10),
                torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)),
                torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 8), torch.nn.ReLU())):  # fmt: skip
        with pytest.raises(PrivisError, match="linear model or an MLP"):
            mlp_layers(bad)


def test_three_parties_agree_with_plaintext(digits):
    data, model = digits
    test = data.test[:8]
    ticks = []
    summary = run_mpc(model, data.x[test], data.y[test], on_image=lambda: ticks.append(1))
    assert summary["parties"] == 3 and summary["n_images"] == 8 and len(ticks) == 8
    assert summary["agreement"] == 1.0
    assert summary["mpc_accuracy"] == summary["plaintext_accuracy"]
    assert summary["seconds_per_image"] > 0


def test_wrong_input_size_is_refused(digits):
    _, model = digits
    with pytest.raises(PrivisError, match="64 values per image"):
        run_mpc(model, np.zeros((1, 1, 28, 28), np.float32))


def test_cli_mpc_on_a_data_set_and_on_files(tmp_path, digits):
    from PIL import Image

    runner = CliRunner()
    out = runner.invoke(app, ["mpc", "--dataset", "digits", "--n", "4", "--json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    assert summary["n_images"] == 4 and summary["agreement"] == 1.0 and summary["parties"] == 3
    model = tmp_path / "mlp.pt"
    out = runner.invoke(app, ["train", "digits", "--model", "mlp", "--epochs", "3", "-o", str(model), "-q"])
    assert out.exit_code == 0, out.output
    data, _ = digits
    Image.fromarray((data.x[data.test[0], 0] * 255).astype(np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    out = runner.invoke(app, ["mpc", str(tmp_path / "a.png"), str(tmp_path / "bad.png"), "--model", str(model),
                              "--json"])  # fmt: skip
    assert out.exit_code == 1
    rows = json.loads(out.stdout)["predictions"]
    assert rows[0]["class"] in data.classes and "cannot read" in rows[1]["error"]
    out = runner.invoke(app, ["mpc", str(tmp_path / "a.png")])
    assert out.exit_code == 2 and "--model" in out.output
