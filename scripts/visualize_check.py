"""Does `visualize` draw a class a network that did not make it can recognise?

    python scripts/visualize_check.py [--classes banana starfish ...] [--make lite0,lite1]
        [--judge lite2] [--size 256] [--seed 0] [--set FIELD=VALUE ...] [--gallery docs/gallery/classes.png]

Makes one image per class with the `make` networks (an ensemble) at the default settings (or
--set FIELD=VALUE, e.g. --set view_size=224 decay_power=1.0), then shows each to the
held-out `judge` network through 10 random crops and rescales (a square crop of 60-100% of the
side, resized to 192-288 pixels, flipped half the time) and counts how often the class is in its
top 5 (and top 1). Prints one JSON document: the settings, the seconds per image (optimisation
only, one image at a time unless --together), and the table.
The same crops are shown to the making networks, for comparison.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streamdream import models
from streamdream.engine import objectives  # noqa: E402
from streamdream.engine.feature_vis import VisualizeSettings, shown, visualize  # noqa: E402

CLASSES = ["banana", "starfish", "dumbbell", "ant", "parachute"]


def crops(image: torch.Tensor, count: int, generator: torch.Generator) -> list[torch.Tensor]:
    """`count` random square crops (60-100% of the short side) of (1, 3, H, W), resized to 192-288."""
    _, _, h, w = image.shape
    out = []
    for _ in range(count):
        r = lambda: float(torch.rand((), generator=generator))
        side = int(min(h, w) * (0.6 + 0.4 * r()))
        y, x = int((h - side) * r()), int((w - side) * r())
        view = image[:, :, y:y + side, x:x + side]
        size = int(192 + 96 * r())
        view = F.interpolate(view, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        out.append(view.flip(-1) if r() < 0.5 else view)
    return out


def hits(net, views: list[torch.Tensor], index: int) -> tuple[int, int]:
    top1 = top5 = 0
    with torch.no_grad():
        for view in views:
            top = net(view)["logits"][0].topk(5).indices.tolist()
            top1 += top[0] == index
            top5 += index in top
    return top1, top5


def logits_net(name: str):
    spec = models.get_spec(name)
    return models.DreamNet(spec, models.load_network(spec), ["logits"]).prepare(torch.device("cpu"))


def parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--classes", nargs="+", default=CLASSES)
    parser.add_argument("--make", default="lite0,lite1", help="the networks that make the images")
    parser.add_argument("--judge", default="lite2", help="the held-out network that judges them")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--objective", choices=["logit", "logprob"], default="logit")
    parser.add_argument("--crops", type=int, default=10)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="VisualizeSettings fields")
    parser.add_argument("--together", action="store_true",
                        help="optimise all classes in one batch (faster per image on a CPU; not how the CLI times one)")
    parser.add_argument("--gallery", help="write the images side by side to this PNG")
    parser.add_argument("--save-dir", help="write each image here as CLASS.png")
    args = parser.parse_args()

    fields = {}
    for item in args.set:
        key, _, value = item.partition("=")
        value = parse_value(value)
        fields[key] = tuple(value) if isinstance(value, list) else value
    settings = VisualizeSettings(**fields)
    classes = models.imagenet_classes()
    makers = [logits_net(name) for name in args.make.split(",")]
    judge = logits_net(args.judge)

    indices = [models.class_index(name, classes) for name in args.classes]
    make_obj = objectives.class_logit if args.objective == "logit" else objectives.class_log_prob
    objs = [make_obj(i, classes[i]) for i in indices]
    generator = torch.Generator().manual_seed(args.seed)
    start = time.perf_counter()
    each = []
    if args.together:
        images = visualize(makers, objs, args.size, args.size, settings, generator=generator)
    else:
        images = []
        for obj in objs:
            began = time.perf_counter()
            images.append(visualize(makers, [obj], args.size, args.size, settings, generator=generator))
            each.append(round(time.perf_counter() - began, 1))
        images = torch.cat(images)
    seconds = (time.perf_counter() - start) / len(objs)
    images = shown(images)

    rows = []
    check = torch.Generator().manual_seed(1234)
    for name, index, image in zip(args.classes, indices, images):
        views = crops(image[None], args.crops, check)
        row = {"class": name, "judge": dict(zip(("top1", "top5"), hits(judge, views, index)))}
        if each:
            row["seconds"] = each[len(rows)]
        for maker_name, maker in zip(args.make.split(","), makers):
            row[maker_name] = dict(zip(("top1", "top5"), hits(maker, views, index)))
        with torch.no_grad():
            row["judge_top5_names"] = [classes[i] for i in judge(image[None])["logits"][0].topk(5).indices]
        rows.append(row)

    if args.gallery or args.save_dir:
        import cv2
        import numpy as np

        tiles = [(img.permute(1, 2, 0).clamp(0, 1).numpy()[:, :, ::-1] * 255).round().astype(np.uint8)
                 for img in images]
        if args.save_dir:
            Path(args.save_dir).mkdir(parents=True, exist_ok=True)
            for name, tile in zip(args.classes, tiles):
                cv2.imwrite(str(Path(args.save_dir) / f"{name.replace(' ', '_')}.png"), tile)
        if args.gallery:
            label_h = 28
            sheet = []
            for name, tile in zip(args.classes, tiles):
                label = np.full((label_h, tile.shape[1], 3), 255, np.uint8)
                cv2.putText(label, name, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
                sheet.append(np.vstack([tile, label]))
            Path(args.gallery).parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(args.gallery, np.hstack(sheet))

    report = {
        "machine": f"{torch.get_num_threads()} threads, torch {torch.__version__}",
        "make": args.make, "judge": args.judge, "size": args.size, "seed": args.seed, "objective": args.objective,
        "settings": dataclasses.asdict(settings), "seconds_per_image": round(seconds, 1),
        "rows": rows,
        "passed": sum(r["judge"]["top5"] >= 8 for r in rows),
    }
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
