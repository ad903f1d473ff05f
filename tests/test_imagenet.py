"""tallynet.imagenet: seed 003's helpers, the validation-set reader, torchvision's preprocessing
and evaluate, on fixtures written in the real formats (no ImageNet download is possible here)."""

import os
import sys
import types

import numpy as np
import pytest

from imagenet_helpers import fixture_script
from tallynet.imagenet import (SCHEMES, ImageNetVal, LabelError, evaluate, get_scheme, parse_class_label,
                               parse_synset_words)
from tallynet.imagenet.transforms import center_crop, five_crop, resized_size

Image = pytest.importorskip("PIL.Image")
SEED_003_SYNSET, SEED_003_INDEX = "n10148035", 982


# --- seed 003's helpers --------------------------------------------------------------
def _thousand_classes(path):
    """A synset_words.txt of 1,000 classes: tench first, as ImageNet's, and seed 003's groom on
    line 983 (class 982); the others made-up synsets in the same format."""
    lines = [(f"n{10000000 + k:08d}", f"class {k}, made up") for k in range(1000)]
    lines[0] = ("n01440764", "tench, Tinca tinca")
    lines[SEED_003_INDEX] = (SEED_003_SYNSET, "groom, bridegroom")
    fixture_script().write_synset_words(path, lines)
    return path


def test_seed_003_example(tmp_path):
    script = fixture_script()
    ind2syn, syn2ind, syn2desc = parse_synset_words(_thousand_classes(tmp_path / "synset_words.txt"))
    xml = tmp_path / "ILSVRC2012_val_00049999.xml"
    script.write_label_xml(xml, "ILSVRC2012_val_00049999", [SEED_003_SYNSET, SEED_003_SYNSET])  # two boxes
    label, firstname = parse_class_label(xml, syn2ind)
    assert (label, firstname, syn2desc[ind2syn[label]]) == (982, "n10148035", "groom, bridegroom")
    assert len(ind2syn) == 1000 and ind2syn[0] == "n01440764" and syn2desc["n01440764"] == "tench, Tinca tinca"


def test_label_files_that_name_two_classes_none_or_an_unknown_one_are_errors_naming_the_file(tmp_path):
    script = fixture_script()
    _, syn2ind, _ = parse_synset_words(_thousand_classes(tmp_path / "synset_words.txt"))
    cases = {"two.xml": ([SEED_003_SYNSET, "n01440764"], "names 2 classes"), "none.xml": ([], "names 0 classes"),
             "unknown.xml": (["n99999999"], "'n99999999', which is not in the synset list")}
    for name, (synsets, message) in cases.items():
        script.write_label_xml(tmp_path / name, "x", synsets)
        with pytest.raises(LabelError, match=message) as err:
            parse_class_label(tmp_path / name, syn2ind)
        assert name in str(err.value)
    (tmp_path / "broken.xml").write_text("<annotation><object><name>n0")
    with pytest.raises(LabelError, match="broken.xml.*not well-formed"):
        parse_class_label(tmp_path / "broken.xml", syn2ind)


