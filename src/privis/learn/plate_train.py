"""Train privis's licence-plate detector on the CPU and export it as the ONNX file privis ships.

The network (`PlateNet`) is a small fully convolutional segmenter: it marks plate pixels
at a quarter of the input resolution, so one pass finds plates of any tilt, and
`privis.detect.plate_net` turns each marked blob into a turned rectangle around the whole
plate. Training samples come from `privis.learn.plate_data` (synthetic plates of many
countries plus MIT/CC0 real plates, all made hard at random).

Reproduce the shipped weights with one command (about 25 minutes on 2 cores)::

    python -m privis.learn.plate_train --data ../shared/data --out src/privis/detect/models/plate_net.onnx
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def _build():  # noqa: ANN202 - torch imported lazily
    import torch
    from torch import nn

    def cbr(i: int, o: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(i, o, 3, stride, padding=dilation, dilation=dilation, bias=False),
            nn.BatchNorm2d(o),
            nn.ReLU(inplace=True),
        )

    class PlateNet(nn.Module):
        """Plate-pixel logits at 1/4 of the input: a 5-level encoder and a top-down merge."""

        def __init__(self) -> None:
            super().__init__()
            self.s2 = cbr(3, 16, 2)
            self.s4 = nn.Sequential(cbr(16, 32, 2), cbr(32, 32))
            self.s8 = nn.Sequential(cbr(32, 48, 2), cbr(48, 48))
            self.s16 = nn.Sequential(cbr(48, 64, 2), cbr(64, 64), cbr(64, 64, dilation=2))
            self.s32 = nn.Sequential(cbr(64, 96, 2), cbr(96, 96), cbr(96, 96, dilation=2))
            self.l4, self.l8, self.l16, self.l32 = (nn.Conv2d(c, 32, 1) for c in (32, 48, 64, 96))
            self.head = nn.Sequential(cbr(32, 32), nn.Conv2d(32, 1, 1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            f4 = self.s4(self.s2(x))
            f8 = self.s8(f4)
            f16 = self.s16(f8)
            f32 = self.s32(f16)
            up = nn.functional.interpolate
            p = self.l32(f32)
            p = self.l16(f16) + up(p, size=f16.shape[2:], mode="nearest")
            p = self.l8(f8) + up(p, size=f8.shape[2:], mode="nearest")
            p = self.l4(f4) + up(p, size=f4.shape[2:], mode="nearest")
            return self.head(p)

    return PlateNet


def from_onnx(path: Path):  # noqa: ANN201 - a torch module
    """`PlateNet` with the weights of an exported ONNX file (the shipped ``plate_net.onnx``).

    The export folds each BatchNorm into the convolution before it, so the BatchNorm
    comes back as the identity holding that convolution's bias; train it with BatchNorm
    frozen (`train` does so for an ``.onnx`` `init`), since new batch statistics would undo
    the fold. Outputs match the ONNX file's to about 1e-6."""
    import onnx
    import torch
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    weights = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    model = plate_net().eval()
    order: list[str] = []  # the convolutions in the order they run, as the export wrote them
    hooks = [m.register_forward_hook(lambda *_, name=name: order.append(name))
             for name, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]  # fmt: skip
    with torch.no_grad():
        model(torch.zeros(1, 3, 64, 64))
    for h in hooks:
        h.remove()
    modules = dict(model.named_modules())
    if len(order) != len(convs):
        raise ValueError(f"{path}: {len(convs)} convolutions, PlateNet has {len(order)}: not a PlateNet export")
    with torch.no_grad():
        for name, node in zip(order, convs, strict=True):
            conv = modules[name]
            w = weights[node.input[1]]
            if tuple(conv.weight.shape) != w.shape:
                raise ValueError(f"{path}: {name} has shape {w.shape}, PlateNet's is {tuple(conv.weight.shape)}")
            conv.weight.copy_(torch.from_numpy(w.copy()))
            b = torch.from_numpy(weights[node.input[2]].copy())
            if conv.bias is not None:
                conv.bias.copy_(b)
                continue
            parent, index = name.rsplit(".", 1)
            norm = modules[f"{parent}.{int(index) + 1}"]  # the BatchNorm after it (`cbr`)
            norm.weight.fill_(1.0)
            norm.bias.copy_(b)
            norm.running_mean.zero_()
            norm.running_var.fill_(1.0 - norm.eps)
    return model


