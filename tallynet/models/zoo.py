"""Graph specs of the networks torchvision ships, with its names and architectures.

Each function returns a spec dict (blocks defined once, used with ``repeat``) whose
parameter count and multiply-accumulates are those of ``torchvision.models.<name>()``;
node names follow torchvision's module names (``layer1.0.conv1``, ``features.3``), so
that a node's parameters are the module's. The tests compare them with torchvision's
own definitions, and ``examples/<name>.yaml`` holds each as a file to copy.
"""


def _conv(filters, kernel, stride=1, pad=0, bias=False, groups=1):
    fields = {"filters": filters, "kernel": kernel}
    fields.update({k: v for k, v in (("stride", stride), ("pad", pad), ("groups", groups)) if v != {"stride": 1,
                   "pad": 0, "groups": 1}[k]})
    if not bias:
        fields["bias"] = False
    return {"conv": fields}


def _spec(name, description, nodes, blocks=None, input_shape=(3, 224, 224)):
    spec = {"name": name, "description": description, "input": list(input_shape), "batch": 1}
    if blocks:
        spec["blocks"] = blocks
    spec.update({"nodes": nodes, "loss": "softmax"})
    return spec


# --- ResNet (He et al. 2016; torchvision's v1.5: the stride in the 3x3 convolution) ----------------
def _resnet_blocks(bottleneck):
    """basic / bottleneck blocks, each with and without a projection shortcut (``downsample``)."""
    if bottleneck:
        body = [{"conv1": _conv("$width", 1)}, {"bn1": "batchnorm"}, {"relu1": "relu"},
                {"conv2": _conv("$width", 3, "$stride", 1)}, {"bn2": "batchnorm"}, {"relu2": "relu"},
                {"conv3": _conv("$filters", 1)}, {"bn3": "batchnorm"}]
        params, last = {"width": None, "filters": None, "stride": 1}, "bn3"
    else:
        body = [{"conv1": _conv("$filters", 3, "$stride", 1)}, {"bn1": "batchnorm"}, {"relu1": "relu"},
                {"conv2": _conv("$filters", 3, 1, 1)}, {"bn2": "batchnorm"}]
        params, last = {"filters": None, "stride": 1}, "bn2"
    shortcut = [{"downsample.0": dict(_conv("$filters", 1, "$stride"), inputs="input")},
                {"downsample.1": "batchnorm"}]
    identity = body + [{"add": {"add": None, "inputs": [last, "input"]}}, {"relu": "relu"}]
    projection = body + shortcut + [{"add": {"add": None, "inputs": [last, "downsample.1"]}}, {"relu": "relu"}]
    return {"block": {"params": dict(params), "nodes": identity},
            "projection": {"params": dict(params), "nodes": projection}}


def resnet(name, depths, bottleneck):
    """torchvision's ResNet: a 7x7 stem, four stages of basic or bottleneck blocks, 1000 classes."""
    blocks = _resnet_blocks(bottleneck)
    nodes = [{"conv1": _conv(64, 7, 2, 3)}, {"bn1": "batchnorm"}, {"relu": "relu"},
             {"maxpool": {"maxpool": {"kernel": 3, "stride": 2, "pad": 1}}}]
    for stage, (planes, count) in enumerate(zip((64, 128, 256, 512), depths), 1):
        args = {"filters": planes * 4, "width": planes} if bottleneck else {"filters": planes}
        stride = 1 if stage == 1 else 2
        first_projects = bottleneck or stage > 1  # the shape changes: a 1x1 convolution on the shortcut
        uses = [{"block": "projection" if first_projects else "block", **args, **({"stride": stride} if stride != 1
                                                                                 else {})}]
        if count > 1:
            uses.append({"block": "block", **args, "repeat": count - 1})
        nodes.append({f"layer{stage}": uses})
    nodes += [{"avgpool": "global_avgpool"}, {"fc": {"affine": {"units": 1000}}}]
    kind = "bottleneck" if bottleneck else "basic"
    return _spec(name, f"torchvision's {name}: {sum(depths)} {kind} blocks in 4 stages, 224x224 RGB, 1000 classes",
                 nodes, blocks)