def test_synset_list_skips_blank_lines_and_refuses_bad_ones(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("n01440764 tench, Tinca tinca\n\nn01443537 goldfish, Carassius auratus\n")
    ind2syn, syn2ind, syn2desc = parse_synset_words(path)
    assert ind2syn == {0: "n01440764", 1: "n01443537"} and syn2desc["n01443537"] == "goldfish, Carassius auratus"
    for text, message in (("n01440764\n", "line 1: 'n01440764' has no description"),
                          ("n01440764 tench\nn01440764 tench\n", "line 2: synset n01440764 is listed twice"),
                          ("\n", "no classes")):
        path.write_text(text)
        with pytest.raises(LabelError, match=message):
            parse_synset_words(path)
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        parse_synset_words(tmp_path / "missing.txt")


# --- the dataset ---------------------------------------------------------------------
def test_dataset_takes_the_first_limit_jpegs_in_file_order_in_rgb(colours):
    images = colours["images"]
    second = os.path.join(images, "ILSVRC2012_val_00000002")
    os.rename(second + ".JPEG", second + ".jpeg")
    open(os.path.join(images, "notes.txt"), "w").close()  # not an image: ignored
    data = ImageNetVal(images, colours["labels"], colours["synset_words.txt"], limit=6)
    assert [os.path.basename(f) for f in data.files] == [f"ILSVRC2012_val_0000000{k}.{'jpeg' if k == 2 else 'JPEG'}"
                                                       for k in range(1, 7)]
    assert data.labels.tolist() == [0, 1, 2, 3, 4, 5] and data.num_classes == 6
    assert Image.open(data.files[4]).mode == "CMYK" and Image.open(data.files[5]).mode == "L"
    cyan, gray = data.image(4), data.image(5)
    assert (cyan.mode, gray.mode) == ("RGB", "RGB")
    np.testing.assert_allclose(np.asarray(cyan).reshape(-1, 3).mean(axis=0), [0, 255, 255], atol=1)
    np.testing.assert_allclose(np.asarray(gray).reshape(-1, 3).mean(axis=0), [128, 128, 128], atol=1)
    assert [os.path.basename(f) for f in ImageNetVal(images, colours["labels"], colours["synset_words.txt"],
                                                      limit=2).files] == ["ILSVRC2012_val_00000001.JPEG",
                                                                          "ILSVRC2012_val_00000002.jpeg"]
    x, label = ImageNetVal(images, colours["labels"], colours["synset_words.txt"], transform=SCHEMES["five224"])[3]
    assert x.shape == (5, 3, 224, 224) and x.dtype == np.float32 and label == 3


def test_dataset_errors_name_what_is_missing_or_broken(colours, tmp_path):
    labels, synsets = colours["labels"], colours["synset_words.txt"]
    with pytest.raises(FileNotFoundError, match="images folder .*nowhere"):
        ImageNetVal(tmp_path / "nowhere", labels, synsets)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no .JPEG"):
        ImageNetVal(tmp_path / "empty", labels, synsets)
    os.remove(os.path.join(labels, "ILSVRC2012_val_00000003.xml"))
    with pytest.raises(FileNotFoundError, match="ILSVRC2012_val_00000003.JPEG' has no label file"):
        ImageNetVal(colours["images"], labels, synsets)
    data = ImageNetVal(colours["images"], labels, synsets, limit=2)
    with open(data.files[1], "r+b") as f:  # a truncated JPEG
        f.truncate(300)
    with pytest.raises(ValueError, match="cannot read image .*ILSVRC2012_val_00000002.JPEG"):
        data.image(1)


# --- preprocessing -------------------------------------------------------------------
def test_resize_rounds_and_crops_place_as_torchvision_by_hand():
    # the longer side is truncated: 224 * 500 / 375 = 298.67 -> 298; 224 * 333 / 240 = 310.8 -> 310
    assert resized_size(500, 375, 224) == (298, 224)
    assert resized_size(240, 333, 224) == (224, 310)
    assert resized_size(256, 256, 224) == (224, 224)
    grid = np.arange(7 * 8).reshape(7, 8)
    # top = round((7 - 2) / 2) = round(2.5) = 2 (Python rounds halves to even), left = round(3.0) = 3
    np.testing.assert_array_equal(center_crop(grid, 2), grid[2:4, 3:5])
    np.testing.assert_array_equal(center_crop(grid[:6], 3), grid[2:5, 2:5])  # round(1.5) = 2, round(2.5) = 2
    crops = five_crop(grid, 3)
    for crop, (top, left) in zip(crops, [(0, 0), (0, 5), (4, 0), (4, 5), (2, 2)]):  # tl, tr, bl, br, center
        np.testing.assert_array_equal(crop, grid[top:top + 3, left:left + 3])
    with pytest.raises(ValueError, match="a 9x9 crop does not fit in a 7x8 image"):
        five_crop(grid, 9)


def _torchvision_transforms():
    pytest.importorskip("torch")
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
    try:
        import torchvision.transforms as T
    except ImportError as err:
        pytest.skip(f"torchvision.transforms does not import: {err}")
    return T


def _torchvision_scheme(T, scheme):
    import torch

    tail = [T.ToTensor()] + ([T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])]
                             if scheme.normalized else [])
    if scheme.crops == 1:
        return T.Compose([T.Resize(scheme.resize), T.CenterCrop(scheme.crop)] + tail)
    each = T.Compose(tail)
    return T.Compose([T.Resize(scheme.resize), T.FiveCrop(scheme.crop),
                      T.Lambda(lambda crops: torch.stack([each(c) for c in crops]))])


def _textured_jpegs(folder):
    """JPEGs with detail for the resize to smooth: RGB of several sizes and aspect ratios (one
    whose shorter side is 224 already, one of 330), a grayscale and a CMYK one."""
    rng = np.random.default_rng(0)
    paths = []
    for k, (mode, (w, h)) in enumerate([("RGB", (500, 375)), ("RGB", (281, 433)), ("RGB", (224, 301)),
                                        ("RGB", (331, 330)), ("L", (240, 333)), ("CMYK", (401, 350))]):
        channels = {"RGB": 3, "L": 1, "CMYK": 4}[mode]
        yy, xx = np.mgrid[0:h, 0:w]
        smooth = (127 + 100 * np.sin(xx / 17.0 + k)[..., None] * np.cos(yy / 11.0)[..., None]
                  * np.linspace(0.5, 1, channels))
        pixels = np.clip(smooth + rng.normal(0, 20, (h, w, channels)), 0, 255).astype(np.uint8)
        path = os.path.join(folder, f"{k}.JPEG")
        Image.fromarray(pixels[..., 0] if mode == "L" else pixels, mode=mode).save(path, quality=90)
        paths.append(path)
    return paths


@pytest.mark.parametrize("name", list(SCHEMES))
def test_the_schemes_equal_torchvision_transforms(name, tmp_path):
    T = _torchvision_transforms()
    from tallynet.imagenet.images import open_rgb

    scheme = get_scheme(name)
    reference = _torchvision_scheme(T, scheme)
    for path in _textured_jpegs(tmp_path):
        with Image.open(path) as img:
            rgb = img.convert("RGB")  # torchvision's pil_loader
        ours, theirs = scheme(open_rgb(path)), reference(rgb).numpy()
        assert ours.shape == theirs.shape == ((3,) if scheme.crops == 1 else (5, 3)) + (scheme.crop,) * 2
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6, err_msg=f"{name} on {path}")


