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


def _bn(eps=None, momentum=None):
    """A batchnorm node's layer: tallynet's defaults (eps 1e-5, momentum 0.9) unless given."""
    fields = {k: v for k, v in (("eps", eps), ("momentum", momentum)) if v is not None}
    return {"batchnorm": fields} if fields else "batchnorm"


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


# --- VGG (Simonyan and Zisserman 2015), configuration D ---------------------------------------------
VGG16_STAGES = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))


def vgg16():
    """torchvision's VGG-16: 13 3x3 convolutions with biases in 5 stages, each ending in 2x2
    max pooling, 7x7 adaptive pooling, and 3 linear layers with dropout."""
    features = []
    for filters, convs in VGG16_STAGES:
        features += [_conv(filters, 3, 1, 1, True), "relu"] * convs + [{"maxpool": {"kernel": 2, "stride": 2}}]
    nodes = [{f"features.{i}": layer} for i, layer in enumerate(features)]
    nodes.append({"avgpool": {"adaptive_avgpool": {"output_size": 7}}})
    classifier = [{"affine": {"units": 4096}}, "relu", {"dropout": {"keep": 0.5}},
                  {"affine": {"units": 4096}}, "relu", {"dropout": {"keep": 0.5}}, {"affine": {"units": 1000}}]
    nodes += [{f"classifier.{i}": layer} for i, layer in enumerate(classifier)]
    return _spec("vgg16", "torchvision's VGG-16 (configuration D): 13 convolutions, 7x7 adaptive pooling, "
                 "3 linear layers", nodes)


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


# --- MobileNetV3-Small (Howard et al. 2019) ---------------------------------------------------------
# torchvision's BatchNorm2d(eps=0.001, momentum=0.01): tallynet's momentum weighs the running average, 1 - PyTorch's
V3_BN = _bn(0.001, 0.99)
# input channels, kernel, expanded channels, output channels, squeeze-excitation, activation, stride
# (torchvision's _mobilenet_v3_conf, the paper's table 2)
V3_SMALL = [(16, 3, 16, 16, True, "relu", 2), (16, 3, 72, 24, False, "relu", 2), (24, 3, 88, 24, False, "relu", 1),
            (24, 5, 96, 40, True, "hardswish", 2), (40, 5, 240, 40, True, "hardswish", 1),
            (40, 5, 240, 40, True, "hardswish", 1), (40, 5, 120, 48, True, "hardswish", 1),
            (48, 5, 144, 48, True, "hardswish", 1), (48, 5, 288, 96, True, "hardswish", 2),
            (96, 5, 576, 96, True, "hardswish", 1), (96, 5, 576, 96, True, "hardswish", 1)]


def _make_divisible(v, divisor=8):
    """torchvision's channel rounding: to the nearest multiple of 8, never 10 % below ``v``."""
    rounded = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * v else rounded


def _v3_block_name(expand, se, residual):
    """se_residual, plain_no_expand, ...: the block of each of the five kinds MobileNetV3-Small uses."""
    return ("se_" if se else "") + ("residual" if residual else "plain") + ("" if expand else "_no_expand")


def _squeeze_excitation(prefix, source):
    """torchvision's SqueezeExcitation on (N, C, H, W): average to 1x1, 1x1 convolutions with bias
    (fc1 to ``$squeeze`` channels, ReLU, fc2 back to ``$hidden``), hardsigmoid, times the input."""
    return [{f"{prefix}.avgpool": {"adaptive_avgpool": {"output_size": 1}}},
            {f"{prefix}.fc1": _conv("$squeeze", 1, bias=True)}, {f"{prefix}.activation": "relu"},
            {f"{prefix}.fc2": _conv("$hidden", 1, bias=True)}, {f"{prefix}.scale_activation": "hardsigmoid"},
            {f"{prefix}.mul": {"mul": None, "inputs": [source, f"{prefix}.scale_activation"]}}]