def _freeze_norms(model) -> None:  # noqa: ANN001
    """Keep BatchNorm's statistics as they are while the rest trains."""
    import torch

    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()


def plate_net():  # noqa: ANN201 - a torch module
    """A fresh, untrained `PlateNet`."""
    return _build()()


def _batches(seed: int, data: Path, batch: int, size: int, workers: int):  # noqa: ANN202
    import torch
    from torch.utils.data import DataLoader, IterableDataset

    from privis.learn.plate_data import backgrounds, real_plates, samples, textures

    real = real_plates(data)
    empty = backgrounds(data) + textures(np.random.default_rng(seed), 120)
    log.info("training on %d labelled photos and %d empty backgrounds", len(real), len(empty))

    class Stream(IterableDataset):
        def __iter__(self):  # noqa: ANN204
            info = torch.utils.data.get_worker_info()
            yield from samples(seed * 1000 + (info.id if info else 0), real, empty, size)

    def collate(items: list) -> tuple:
        imgs = torch.from_numpy(np.stack([i for i, _ in items])).permute(0, 3, 1, 2).float().div_(255.0)
        masks = torch.from_numpy(np.stack([m for _, m in items])).float().div_(255.0)[:, None]
        return imgs, masks

    return DataLoader(
        Stream(), batch_size=batch, num_workers=workers, collate_fn=collate, persistent_workers=workers > 0
    )


def loss_fn(logits, masks):  # noqa: ANN001, ANN201
    """Pixel BCE (plates weighted up) plus soft Dice, against masks pooled to the logits' size."""
    import torch
    from torch.nn import functional as F

    target = F.adaptive_avg_pool2d(masks, logits.shape[2:])
    bce = F.binary_cross_entropy_with_logits(logits, target, pos_weight=torch.tensor(3.0))
    p = torch.sigmoid(logits)
    inter = (p * target).sum()
    dice = 1 - (2 * inter + 1) / (p.sum() + target.sum() + 1)
    return bce + dice


def train(data: Path, out: Path, *, steps: int = 6000, batch: int = 16, size: int = 256, seed: int = 0,
          workers: int = 1, lr: float = 3e-3, init: Path | None = None) -> Path:  # fmt: skip
    """Train `PlateNet` for `steps` batches and write it to `out` as ONNX (and its weights beside
    it, ``.pt``, to go on from); returns `out`. `init` goes on from saved weights: a ``.pt``
    this wrote, or an exported ``.onnx`` such as the shipped model (`from_onnx`; BatchNorm stays frozen)."""
    import torch
    from rich.progress import Progress

    torch.manual_seed(seed)
    frozen = init is not None and init.suffix == ".onnx"
    if frozen:
        assert init is not None
        model = from_onnx(init)
    else:
        model = plate_net()
        if init is not None:
            model.load_state_dict(torch.load(init, map_location="cpu"))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    model.train()
    if frozen:
        _freeze_norms(model)
    start, running = time.perf_counter(), None
    with Progress() as bar:
        task = bar.add_task("training the plate detector", total=steps)
        for step, (imgs, masks) in enumerate(_batches(seed, data, batch, size, workers)):
            if step >= steps:
                break
            loss = loss_fn(model(imgs), masks)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            running = float(loss) if running is None else 0.98 * running + 0.02 * float(loss)
            bar.update(task, advance=1, description=f"training the plate detector (loss {running:.3f})")
            if step % 200 == 0:
                log.info("step %d loss %.4f (%.0f s)", step, running, time.perf_counter() - start)
                export(model, out.with_suffix(".partial.onnx"))
                torch.save(model.state_dict(), out.with_suffix(".partial.pt"))
    export(model, out)
    torch.save(model.state_dict(), out.with_suffix(".pt"))
    out.with_suffix(".partial.onnx").unlink(missing_ok=True)
    out.with_suffix(".partial.pt").unlink(missing_ok=True)
    return out