def test_an_unknown_scheme_is_an_error_naming_the_choices():
    with pytest.raises(ValueError, match="unknown transform 'five256'; expected one of center224, "
                                         "center224-raw, five224, five330"):
        get_scheme("five256")


# --- evaluate ------------------------------------------------------------------------
def _hand_macs(side, classes=6):
    """MACs of colour-net on one side x side crop, by hand: its 1x1 convolution does 3 (channels)
    multiply-accumulates for each of its classes x side x side outputs; pooling has none."""
    return 3 * classes * side * side


def test_evaluate_gets_the_colours_right_and_exactly_5_of_6_after_one_label_changes(colours):
    from tallynet.imagenet.weights import load_model

    model, _ = load_model(colours["colour-net.yaml"], colours["colour-net.npz"])
    data = ImageNetVal(colours["images"], colours["labels"], colours["synset_words.txt"])
    results = {name: evaluate(model, data, name, batch_size=4) for name in ("center224", "five224", "five330")}
    for name, r in results.items():
        assert (r.top1, r.top5, r.top1_correct, r.images) == (1.0, 1.0, 6, 6), name
        np.testing.assert_array_equal(r.confusion, np.eye(6, dtype=np.int64))
    assert results["center224"].flops_per_image == _hand_macs(224) == 903_168
    assert results["five224"].flops_per_image == 5 * results["center224"].flops_per_image
    assert results["five330"].flops_per_image == 5 * _hand_macs(330)  # the network at 330 x 330
    assert results["five330"].input_shape == (3, 330, 330) and results["five224"].crops == 5

    # image 2 (green) now says it is red: one miss, and red's accuracy is 1 of 2
    fixture_script().write_label_xml(os.path.join(colours["labels"], "ILSVRC2012_val_00000002.xml"),
                                     "ILSVRC2012_val_00000002", ["n09000001"])
    data = ImageNetVal(colours["images"], colours["labels"], colours["synset_words.txt"])
    r = evaluate(model, data, "center224", batch_size=4)
    assert (r.top1_correct, r.top1) == (5, 5 / 6)
    assert r.confusion[0].tolist() == [1, 1, 0, 0, 0, 0]
    assert r.per_class_accuracy[0] == 0.5 and np.isnan(r.per_class_accuracy[1])
    assert r.as_dict(data.index_to_synset)["per_class_accuracy"] == {"n09000001": 0.5, **{
        f"n0900000{k}": 1.0 for k in (3, 4, 5, 6)}}


def test_evaluate_runs_a_pytorch_module_as_it_is(colours):
    torch = pytest.importorskip("torch")
    params = fixture_script().colour_net_params()
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 6, 1), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    net[0].weight.data, net[0].bias.data = torch.from_numpy(params["conv.W"]), torch.from_numpy(params["conv.b"])
    net.train()
    data = ImageNetVal(colours["images"], colours["labels"], colours["synset_words.txt"])
    r = evaluate(net, data, "five330", batch_size=6)
    assert (r.top1_correct, r.flops_per_image) == (6, None)  # no spec: the FLOPs are unknown, not guessed
    assert net.training  # its mode is given back
    r = evaluate(net, data, "center224", spec=colours["colour-net.yaml"])
    assert r.flops_per_image == _hand_macs(224)


def test_five_crops_average_the_logits_not_the_probabilities(colours):
    torch = pytest.importorskip("torch")

    class FixedLogits(torch.nn.Module):
        """The five crops' logits: crop 1 sure of class 0 (10 vs 0), crops 2-5 leaning to class 1
        (0 vs 1; the other classes -20). Mean logits: class 0 (2.0 vs 0.8); mean probabilities:
        class 1 (0.415 vs 0.585)."""

        def forward(self, x):
            logits = torch.full((x.shape[0], 6), -20.0)
            logits[:, :2] = torch.tensor([0.0, 1.0])
            logits[0, :2] = torch.tensor([10.0, 0.0])
            return logits

    data = ImageNetVal(colours["images"], colours["labels"], colours["synset_words.txt"], limit=1)  # red: class 0
    assert evaluate(FixedLogits(), data, "five224").top1_correct == 1


def test_evaluate_refuses_scores_that_do_not_fit_the_synset_list(colours):
    from tallynet.models import from_spec

    spec = {"input": [3, 224, 224],
            "nodes": [{"conv": {"conv": {"filters": 4, "kernel": 1}}}, {"pool": "global_avgpool"}]}
    data = ImageNetVal(colours["images"], colours["labels"], colours["synset_words.txt"], limit=1)
    with pytest.raises(ValueError, match=r"scores of shape \(1, 4\) for 1 crops; expected \(1, 6\)"):
        evaluate(from_spec(spec), data, "center224")
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        evaluate(from_spec(spec), data, "center224", batch_size=0)