# --- AlexNet (torchvision's single-GPU variant, with its 6x6 adaptive pooling) ------------------------
def alexnet():
    features = [_conv(64, 11, 4, 2, True), "relu", {"maxpool": {"kernel": 3, "stride": 2}},
                _conv(192, 5, 1, 2, True), "relu", {"maxpool": {"kernel": 3, "stride": 2}},
                _conv(384, 3, 1, 1, True), "relu", _conv(256, 3, 1, 1, True), "relu",
                _conv(256, 3, 1, 1, True), "relu", {"maxpool": {"kernel": 3, "stride": 2}}]
    nodes = [{f"features.{i}": layer} for i, layer in enumerate(features)]
    nodes.append({"avgpool": {"adaptive_avgpool": {"output_size": 6}}})
    classifier = [{"dropout": {"keep": 0.5}}, {"affine": {"units": 4096}}, "relu", {"dropout": {"keep": 0.5}},
                  {"affine": {"units": 4096}}, "relu", {"affine": {"units": 1000}}]
    nodes += [{f"classifier.{i}": layer} for i, layer in enumerate(classifier)]
    return _spec("alexnet", "torchvision's AlexNet: 5 convolutions, 6x6 adaptive pooling, 3 linear layers", nodes)


# --- SqueezeNet (Iandola et al. 2016) ---------------------------------------------------------------
FIRE = {"params": {"squeeze": None, "expand": None},
        "nodes": [{"squeeze": _conv("$squeeze", 1, bias=True)}, {"squeeze_activation": "relu"},
                  {"expand1x1": dict(_conv("$expand", 1, bias=True), inputs="squeeze_activation")},
                  {"expand1x1_activation": "relu"},
                  {"expand3x3": dict(_conv("$expand", 3, 1, 1, True), inputs="squeeze_activation")},
                  {"expand3x3_activation": "relu"},
                  {"cat": {"concat": None, "inputs": ["expand1x1_activation", "expand3x3_activation"]}}]}


def squeezenet(version):
    """torchvision's SqueezeNet 1.0 or 1.1: fire modules (a 1x1 squeeze, 1x1 and 3x3 expands
    concatenated), max pooling with ceil_mode, a 1x1 convolution classifier."""
    pool = {"maxpool": {"kernel": 3, "stride": 2, "ceil_mode": True}}

    def fire(s, e):
        return {"block": "fire", "squeeze": s, "expand": e}
    if version == "1_0":
        features = [_conv(96, 7, 2, bias=True), "relu", pool, fire(16, 64), fire(16, 64), fire(32, 128), pool,
                    fire(32, 128), fire(48, 192), fire(48, 192), fire(64, 256), pool, fire(64, 256)]
    else:
        features = [_conv(64, 3, 2, bias=True), "relu", pool, fire(16, 64), fire(16, 64), pool, fire(32, 128),
                    fire(32, 128), pool, fire(48, 192), fire(48, 192), fire(64, 256), fire(64, 256)]
    nodes = [{f"features.{i}": layer} for i, layer in enumerate(features)]
    nodes += [{"classifier.0": {"dropout": {"keep": 0.5}}}, {"classifier.1": _conv(1000, 1, bias=True)},
              {"classifier.2": "relu"}, {"classifier.3": "global_avgpool"}]
    return _spec(f"squeezenet{version}", f"torchvision's SqueezeNet {version.replace('_', '.')}: fire modules, "
                 "224x224 RGB, 1000 classes", nodes, {"fire": FIRE})


