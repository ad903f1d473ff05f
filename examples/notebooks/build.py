"""Write the four teaching notebooks of this folder, without outputs: ``python build.py``.

Each notebook is a list of cells below, markdown (strings starting with "#md") and code,
so a change to a notebook is a reviewable change to this file. The test suite runs the
stored notebooks (tests/test_notebooks.py) and checks that they are what this file writes.
"""

import os

import nbformat

HERE = os.path.dirname(os.path.abspath(__file__))


def notebook(cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for cell in cells:
        text = cell.strip("\n")
        if text.startswith("#md\n"):
            nb.cells.append(nbformat.v4.new_markdown_cell(text[4:]))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(text))
    for i, cell in enumerate(nb.cells):  # stable ids, so that rebuilding changes nothing
        cell["id"] = f"cell-{i}"
    return nb


LAYERS = [r'''
#md
# 1. Layers and gradient checks

Every layer of a network is a pair of functions: `forward(x, ...) -> (out, cache)` and
`backward(dout, cache) -> gradients`. This notebook checks a few of tallynet's layers the way
Stanford CS231n's assignment 2 does: against known outputs, and against *numerical* gradients
(centered differences). tallynet can stand in for the course's `cs231n` package:
`tallynet.course.install()` makes `import cs231n...` find tallynet's code.
''', r'''
import numpy as np
import tallynet.course

tallynet.course.install()   # from here on, `import cs231n...` is tallynet.course
from cs231n.layers import *
from cs231n.fast_layers import conv_forward_fast, conv_backward_fast
from cs231n.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array
from tallynet.gradcheck import rel_error   # max |x - y| / max(1e-8, |x| + |y|)
''', r'''
#md
## An affine layer

`out = x.reshape(N, D) @ w + b`. First against the course's numbers, then its backward pass
against the numerical gradient of `sum(out * dout)`.
''', r'''
x = np.linspace(-0.1, 0.5, num=240).reshape(2, 4, 5, 6)
w = np.linspace(-0.2, 0.3, num=360).reshape(120, 3)
b = np.linspace(-0.3, 0.1, num=3)
out, _ = affine_forward(x, w, b)
correct_out = np.array([[1.49834967, 1.70660132, 1.91485297],
                        [3.25553199, 3.5141327, 3.77273342]])
print("forward difference:", rel_error(out, correct_out))   # about 1e-9: the printed digits

np.random.seed(231)
x, w, b, dout = np.random.randn(10, 2, 3), np.random.randn(6, 5), np.random.randn(5), np.random.randn(10, 5)
dx, dw, db = affine_backward(dout, affine_forward(x, w, b)[1])
print("dx error:", rel_error(dx, eval_numerical_gradient_array(lambda x: affine_forward(x, w, b)[0], x, dout)))
print("dw error:", rel_error(dw, eval_numerical_gradient_array(lambda w: affine_forward(x, w, b)[0], w, dout)))
print("db error:", rel_error(db, eval_numerical_gradient_array(lambda b: affine_forward(x, w, b)[0], b, dout)))
''', r'''
#md
## A convolution, naive and fast

`conv_forward_naive` computes one dot product per output value; `conv_forward_fast` unfolds the
windows into columns (im2col) and does one matrix product. Same numbers, very different speed.
''', r'''
import time

np.random.seed(231)
x, w, b = np.random.randn(8, 3, 16, 16), np.random.randn(6, 3, 3, 3), np.random.randn(6)
conv_param = {"stride": 1, "pad": 1}
t0 = time.perf_counter(); out_naive, _ = conv_forward_naive(x, w, b, conv_param)
t1 = time.perf_counter(); out_fast, cache = conv_forward_fast(x, w, b, conv_param)
t2 = time.perf_counter()
print(f"difference {rel_error(out_naive, out_fast):.1e}; naive {1e3 * (t1 - t0):.1f} ms, fast {1e3 * (t2 - t1):.2f} ms")

dout = np.random.randn(*out_fast.shape)
dx, dw, db = conv_backward_fast(dout, cache)
small = x[:2], dout[:2]
dx_small = conv_backward_fast(small[1], conv_forward_fast(small[0], w, b, conv_param)[1])[0]
dx_num = eval_numerical_gradient_array(lambda x: conv_forward_fast(x, w, b, conv_param)[0], small[0], small[1])
print("dx error (2 images):", rel_error(dx_small, dx_num))
''', r'''
#md
## Batch normalization

In training mode each feature is normalized by the batch's mean and variance, then scaled by
`gamma` and shifted by `beta`. The running averages it keeps start at 0, as in the course.
''', r'''
np.random.seed(231)
x = 5 * np.random.randn(4, 5) + 12
gamma, beta, dout = np.random.randn(5), np.random.randn(5), np.random.randn(4, 5)
bn_param = {"mode": "train"}
out, cache = batchnorm_forward(x, gamma, beta, bn_param)
print("means", out.mean(axis=0).round(6), "(beta:", beta.round(6), ")")
dx, dgamma, dbeta = batchnorm_backward_alt(dout, cache)
dx_num = eval_numerical_gradient_array(lambda x: batchnorm_forward(x, gamma, beta, bn_param)[0], x, dout)
print("dx error:", rel_error(dx, dx_num))
''', r'''
#md
## A whole network

The course's `FullyConnectedNet` draws its initial weights from NumPy's global generator, so
after `np.random.seed(231)` the initial loss is the one the course's notebook prints,
2.3004790897684924, and the gradient check of every parameter passes.
''', r'''
from cs231n.classifiers.fc_net import FullyConnectedNet

np.random.seed(231)
X, y = np.random.randn(2, 15), np.random.randint(10, size=(2,))
model = FullyConnectedNet([20, 30], input_dim=15, num_classes=10, weight_scale=5e-2, dtype=np.float64)
loss, grads = model.loss(X, y)
print("initial loss:", loss)
for name in sorted(grads):
    num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[name], h=1e-5)
    print(f"{name} relative error: {rel_error(num, grads[name]):.2e}")
''', r'''
#md
**Try:** change `h` to 1e-3 or 1e-8 and see the errors grow (truncation, then rounding);
run the check in float32 (`dtype=np.float32`) and see why checks are done in float64.
''']