def export(model, out: Path) -> Path:  # noqa: ANN001
    """Write `model` as ONNX with a free input size (N, 3, H, W) in 0-1 RGB."""
    import torch

    out.parent.mkdir(parents=True, exist_ok=True)
    modes = [(m, m.training) for m in model.modules()]  # each its own: frozen BatchNorm stays frozen
    model.eval()
    dummy = torch.zeros(1, 3, 256, 256)
    torch.onnx.export(model, (dummy,), str(out), input_names=["image"], output_names=["logits"], opset_version=17,
                      dynamic_axes={"image": {0: "n", 2: "h", 3: "w"}, "logits": {0: "n", 2: "h4", 3: "w4"}},
                      dynamo=False)  # fmt: skip
    for m, training in modes:
        m.training = training
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description="Train privis's plate detector (CPU) and export it as ONNX.")
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path, default=Path("src/privis/detect/models/plate_net.onnx"))
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--init", type=Path, help="weights to go on from: a .pt this wrote or an .onnx")
    ap.add_argument("--check-only", action="store_true", help="keep --out, retrain only the second look")
    ap.add_argument("--check-samples", type=int, default=16000)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.init is not None and not args.init.is_file():
        ap.error(f"--init {args.init}: no such file")
    if args.init is not None and args.init.resolve() == args.out.resolve():
        ap.error(f"--init and --out are the same file ({args.out}): training would overwrite what it goes on from")
    if not args.check_only:
        try:
            train(args.data, args.out, steps=args.steps, batch=args.batch, seed=args.seed, workers=args.workers,
                  lr=args.lr, init=args.init)  # fmt: skip
        except ValueError as exc:  # weights that are not PlateNet's
            ap.error(str(exc))
    crops, labels = mine_crops(args.out, args.data, samples=args.check_samples, seed=args.seed)
    log.info("second look: %d crops, %d plates", len(labels), int(labels.sum()))
    train_check(crops, labels, args.out.with_name("plate_check.onnx"), seed=args.seed)


# ------------------------------------------------------------------ the second look


def _build_check():  # noqa: ANN202 - torch imported lazily
    from torch import nn

    def cbr(i: int, o: int) -> list:
        return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]

    class PlateCheck(nn.Module):
        """Plate or not, from an upright 96x32 crop (`privis.detect.plate_net.plate_crop`): one logit."""

        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(
                *cbr(3, 16), nn.MaxPool2d(2),
                *cbr(16, 32), *cbr(32, 32), nn.MaxPool2d(2),
                *cbr(32, 64), *cbr(64, 64), nn.MaxPool2d(2),
                *cbr(64, 96), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(96, 1),
            )  # fmt: skip

        def forward(self, x):  # noqa: ANN001, ANN202
            return self.body(x)

    return PlateCheck


