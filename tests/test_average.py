"""`python -m training.average`: the mean of fine-tunes of one model, and the bundles it refuses."""

import json

import pytest
import torch

from models.checkpoint import read_state_dict
from models.config import SeparationConfig
from models.loading import bundle_metadata, load_separation_net, save_bundle
from models.lowlatency import LowLatencyConfig, LowLatencyNet
from models.resunet import ResUNet30
from training.average import main
from training.evaluate import file_sha256

FEATURES = torch.randn(6, 384, generator=torch.Generator().manual_seed(9))


def bundle(path, seed: int, temperature: float = 0.01, features: torch.Tensor = FEATURES, net=None):
    torch.manual_seed(seed)
    net = ResUNet30(SeparationConfig(width=0.25)).eval() if net is None else net
    for module in net.modules():  # BatchNorm statistics differ between fine-tunes too
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_()
            module.num_batches_tracked.fill_(seed)
    query = {"projection.weight": torch.randn(512, 384), "memory.features": features, "memory.temperature": torch.tensor(temperature)}
    memory = json.dumps({"texts": 6, "temperature": temperature})
    save_bundle(path, net, query, "minilm-l6-v2", caption_labels='[["speech", 6]]', caption_memory=memory)
    return path


def test_weights_are_averaged_and_the_memory_and_counters_are_the_first_bundles(tmp_path):
    first, second = bundle(tmp_path / "a.safetensors", 1, 0.02), bundle(tmp_path / "b.safetensors", 2, 0.01)
    out = tmp_path / "soup" / "mean.safetensors"
    main(["--out", str(out), str(first), str(second)])
    a, b, mean = read_state_dict(first), read_state_dict(second), read_state_dict(out)
    assert list(mean) == list(a)
    weight = "ss_model.base.after_conv.weight"
    assert torch.allclose(mean[weight], (a[weight] + b[weight]) / 2)
    assert torch.allclose(mean["query_encoder.projection.weight"], (a["query_encoder.projection.weight"] + b["query_encoder.projection.weight"]) / 2)
    running = next(k for k in a if k.endswith("running_mean"))
    assert torch.allclose(mean[running], (a[running] + b[running]) / 2)
    counter = next(k for k in a if k.endswith("num_batches_tracked"))
    assert mean[counter] == a[counter] == 1
    assert mean["query_encoder.memory.temperature"] == pytest.approx(0.02)
    metadata = bundle_metadata(out)
    assert json.loads(metadata["caption_memory"])["temperature"] == 0.02
    assert json.loads(metadata["averaged_from"]) == [
        {"file": "a.safetensors", "sha256": file_sha256(first)}, {"file": "b.safetensors", "sha256": file_sha256(second)}
    ]
    assert load_separation_net(out).architecture == "resunet"


@pytest.mark.parametrize(
    "other, says",
    [
        (lambda path: bundle(path, 2, features=FEATURES + 1), "another caption memory"),
        (lambda path: bundle(path, 2, net=LowLatencyNet(LowLatencyConfig()).eval()), "architecture"),
        (lambda path: (path.write_text("not a bundle"), path)[1], "is not a readable safetensors file"),
    ],
)
def test_bundles_of_other_models_are_refused_by_name_and_nothing_is_written(tmp_path, capsys, other, says):
    first = bundle(tmp_path / "a.safetensors", 1)
    second = other(tmp_path / "b.safetensors")
    with pytest.raises(SystemExit) as exit_:
        main(["--out", str(tmp_path / "mean.safetensors"), str(first), str(second)])
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert says in error and "b.safetensors" in error
    assert not (tmp_path / "mean.safetensors").exists()


def test_one_bundle_is_not_an_average(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "mean.safetensors"), str(bundle(tmp_path / "a.safetensors", 1))])
    assert "two or more bundles" in capsys.readouterr().err