TRAINING = [r'''
#md
# 2. Training on the handwritten digits

scikit-learn's 1,797 digits (8x8 pixels) are small enough to train on in seconds. We train the
course's fully connected net with the Solver, plot the curves, then a small CNN from a spec.
''', r'''
%matplotlib inline
import numpy as np
import matplotlib.pyplot as plt
from tallynet.data import load_digits
from tallynet.models import FullyConnectedNet, from_spec
from tallynet.solver import Solver
from tallynet.plot import training_figure

data = load_digits()   # split 1,257 / 180 / 360, the training mean subtracted
for k in ("X_train", "X_val", "X_test"):
    print(k, data[k].shape)
''', r'''
np.random.seed(0)   # the course's classes draw their initial weights from NumPy's generator
model = FullyConnectedNet([128, 64], input_dim=64, normalization="batchnorm", weight_scale="he",
                          dropout_keep_ratio=0.9)
solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 2e-3}, lr_decay=0.9,
                num_epochs=10, batch_size=64, print_every=100, seed=0)
solver.train()
print("test accuracy:", solver.check_accuracy(data["X_test"], data["y_test"]))
''', r'''
#md
The histories start at epoch 0 (measured after the first iteration, as in the course), so there
are `num_epochs + 1` accuracies. `training_figure` draws on a figure of its own and leaves
pyplot alone: `plt.show()` keeps working in the cells after it.
''', r'''
training_figure(solver.loss_history, solver.train_acc_history, solver.val_acc_history, title="FullyConnectedNet")
''', r'''
pred = model.predict(data["X_test"][:8])
fig, axes = plt.subplots(1, 8, figsize=(10, 1.6))
for ax, img, p, t in zip(axes, data["X_test"][:8], pred, data["y_test"][:8]):
    ax.imshow((img[0] + data["mean"][0]), cmap="gray")
    ax.set_title(f"{p} ({t})", color="black" if p == t else "red")
    ax.axis("off")
plt.show()
''', r'''
#md
## A CNN from a spec

`examples/digits-cnn.yaml` describes a small CNN; `from_spec` builds it with its own seeded
generator, so this run is the same every time.
''', r'''
cnn = from_spec("../digits-cnn.yaml")
print(cnn)
cnn_solver = Solver(cnn, data, update_rule="adam", optim_config={"learning_rate": 2e-3}, lr_decay=0.85,
                    num_epochs=4, batch_size=64, verbose=False, seed=0)
cnn_solver.train()
print("val accuracy by epoch:", cnn_solver.val_acc_history)
print("test accuracy:", cnn_solver.check_accuracy(data["X_test"], data["y_test"]))
''', r'''
#md
**Try:** train for 25 epochs (`tallynet train ../digits-cnn.yaml --data digits --epochs 25` does
it from the shell) and compare with the fully connected net; remove batchnorm and compare.
''']

