"""Train an iris classifier and write its metrics (to the directory given as argument, default outputs/).

Randomness comes from NumPy's global generator, which envseal's seed hook seeds from ENVSEAL_SEED: run it
twice with the same seed and the outputs are byte-identical.
"""
import hashlib
import json
import os
import pickle
import sys

import numpy as np
import seal_metrics
import tinyconfig
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

params = tinyconfig.loads(open("params.cfg").read())
data = load_iris()
order = np.random.permutation(len(data.target))
n_test = int(len(order) * params["test_fraction"])
test, train = order[:n_test], order[n_test:]

model = RandomForestClassifier(
    n_estimators=params["n_estimators"],
    max_depth=params["max_depth"],
    random_state=int(np.random.randint(0, 2**31 - 1)),
)
model.fit(data.data[train], data.target[train])
predicted = model.predict(data.data[test]).tolist()
actual = data.target[test].tolist()

out_dir = sys.argv[1] if len(sys.argv) > 1 else "outputs"
os.makedirs(out_dir, exist_ok=True)
model_bytes = pickle.dumps(model, protocol=4)
with open(os.path.join(out_dir, "model.pkl"), "wb") as f:
    f.write(model_bytes)
metrics = {
    "accuracy": round(seal_metrics.accuracy(actual, predicted), 6),
    "test_size": n_test,
    "seed": os.environ.get("ENVSEAL_SEED"),
    "fingerprint": os.environ.get("ENVSEAL_FINGERPRINT"),
    "model_sha256": hashlib.sha256(model_bytes).hexdigest(),
}
with open(os.path.join(out_dir, "metrics.json"), "w") as f:
    json.dump(metrics, f, indent=2, sort_keys=True)
    f.write("\n")

try:  # seal-plot is a dev-only package
    from seal_plot import bar
    print("accuracy", bar(metrics["accuracy"]), metrics["accuracy"])
except ImportError:
    print("accuracy", metrics["accuracy"])