def mine_crops(detector: Path, data: Path, *, samples: int = 6000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Crops of what the plate network proposes, labelled by the masks they came with.

    Proposals on made-hard training crops (`plate_data.make_sample`) are plates when
    a third of their outline is plate, and not plates when almost none is; on photos
    with real plates only the plates are kept (their other plates are unlabelled).
    Every proposal on the backgrounds, textures and one half of the photos of people
    (`plate_data.people_photos`), at three sizes, is not a plate.
    Returns (N, 32, 96, 3) uint8 crops and (N,) 0/1 labels.
    """
    import cv2
    from rich.progress import track

    from privis.detect.plate_net import PlateNetDetector, plate_crop
    from privis.learn.plate_data import backgrounds, make_sample, night, people_photos, real_plates, textures

    real = real_plates(data)
    empty = backgrounds(data) + textures(np.random.default_rng(seed + 7), 120)
    people = people_photos(data, part=0)
    det = PlateNetDetector(model=detector, threshold=0.3, pixel_threshold=0.4, check=None)
    rng = np.random.default_rng(seed)
    crops, labels = [], []
    for i in track(range(samples), description="mining proposals"):
        from_real = i % 2 == 0
        img, mask = make_sample(rng, real if from_real else [], empty, 256)
        found = det.detect(img)
        for quad in found.data["quad"]:
            poly = np.zeros(mask.shape, np.uint8)
            cv2.fillPoly(poly, [np.round(quad).astype(np.int32)], 1)
            share = float((mask[poly > 0] > 127).mean()) if poly.any() else 0.0
            if share >= 0.33 or (share < 0.03 and not from_real):
                crops.append(plate_crop(img, quad))
                labels.append(int(share >= 0.33))
    for img in track(empty + people, description="mining backgrounds"):
        for scale in (1.0, float(rng.uniform(0.25, 0.6)), float(rng.uniform(1.3, 2.0))):
            small = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale != 1 else img
            for quad in det.detect(small).data["quad"]:
                crops.append(plate_crop(small, quad))
                labels.append(0)
    # The real plates themselves, as a proposal would outline them: a little off, turned, small or dark.
    # A proposal on a tilted plate is often turned a few degrees from it: the crop then shows the
    # plate askew, which must still pass.
    for photo in track(real, description="real plates"):
        for quad in photo.quads:
            for _ in range(6):
                c = quad.mean(axis=0)
                a = np.deg2rad(float(np.clip(rng.normal(0, 6), -15, 15)))
                turn = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
                q = ((quad - c) @ turn.T) * rng.uniform(0.85, 1.2) + c + rng.normal(0, 0.08, 2) * np.ptp(quad[:, 1])
                scale = float(np.exp(rng.uniform(np.log(10), np.log(60)))) / max(float(np.ptp(quad[:, 1])), 1.0)
                scale = min(scale, 1.0)
                img = photo.rgb if scale == 1.0 else cv2.resize(photo.rgb, None, fx=scale, fy=scale,
                                                                 interpolation=cv2.INTER_AREA)  # fmt: skip
                crop = plate_crop(img, q * scale).astype(np.float32)
                if rng.random() < 0.3:
                    crop = night(rng, crop, noise=(2, 7))
                crops.append(np.clip(crop, 0, 255).astype(np.uint8))
                labels.append(1)
    return np.stack(crops), np.array(labels, np.int64)


def train_check(crops: np.ndarray, labels: np.ndarray, out: Path, *, epochs: int = 12, seed: int = 0) -> Path:
    """Train `PlateCheck` on mined crops and write it to `out` as ONNX (input ``crop``, N x 3 x 32 x 96)."""
    import torch
    from torch.nn import functional as F

    torch.manual_seed(seed)
    model = _build_check()()
    x = torch.from_numpy(crops).permute(0, 3, 1, 2).float().div_(255.0)
    y = torch.from_numpy(labels).float()[:, None]
    pos = float(y.mean())
    weight = torch.tensor((1 - pos) / max(pos, 1e-6))
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-3)
    steps = epochs * (len(x) // 64 + 1)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        total = 0.0
        for j in range(0, len(x), 64):
            idx = order[j : j + 64]
            xb = x[idx]
            if torch.rand(1, generator=gen) < 0.5:  # brightness and contrast
                xb = (
                    xb * (0.5 + torch.rand(len(xb), 1, 1, 1, generator=gen))
                    + 0.2 * (torch.rand(len(xb), 1, 1, 1, generator=gen) - 0.5)
                ).clamp(0, 1)
            loss = F.binary_cross_entropy_with_logits(model(xb), y[idx], pos_weight=weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
        log.info("check epoch %d loss %.4f", epoch, total / len(x))
    model.eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, (torch.zeros(1, 3, 32, 96),), str(out), input_names=["crop"], output_names=["logit"],
                      opset_version=17, dynamic_axes={"crop": {0: "n"}, "logit": {0: "n"}}, dynamo=False)  # fmt: skip
    torch.save(model.state_dict(), out.with_suffix(".pt"))
    return out


if __name__ == "__main__":
    main()
