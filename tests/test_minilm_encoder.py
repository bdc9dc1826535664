"""The bundled text encoder in plain PyTorch gives transformers' numbers, and the bundled model's
commands never import transformers (2.4 s of every start-up)."""

import subprocess
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from models.minilm import MINILM_MAX_TOKENS, MiniLmQueryNet, minilm_directory

ROOT = Path(__file__).resolve().parent.parent
TEXTS = ["speech", "a dog barking loudly in the distance", "Beeps!", "naïve café – ünïcode", "word " * 400]


def test_sentence_features_equal_transformers_bert():
    from transformers import AutoModel, AutoTokenizer

    ours = MiniLmQueryNet().sentence_features(TEXTS)
    directory = minilm_directory()
    tokens = AutoTokenizer.from_pretrained(directory)(TEXTS, padding=True, truncation=True, max_length=MINILM_MAX_TOKENS, return_tensors="pt")
    with torch.inference_mode():
        hidden = AutoModel.from_pretrained(directory).eval()(**tokens).last_hidden_state
    mask = tokens["attention_mask"][..., None].float()
    reference = F.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    assert ours.shape == (len(TEXTS), 384)
    assert (ours - reference).abs().max() < 1e-5


def test_separating_with_the_bundled_model_imports_neither_transformers_nor_dynamo(tmp_path):
    probe = (
        "import sys\n"
        "from cli.main import main\n"
        f"code = main(['separate', {str(ROOT / 'examples' / 'speech_and_beeps.wav')!r}, '-q', 'speech', '-o', {str(tmp_path / 'out.wav')!r}])\n"
        "print(code, 'transformers' in sys.modules, 'torch._dynamo' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.split()[-3:] == ["0", "False", "False"], done.stderr