def _v3_inverted_residual(expand, se, residual):
    """MobileNetV3's inverted residual (modules block.0, block.1, ...): a 1x1 expansion (none when
    the expanded width is the input's), a depthwise k x k convolution, squeeze-excitation, a 1x1
    projection with batchnorm and no activation; the activation ``$act`` is ReLU or hardswish."""
    nodes, i = [], 0
    if expand:
        nodes += [{"block.0.0": _conv("$hidden", 1)}, {"block.0.1": V3_BN}, {"block.0.2": "$act"}]
        i = 1
    nodes += [{f"block.{i}.0": _conv("$hidden", "$kernel", "$stride", "$pad", groups="$hidden")},
              {f"block.{i}.1": V3_BN}, {f"block.{i}.2": "$act"}]
    if se:
        nodes += _squeeze_excitation(f"block.{i + 1}", f"block.{i}.2")
        i += 1
    nodes += [{f"block.{i + 1}.0": _conv("$filters", 1)}, {f"block.{i + 1}.1": V3_BN}]
    if residual:
        nodes.append({"add": {"add": None, "inputs": [f"block.{i + 1}.1", "input"]}})
    params = {"hidden": None, "filters": None, "kernel": 3, "pad": 1, "stride": 1, "act": "relu"}
    return {"params": {**params, **({"squeeze": None} if se else {})}, "nodes": nodes}


