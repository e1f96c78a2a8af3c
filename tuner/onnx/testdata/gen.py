#!/usr/bin/python3
"""Regenerates the ONNX import fixtures in this directory.

Run with Debian's Python (not a pyenv one) after
`apt-get install python3-torch python3-onnx`:

    /usr/bin/python3 tuner/onnx/testdata/gen.py

Seeds are fixed, so a rerun with the same torch/onnx/numpy versions writes the
same files. See README.md for what each file is.
"""

import io
import json
import os
import zipfile

import numpy as np
import onnx
import torch
from torch import nn

OUT = os.path.dirname(os.path.abspath(__file__))
ROWS = 5  # rows of inputs/logits per NAME.logits.json


def export(name, model, shape, opset, dynamic_batch=False, fold=True, preserve=False):
    """Exports model (in eval mode) to NAME.onnx with one input "input" and one output "logits".

    preserve exports with TrainingMode.PRESERVE instead of EVAL: the model is still
    in eval mode (running BatchNorm statistics, no Dropout), but the exporter skips
    its eval-mode peephole pass, which would fuse BatchNorm into the preceding Conv.
    """
    model.eval()
    dummy = torch.zeros(*shape)
    kwargs = {}
    if preserve:
        kwargs["training"] = torch.onnx.TrainingMode.PRESERVE
    if dynamic_batch:
        kwargs["dynamic_axes"] = {"input": {0: "batch"}, "logits": {0: "batch"}}
    torch.onnx.export(
        model,
        dummy,
        os.path.join(OUT, name + ".onnx"),
        input_names=["input"],
        output_names=["logits"],
        opset_version=opset,
        do_constant_folding=fold,
        **kwargs,
    )


def write_logits(name, model, shape, seed):
    """Writes NAME.logits.json: ROWS inputs from a fixed-seed normal and the model's outputs.

    Inputs are rounded to float32 (the graph's type) so that feeding the stored
    values reproduces the outputs exactly; each row is run on its own with batch
    size 1, as the graph's input shape says. Floats are written with repr, i.e.
    full float64 precision of the float32 results.
    """
    model.eval()
    rng = np.random.RandomState(seed)
    per_row = int(np.prod(shape[1:]))
    xs = rng.standard_normal((ROWS, per_row)).astype(np.float32)
    inputs, logits = [], []
    with torch.no_grad():
        for row in xs:
            out = model(torch.from_numpy(row.reshape([1] + list(shape[1:]))))
            inputs.append([float(v) for v in row.astype(np.float64)])
            logits.append([float(v) for v in out.double().reshape(-1).numpy()])
    doc = {"input_shape": list(shape), "inputs": inputs, "logits": logits}
    # json.dumps writes floats with repr (shortest string that round-trips).
    with open(os.path.join(OUT, name + ".logits.json"), "w") as f:
        f.write(json.dumps(doc))
        f.write("\n")


class ViewMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = x.view(x.size(0), -1)
        return self.fc(x)


class OpsNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=1, dilation=1, groups=2),
            nn.LeakyReLU(0.1),
            nn.Conv2d(4, 4, 3, padding=2, dilation=2),
            nn.Sigmoid(),
            nn.MaxPool2d(2),
            nn.Conv2d(4, 6, 1),
            nn.Tanh(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(6, 8),
            nn.GELU(),
            nn.Linear(8, 3),
        )

    def forward(self, x):
        x = self.body(x)
        x = x * 0.5 + 1.0
        x = x / 2.0 - 0.25
        return torch.softmax(x, dim=1)


class CosNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, 8)
        self.fc2 = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc2(torch.cos(self.fc1(x)))


def mlp():
    torch.manual_seed(1)
    m = nn.Sequential(
        nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 10)
    )
    shape = [1, 64]
    export("mlp", m, shape, 13, dynamic_batch=True)
    write_logits("mlp", m, shape, seed=101)


def cnn():
    torch.manual_seed(2)
    m = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Dropout(0.2),
        nn.Conv2d(4, 8, 3, padding=1),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(32, 10),
    )
    bn = m[1]
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(4) * 0.5)
        bn.running_var.copy_(torch.rand(4) * 1.5 + 0.25)
        bn.weight.copy_(torch.rand(4) + 0.5)
        bn.bias.copy_(torch.randn(4) * 0.3)
    shape = [1, 1, 8, 8]
    # No constant folding and no eval peephole pass, so BatchNormalization stays a
    # node instead of being fused into the Conv (torch 1.13 fuses it in EVAL mode
    # even with do_constant_folding=False).
    export("cnn", m, shape, 11, fold=False, preserve=True)
    write_logits("cnn", m, shape, seed=102)


