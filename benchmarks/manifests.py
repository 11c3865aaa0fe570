"""Generated Ground Truth object-detection lines, shared by the benchmarks."""

from __future__ import annotations

import json
import random

SIZES = [(640, 480), (1280, 720), (1920, 1080), (4032, 3024), (800, 600), (1024, 1024)]
NAMES = ["person", "car", "bicycle", "dog", "cat", "traffic light", "bus", "truck", "bird", "boat"]


def detection_line(rnd: random.Random, index: int, boxes: tuple[int, int] = (1, 3), prefix: str = "ds") -> str:
    """One Ground Truth object-detection line: `boxes` boxes (a range), a few float coordinates."""
    width, height = rnd.choice(SIZES)
    annotations, objects, class_map = [], [], {}
    for _ in range(rnd.randint(*boxes)):
        cls = rnd.randrange(len(NAMES))
        class_map[str(cls)] = NAMES[cls]
        w, h = rnd.randint(10, width // 3), rnd.randint(10, height // 3)
        top: float = rnd.randint(0, height - h - 1)
        if rnd.random() < 0.2:
            top += 0.6000000000000002
        annotations.append({"class_id": cls, "top": top, "left": rnd.randint(0, width - w), "width": w, "height": h})
        objects.append({"confidence": rnd.choice([0, 1, 0.93])})
    doc = {
        "source-ref": f"s3://my-training-images/{prefix}/batch-{index // 1000:05d}/image-{index:09d}.jpg",
        "bounding-box": {"image_size": [{"width": width, "height": height, "depth": 3}], "annotations": annotations},
        "bounding-box-metadata": {
            "objects": objects,
            "class-map": class_map,
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": "2023-06-09T05:26:56.180Z",
            "job-name": "labeling-job/bounding-box",
        },
    }
    return json.dumps(doc, separators=(",", ":"))