# --- MobileNetV2 (Sandler et al. 2018) --------------------------------------------------------------
def _inverted_residual(expand, residual):
    """An inverted residual: 1x1 expansion (none when the ratio is 1), 3x3 depthwise, 1x1 projection."""
    nodes = []
    if expand:
        nodes += [{"conv.0.0": _conv("$hidden", 1)}, {"conv.0.1": "batchnorm"}, {"conv.0.2": "relu6"}]
    d = 1 if expand else 0
    nodes += [{f"conv.{d}.0": _conv("$hidden", 3, "$stride", 1, groups="$hidden")}, {f"conv.{d}.1": "batchnorm"},
              {f"conv.{d}.2": "relu6"}, {f"conv.{d + 1}": _conv("$filters", 1)}, {f"conv.{d + 2}": "batchnorm"}]
    if residual:
        nodes.append({"add": {"add": None, "inputs": [f"conv.{d + 2}", "input"]}})
    return {"params": {"hidden": None, "filters": None, "stride": 1}, "nodes": nodes}


def mobilenet_v2():
    """torchvision's MobileNetV2 (width 1.0): 17 inverted residuals, relu6, 1000 classes."""
    settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1)]  # expansion t, channels c, repeats n, first stride s (the paper's table 2)
    nodes = [{"features.0": {"block": "stem"}}]
    channels, index = 32, 1
    for t, c, n, s in settings:
        for k in range(n):
            stride = s if k == 0 else 1
            residual = stride == 1 and channels == c
            block = ("residual" if residual else "plain") + ("" if t > 1 else "_no_expand")
            args = {"hidden": channels * t, "filters": c, **({"stride": stride} if stride != 1 else {})}
            nodes.append({f"features.{index}": {"block": block, **args}})
            channels, index = c, index + 1
    nodes += [{f"features.{index}.0": _conv(1280, 1)}, {f"features.{index}.1": "batchnorm"},
              {f"features.{index}.2": "relu6"}, {"pool": "global_avgpool"}, {"classifier.0": {"dropout": {"keep": 0.8}}},
              {"classifier.1": {"affine": {"units": 1000}}}]
    blocks = {"stem": {"params": {}, "nodes": [{"0": _conv(32, 3, 2, 1)}, {"1": "batchnorm"}, {"2": "relu6"}]},
              "residual": _inverted_residual(True, True), "plain": _inverted_residual(True, False),
              "plain_no_expand": _inverted_residual(False, False)}
    return _spec("mobilenet_v2", "torchvision's MobileNetV2: inverted residuals with depthwise convolutions, "
                 "224x224 RGB, 1000 classes", nodes, blocks)


def resnet20():
    """He et al. 2016's CIFAR-10 ResNet-20: 3 stages of 3 basic blocks with 16, 32 and 64
    channels; the first block of stages 2 and 3 halves the resolution, with a projection
    shortcut (the paper's option B; 272,474 parameters)."""
    nodes = [{"conv1": _conv(16, 3, 1, 1)}, {"bn1": "batchnorm"}, {"relu": "relu"},
             {"layer1": {"block": "block", "filters": 16, "repeat": 3}}]
    for stage, filters in ((2, 32), (3, 64)):
        nodes.append({f"layer{stage}": [{"block": "projection", "filters": filters, "stride": 2},
                                        {"block": "block", "filters": filters, "repeat": 2}]})
    nodes += [{"avgpool": "global_avgpool"}, {"fc": {"affine": {"units": 10}}}]
    spec = _spec("resnet20", "He et al. 2016's ResNet-20 for 32x32 RGB images (CIFAR-10), 10 classes", nodes,
                 _resnet_blocks(bottleneck=False), input_shape=(3, 32, 32))
    spec["batch"] = 128
    return spec


def zoo():
    """Every network of this module, by torchvision's name (and ``resnet20``)."""
    specs = [resnet("resnet18", (2, 2, 2, 2), False), resnet("resnet34", (3, 4, 6, 3), False),
             resnet("resnet50", (3, 4, 6, 3), True), resnet("resnet101", (3, 4, 23, 3), True),
             resnet("resnet152", (3, 8, 36, 3), True), alexnet(), squeezenet("1_0"), squeezenet("1_1"),
             mobilenet_v2(), resnet20()]
    return {spec["name"]: spec for spec in specs}