def ops():
    torch.manual_seed(3)
    m = OpsNet()
    shape = [1, 2, 8, 8]
    export("ops", m, shape, 17)
    write_logits("ops", m, shape, seed=103)


def reshape():
    torch.manual_seed(4)
    m = ViewMLP()
    shape = [1, 1, 8, 8]
    # A dynamic batch axis and no constant folding, so x.size(0) stays a
    # Shape/Gather/Unsqueeze/Concat chain (with a static batch torch 1.13 turns
    # it into a Constant even without constant folding).
    export("reshape", m, shape, 11, dynamic_batch=True, fold=False)
    write_logits("reshape", m, shape, seed=104)


def unsupported():
    torch.manual_seed(5)
    export("unsupported", CosNet(), [1, 16], 13)


def savez_fixed(path, **arrays):
    """np.savez with a fixed zip timestamp, so reruns write identical bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        for key, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            z.writestr(info, buf.getvalue())


def data():
    """40 rows of digits-like data (8x8 grey levels 0..16, 10 classes).

    sklearn's digits are used when sklearn is installed; otherwise each class gets
    a random 8x8 prototype and rows are noisy, rounded, clipped copies of it.
    """
    try:
        from sklearn.datasets import load_digits

        d = load_digits()
        x = d.data[:40].astype(np.float64)
        y = d.target[:40].astype(np.int64)
        source = "sklearn load_digits (first 40 rows)"
    except ImportError:
        rng = np.random.RandomState(42)
        protos = rng.randint(0, 17, size=(10, 64)).astype(np.float64)
        y = np.arange(40, dtype=np.int64) % 10
        rng.shuffle(y)
        x = np.clip(np.round(protos[y] + rng.normal(0.0, 2.0, size=(40, 64))), 0, 16)
        x = x.astype(np.float64)
        source = "synthetic (numpy RandomState(42), sklearn not installed)"
    savez_fixed(os.path.join(OUT, "data.npz"), x=x, y=y)
    np.save(os.path.join(OUT, "X.npy"), x)
    np.save(os.path.join(OUT, "y.npy"), y)
    print("data: x %s %s, y %s %s, %s" % (x.shape, x.dtype, y.shape, y.dtype, source))


class DigitsMLP(nn.Module):
    """A user's network as Concrete ML's examples train it: inputs scaled inside the
    model (the Sub/Div the exporter writes become fhetune's standardizer)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 10)
        )

    def forward(self, x):
        return self.body((x - 8.0) / 8.0)


def digits():
    """digits_mlp.onnx: DigitsMLP trained by PyTorch on the first 1,000 rows of the
    digits data set fhetune embeds (tuner/dataset/data/digits.csv.gz); digits.npz holds
    the other 797 rows (x uint8 [797, 64], y int64 [797]) as a user would keep them,
    so that fhetune's splits of it (fine-tuning, calibration, test) are data the
    network never saw."""
    path = os.path.join(OUT, "..", "..", "dataset", "data", "digits.csv.gz")
    raw = np.loadtxt(path, delimiter=",", dtype=np.int64)
    x, y = raw[:, :64].astype(np.uint8), raw[:, 64].astype(np.int64)
    savez_fixed(os.path.join(OUT, "digits.npz"), x=x[1000:], y=y[1000:])
    torch.manual_seed(7)
    rng = np.random.RandomState(7)
    order = rng.permutation(1000)
    train, test = order[:850], order[850:]
    m = DigitsMLP()
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    xt = torch.from_numpy(x.astype(np.float32))
    yt = torch.from_numpy(y)
    for _ in range(150):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(m(xt[train]), yt[train])
        loss.backward()
        opt.step()
    m.eval()
    with torch.no_grad():
        acc = (m(xt[test]).argmax(1) == yt[test]).float().mean().item()
    shape = [1, 64]
    export("digits_mlp", m, shape, 13, dynamic_batch=True)
    print("digits_mlp: PyTorch validation accuracy %.4f on %d of its 1,000 rows" % (acc, len(test)))


def check():
    for fname in sorted(os.listdir(OUT)):
        if not fname.endswith(".onnx"):
            continue
        model = onnx.load(os.path.join(OUT, fname))
        onnx.checker.check_model(model)
        opset = ",".join("%s:%d" % (o.domain or "ai.onnx", o.version) for o in model.opset_import)
        ops_ = [n.op_type for n in model.graph.node]
        print("%s (opset %s, %d bytes): %s" % (fname, opset, model.ByteSize(), " ".join(ops_)))


def main():
    print("torch", torch.__version__, "onnx", onnx.__version__, "numpy", np.__version__)
    mlp()
    cnn()
    ops()
    reshape()
    unsupported()
    data()
    digits()
    check()


if __name__ == "__main__":
    main()
