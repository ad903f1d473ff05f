"""Write a small ImageNet-validation-shaped folder that ``tallynet evaluate`` can read, with a
network that classifies it correctly by construction.

    python scripts/imagenet_fixture.py /tmp/colours
    tallynet evaluate /tmp/colours/colour-net.yaml --weights /tmp/colours/colour-net.npz \\
        --images /tmp/colours/images --labels /tmp/colours/labels --synsets /tmp/colours/synset_words.txt \\
        --transform center224 center224-raw five224 five330

The folder holds, in the real validation set's formats: ``images/ILSVRC2012_val_0000000k.JPEG``
(solid colours written by Pillow: RGB, a grayscale "L" and a CMYK JPEG, of different sizes and
aspect ratios), ``labels/ILSVRC2012_val_0000000k.xml`` (bounding-box files naming each image's
synset) and ``synset_words.txt`` (one ``<synset> <description>`` line per class). The network,
``colour-net.yaml`` with its weights ``colour-net.npz``, is a 1x1 convolution with one filter per
class followed by global average pooling: class k's logit is the mean over the pixels of
2 mu_k . x - |mu_k|^2, which is |x_mean|^2 - |x_mean - mu_k|^2, so the largest logit is the
class whose colour mu_k (normalised as the schemes normalise it) is nearest the image's mean colour.
"""

import os
import sys

import numpy as np

# (synset, description, Pillow mode, colour in that mode, (width, height)); the synsets are made up
COLOURS = [
    ("n09000001", "red, scarlet", "RGB", (255, 0, 0), (500, 375)),
    ("n09000002", "green", "RGB", (0, 255, 0), (300, 420)),
    ("n09000003", "blue, azure", "RGB", (0, 0, 255), (256, 256)),
    ("n09000004", "yellow", "RGB", (255, 255, 0), (640, 360)),
    ("n09000005", "cyan", "CMYK", (255, 0, 0, 0), (320, 240)),  # Pillow reads it back as RGB (0, 255, 255)
    ("n09000006", "gray, grey", "L", 128, (240, 333)),
]
MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])

SPEC = """name: colour-net
description: the mean colour's nearest class colour (a 1x1 convolution, then global average pooling)
input: [3, 224, 224]
batch: 1
nodes:
- conv: {{conv: {{filters: {classes}, kernel: 1}}}}
- {{pool: global_avgpool}}
loss: softmax
"""


def image_stem(number):
    """The validation set's name of image ``number`` (1-based): ILSVRC2012_val_00000001."""
    return f"ILSVRC2012_val_{number:08d}"


def write_label_xml(path, stem, synsets, size=(500, 375)):
    """A bounding-box file in the validation set's layout, with one <object> per synset given."""
    width, height = size
    objects = "".join(
        f"\t<object>\n\t\t<name>{synset}</name>\n\t\t<pose>Unspecified</pose>\n\t\t<truncated>0</truncated>\n"
        f"\t\t<difficult>0</difficult>\n\t\t<bndbox>\n\t\t\t<xmin>{width // 8}</xmin>\n"
        f"\t\t\t<ymin>{height // 8}</ymin>\n\t\t\t<xmax>{width - width // 8}</xmax>\n\t\t\t<ymax>{height - height // 8}</ymax>\n\t\t</bndbox>\n"
        "\t</object>\n" for synset in synsets)
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"<annotation>\n\t<folder>val</folder>\n\t<filename>{stem}</filename>\n\t<source>\n"
                f"\t\t<database>ILSVRC_2012</database>\n\t</source>\n\t<size>\n\t\t<width>{width}</width>\n"
                f"\t\t<height>{height}</height>\n\t\t<depth>3</depth>\n\t</size>\n\t<segmented>0</segmented>\n"
                f"{objects}</annotation>\n")


def write_synset_words(path, lines):
    """``synset_words.txt``: one ``<synset> <description>`` line per (synset, description) pair."""
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(f"{synset} {description}\n" for synset, description in lines)


def colour_net_params(normalized=True):
    """The 1x1 convolution's W (classes, 3, 1, 1) = 2 mu_k and b = -|mu_k|^2, mu_k the class colour
    scaled to [0, 1] and (if ``normalized``) normalised with ImageNet's mean and std."""
    rgb = np.array([[255 - c[0], 255 - c[1], 255 - c[2]] if mode == "CMYK" else
                    ([c] * 3 if mode == "L" else list(c)) for _, _, mode, c, _ in COLOURS], dtype=np.float64) / 255
    mu = (rgb - MEAN) / STD if normalized else rgb
    return {"conv.W": (2 * mu).astype(np.float32).reshape(len(COLOURS), 3, 1, 1),
            "conv.b": -(mu ** 2).sum(axis=1).astype(np.float32)}


def write_fixture(folder):
    """Write the images, labels, synset list, spec and weights into ``folder``; return their paths."""
    from PIL import Image

    from tallynet.checkpoint import save_checkpoint

    paths = {name: os.path.join(folder, name) for name in ("images", "labels", "synset_words.txt",
                                                           "colour-net.yaml", "colour-net.npz")}
    os.makedirs(paths["images"], exist_ok=True)
    os.makedirs(paths["labels"], exist_ok=True)
    for number, (synset, _, mode, colour, size) in enumerate(COLOURS, 1):
        stem = image_stem(number)
        Image.new(mode, size, colour).save(os.path.join(paths["images"], stem + ".JPEG"), quality=95)
        write_label_xml(os.path.join(paths["labels"], stem + ".xml"), stem, [synset], size)
    write_synset_words(paths["synset_words.txt"], [(synset, description) for synset, description, *_ in COLOURS])
    with open(paths["colour-net.yaml"], "w", encoding="utf-8") as f:
        f.write(SPEC.format(classes=len(COLOURS)))
    save_checkpoint(paths["colour-net.npz"], {"params": colour_net_params(), "model_state": {}})
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: python {sys.argv[0]} FOLDER")
    for name, path in write_fixture(sys.argv[1]).items():
        print(f"wrote {path}")