def mobilenet_v3_small():
    """torchvision's MobileNetV3-Small (width 1.0): a hardswish stem, 11 inverted residuals (9 with
    squeeze-excitation), a 1x1 convolution to 576 channels, a 1024-unit hardswish classifier."""
    nodes = [{"features.0.0": _conv(16, 3, 2, 1)}, {"features.0.1": V3_BN}, {"features.0.2": "hardswish"}]
    blocks = {}
    for index, (cin, k, hidden, cout, se, act, stride) in enumerate(V3_SMALL, 1):
        kind = (hidden != cin, se, stride == 1 and cin == cout)  # expansion, squeeze-excitation, residual
        name = _v3_block_name(*kind)
        blocks.setdefault(name, _v3_inverted_residual(*kind))
        args = {"hidden": hidden, "filters": cout, **({"kernel": k, "pad": (k - 1) // 2} if k != 3 else {}),
                **({"stride": stride} if stride != 1 else {}), **({"act": act} if act != "relu" else {}),
                **({"squeeze": _make_divisible(hidden // 4)} if se else {})}
        nodes.append({f"features.{index}": {"block": name, **args}})
    last = len(V3_SMALL) + 1
    nodes += [{f"features.{last}.0": _conv(576, 1)}, {f"features.{last}.1": V3_BN},
              {f"features.{last}.2": "hardswish"}, {"avgpool": "global_avgpool"},
              {"classifier.0": {"affine": {"units": 1024}}}, {"classifier.1": "hardswish"},
              {"classifier.2": {"dropout": {"keep": 0.8}}}, {"classifier.3": {"affine": {"units": 1000}}}]
    return _spec("mobilenet_v3_small", "torchvision's MobileNetV3-Small: inverted residuals with squeeze-excitation "
                 "and hardswish, 224x224 RGB, 1000 classes", nodes, blocks)


# --- DenseNet-121 (Huang et al. 2017; DenseNet-BC: 1x1 bottlenecks, transitions halve the channels) ---
def _dense_blocks(growth, bn_size):
    """A dense layer (BN-ReLU-1x1 conv to bn_size x growth, BN-ReLU-3x3 conv to growth) whose output
    is its input with the new channels after it (torchvision's torch.cat(prev_features, 1)), and a
    transition: BN-ReLU-1x1 conv to ``$filters``, 2x2 average pooling."""
    layer = [{"norm1": "batchnorm"}, {"relu1": "relu"}, {"conv1": _conv(bn_size * growth, 1)},
             {"norm2": "batchnorm"}, {"relu2": "relu"}, {"conv2": _conv(growth, 3, 1, 1)},
             {"cat": {"concat": None, "inputs": ["input", "conv2"]}}]
    transition = [{"norm": "batchnorm"}, {"relu": "relu"}, {"conv": _conv("$filters", 1)},
                  {"pool": {"avgpool": {"kernel": 2, "stride": 2}}}]
    return {"dense_layer": {"params": {}, "nodes": layer},
            "transition": {"params": {"filters": None}, "nodes": transition}}


def densenet121(growth=32, depths=(6, 12, 24, 16), bn_size=4, stem=64):
    """torchvision's DenseNet-121: a 7x7 stem, 4 dense blocks of 6, 12, 24 and 16 layers (growth 32)
    with transitions between them, a final batchnorm (norm5) and ReLU, global pooling, Linear(1024, 1000)."""
    nodes = [{"features.conv0": _conv(stem, 7, 2, 3)}, {"features.norm0": "batchnorm"}, {"features.relu0": "relu"},
             {"features.pool0": {"maxpool": {"kernel": 3, "stride": 2, "pad": 1}}}]
    channels = stem
    for b, count in enumerate(depths, 1):  # torchvision numbers blocks and layers from 1: denselayer1 ...
        nodes += [{f"features.denseblock{b}.denselayer{k}": {"block": "dense_layer"}} for k in range(1, count + 1)]
        channels += count * growth
        if b < len(depths):
            channels //= 2
            nodes.append({f"features.transition{b}": {"block": "transition", "filters": channels}})
    nodes += [{"features.norm5": "batchnorm"}, {"relu": "relu"}, {"avgpool": "global_avgpool"},
              {"classifier": {"affine": {"units": 1000}}}]
    return _spec("densenet121", "torchvision's DenseNet-121: 4 dense blocks (6, 12, 24, 16 layers, growth 32), "
                 "224x224 RGB, 1000 classes", nodes, _dense_blocks(growth, bn_size))


# --- GoogLeNet (Szegedy et al. 2015; torchvision's, with batchnorm and without the auxiliary heads) ---
def _basic_conv(name, filters, kernel, stride=1, pad=0, source=None):
    """torchvision's BasicConv2d: a convolution without bias, BatchNorm2d(eps=0.001), ReLU."""
    conv = _conv(filters, kernel, stride, pad)
    return [{f"{name}.conv": dict(conv, inputs=source) if source else conv}, {f"{name}.bn": _bn(0.001)},
            {f"{name}.relu": "relu"}]


INCEPTION_WIDTHS = ("ch1x1", "ch3x3red", "ch3x3", "ch5x5red", "ch5x5", "pool_proj")
# each module's widths, in that order (the paper's table 1; its "5x5" is a 3x3 convolution in torchvision)
INCEPTIONS = {"3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64), "4a": (192, 96, 208, 16, 48, 64),
              "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
              "4e": (256, 160, 320, 32, 128, 128), "5a": (256, 160, 320, 32, 128, 128),
              "5b": (384, 192, 384, 48, 128, 128)}


def _inception():
    """Four branches on the module's input, concatenated: a 1x1 convolution; 1x1 then 3x3; 1x1 then
    3x3 again (torchvision's, where the paper has 5x5: vision issue 906); 3x3 max pooling then 1x1."""
    pool = {"maxpool": {"kernel": 3, "stride": 1, "pad": 1, "ceil_mode": True}, "inputs": "input"}
    nodes = (_basic_conv("branch1", "$ch1x1", 1, source="input")
             + _basic_conv("branch2.0", "$ch3x3red", 1, source="input") + _basic_conv("branch2.1", "$ch3x3", 3, 1, 1)
             + _basic_conv("branch3.0", "$ch5x5red", 1, source="input") + _basic_conv("branch3.1", "$ch5x5", 3, 1, 1)
             + [{"branch4.0": pool}] + _basic_conv("branch4.1", "$pool_proj", 1))
    ends = ["branch1.relu", "branch2.1.relu", "branch3.1.relu", "branch4.1.relu"]
    return {"params": dict.fromkeys(INCEPTION_WIDTHS), "nodes": nodes + [{"cat": {"concat": None, "inputs": ends}}]}


def googlenet():
    """torchvision's GoogLeNet (aux_logits=False): a 7x7 stem, 9 inception modules, max pooling with
    ceil_mode between stages, global pooling, dropout 0.2, Linear(1024, 1000)."""
    def pool(name, kernel=3):
        return [{name: {"maxpool": {"kernel": kernel, "stride": 2, "ceil_mode": True}}}]

    def inceptions(*names):
        return [{f"inception{n}": {"block": "inception", **dict(zip(INCEPTION_WIDTHS, INCEPTIONS[n]))}} for n in names]
    nodes = (_basic_conv("conv1", 64, 7, 2, 3) + pool("maxpool1") + _basic_conv("conv2", 64, 1)
             + _basic_conv("conv3", 192, 3, 1, 1) + pool("maxpool2") + inceptions("3a", "3b") + pool("maxpool3")
             + inceptions("4a", "4b", "4c", "4d", "4e") + pool("maxpool4", 2) + inceptions("5a", "5b")
             + [{"avgpool": "global_avgpool"}, {"dropout": {"dropout": {"keep": 0.8}}},
                {"fc": {"affine": {"units": 1000}}}])
    return _spec("googlenet", "torchvision's GoogLeNet without its auxiliary heads: 9 inception modules, "
                 "224x224 RGB, 1000 classes", nodes, {"inception": _inception()})


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


# --- Vision transformer (Dosovitskiy et al. 2021; torchvision's VisionTransformer) ------------------
def _vit_ln():
    """torchvision's LayerNorm(eps=1e-6) over the tokens' features."""
    return {"layernorm": {"eps": 1e-6}}


def _encoder_block(mlp_dim):
    """torchvision's EncoderBlock (pre-norm): x + attention(ln_1(x)), then that + mlp(ln_2(that)).
    Its dropouts (p = 0) compute nothing and are left out: the MLP's nodes are mlp.0, mlp.1 and mlp.3."""
    nodes = [{"ln_1": _vit_ln()}, {"self_attention": {"multihead_attention": {"heads": "$heads"}}},
             {"add": {"add": None, "inputs": ["self_attention", "input"]}}, {"ln_2": _vit_ln()},
             {"mlp.0": {"affine": {"units": mlp_dim, "flatten": False}}}, {"mlp.1": "gelu"},
             {"mlp.3": {"affine": {"units": "$hidden", "flatten": False}}},
             {"add_1": {"add": None, "inputs": ["mlp.3", "add"]}}]
    return {"params": {"heads": None, "hidden": None}, "nodes": nodes}


def vision_transformer(name, patch, layers, heads, hidden, mlp_dim, image=224, classes=1000):
    """torchvision's VisionTransformer: a patch x patch convolution with stride patch to hidden
    channels, its (N, hidden, L) output made into L tokens, a learned class token before them, a
    learned positional embedding added, ``layers`` encoder blocks, a final layernorm, the class
    token's features into a linear head."""
    # the tokens' count follows the input (-1): at --input 3 64 64 there are 16 and the embedding is (1, 17, D)
    nodes = [{"conv_proj": _conv(hidden, patch, patch, bias=True)}, {"reshape": {"reshape": {"shape": [hidden, -1]}}}, {"permute": {"permute": {"axes": [1, 0]}}},
             {"class_token": "class_token"}, {"encoder": "pos_embedding"},
             {"encoder.layers": {"block": "encoder_block", "repeat": layers, "names": "encoder_layer_{k}",
                                 "heads": heads, "hidden": hidden}},
             {"encoder.ln": _vit_ln()}, {"class_token_output": {"select": {"index": 0}}},
             {"heads.head": {"affine": {"units": classes}}}]
    return _spec(name, f"torchvision's {name}: {patch}x{patch} patches, {layers} encoder blocks of {heads} heads, "
                 f"{image}x{image} RGB, {classes} classes", nodes, {"encoder_block": _encoder_block(mlp_dim)},
                 input_shape=(3, image, image))


def zoo():
    """Every network of this module, by torchvision's name (and ``resnet20``)."""
    specs = [resnet("resnet18", (2, 2, 2, 2), False), resnet("resnet34", (3, 4, 6, 3), False),
             resnet("resnet50", (3, 4, 6, 3), True), resnet("resnet101", (3, 4, 23, 3), True),
             resnet("resnet152", (3, 8, 36, 3), True), alexnet(), squeezenet("1_0"), squeezenet("1_1"),
             mobilenet_v2(), mobilenet_v3_small(), densenet121(), googlenet(), vgg16(), resnet20(),
             vision_transformer("vit_b_16", 16, 12, 12, 768, 3072)]
    return {spec["name"]: spec for spec in specs}