COSTS = [r'''
#md
# 3. What a network costs

`tallynet.cost.summary` asks every layer for its output shape, parameters, memory and FLOPs,
from shapes alone: nothing is allocated, so a VGG-16 costs nothing to describe. Here, the CNN
of seed 001 (`seed-cnn`, a preset) at batch 32.
''', r'''
from IPython.display import Markdown, display
from tallynet.cost import CONVENTIONS, summary
from tallynet.cost.walkthrough import walkthrough
from tallynet.models import from_spec

s = summary("seed-cnn")
s   # Jupyter shows the HTML table
''', r'''
print(repr(s))   # the same table as text
t = s.totals()
print(f"{t['params']:,} parameters, forward {t['forward_flops'] / 1e6:.1f} MFLOPs, "
      f"backward {t['backward_flops'] / 1e6:.1f} MFLOPs, peak memory of a step {t['peak_bytes_estimate'] / 2**20:.1f} MiB")
''', r'''
#md
## Conventions side by side

"How many FLOPs" depends on what is counted. `exact` counts every scalar operation the kernels
execute, `walkthrough` follows seed 001's hand counts, `macs` counts multiply-accumulates of
convolutions and matrix products only, `torch` follows PyTorch's `FlopCounterMode`.
''', r'''
rows = ["| convention | forward | backward | backward / forward |", "|---|---|---|---|"]
for name in CONVENTIONS:
    t = summary("seed-cnn", convention=name).totals()
    rows.append(f"| `{name}` | {t['forward_flops'] / 1e6:,.1f} M | {t['backward_flops'] / 1e6:,.1f} M "
                f"| {t['backward_flops'] / t['forward_flops']:.2f} |")
display(Markdown("\n".join(rows)))
''', r'''
#md
## Your own network, and the walkthrough

The same for the digits CNN of notebook 2, and the hand-written walkthrough of seed 001
generated for any network (here its beginning).
''', r'''
summary(from_spec("../digits-cnn.yaml"), batch=64, convention="walkthrough")
''', r'''
text = walkthrough("seed-cnn")
display(Markdown(text[:text.index("\n## ", text.index("\n## ") + 1)]))
''', r'''
#md
**Try:** `summary("seed-cnn", dtype="float16", optimizer="adam")`: which totals change, and why?
''']

PROFILE = [r'''
#md
# 4. Proof by execution

The cost model predicts; `tallynet.profile` checks. It runs a real training step with NumPy
arrays that count every scalar operation by kind, measures memory with `tracemalloc` and times
every layer. Predicted and counted FLOPs must be equal, kind by kind.
''', r'''
from tallynet.profile import profile

p = profile("seed-cnn", steps=3)
p   # counted against predicted, per layer (times vary from run to run; counts do not)
''', r'''
t = p.totals()
print("every layer's FLOPs counted == predicted:", t["flops_match"])
print("mismatches:", p.mismatches(), "  operations the counter could not price:", p.unknown)
print(f"predicted peak of a step {p.summary.totals()['peak_bytes_estimate'] / 2**20:.2f} MiB, "
      f"measured {p.measured_peaks['step'] / 2**20:.2f} MiB")
''', r'''
#md
## Counting one layer

`count_layer` runs one layer's forward and backward pass with counting arrays.
''', r'''
from tallynet.layers import BatchNorm, Conv2d
from tallynet.profile import count_layer

for layer, shape in ((Conv2d(8, 3, pad=1), (4, 3, 10, 10)), (BatchNorm(), (4, 8, 10, 10))):
    fwd, bwd, unknown = count_layer(layer, shape)
    predicted = layer.exact_flops(shape)
    print(f"{layer!r}: forward {fwd} | predicted {predicted.forward}; equal: "
          f"{fwd == predicted.forward and bwd == predicted.backward}")
''', r'''
#md
**Try:** profile the digits CNN (`profile("../digits-cnn.yaml", batch=64)`) and find the layer
that takes the largest share of the step.
''']

NOTEBOOKS = {
    "01-layers-and-gradient-checks.ipynb": LAYERS,
    "02-training-on-digits.ipynb": TRAINING,
    "03-what-a-network-costs.ipynb": COSTS,
    "04-proof-by-execution.ipynb": PROFILE,
}


def main():
    for name, cells in NOTEBOOKS.items():
        nbformat.write(notebook(cells), os.path.join(HERE, name))


if __name__ == "__main__":
    main()
