"""Experiments on telling agent notes from code comments by their text (scikit-learn).

Not part of the library: these measured two ideas for serving both kinds of text with one
router (README, "The working-memory fields"; "One model for both kinds of text").

    python3 experiments/kind_of_text.py score OUTDIR
        Fits a kind classifier (agent note or code comment; TF-IDF words 1-2 and characters
        2-4, logistic regression), scores the training rows out of fold (folds grouped by
        project) and the test rows with the full fit, and writes the five corpus files to
        OUTDIR with every row's fields fixed (phonological, importance 0.5, age 0) except
        activation, which carries P(code comment). Train and test on them with
        examples/train to measure the kind score as a tree feature.

    python3 experiments/kind_of_text.py augment
        Text models alone (no trees): one logistic regression over both kinds, against one over
        features doubled into an agent copy and a code copy weighted by the kind score
        (soft), by the classifier's decision (hard), or by the true kind (oracle). Prints
        accuracy on agent_dev_test and real_dev_test.

Needs `pip install scikit-learn`; reads ../shared/data (or $ATHENA_DATA).
"""
import json
import os
import sys

import numpy as np
from scipy.sparse import diags, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

DATA = os.environ.get("ATHENA_DATA", "../shared/data")
TRAIN = ["agent_dev_train.jsonl", "agent_more_train.jsonl", "real_dev_train.jsonl"]
TEST = ["agent_dev_test.jsonl", "real_dev_test.jsonl"]
LAYERS = ["semantic", "episodic", "procedural", "prospective"]


def load(name):
    with open(os.path.join(DATA, name)) as f:
        return [json.loads(line) for line in f]


class Text:
    """TF-IDF of words 1-2 and characters 2-4, fitted once on the training texts."""

    def __init__(self, texts):
        self.vs = [
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2),
        ]
        for v in self.vs:
            v.fit(texts)

    def __call__(self, texts):
        return hstack([v.transform(texts) for v in self.vs]).tocsr()


def training_rows():
    rows = []
    for name in TRAIN:
        for i, r in enumerate(load(name)):
            kind = 0 if name.startswith("agent") else 1
            # code comments have no project: five pseudo-groups, so folds stay balanced
            rows.append((r, kind, r.get("project") or "code%d" % (i % 5), name))
    return rows


def kind_scores(text, rows, tests):
    """Out-of-fold P(code comment) for the training rows, full-fit scores for each test file."""
    x = text([r["content"] for r, *_ in rows])
    kinds = np.array([k for _, k, *_ in rows])
    groups = [g for _, _, g, _ in rows]
    oof = np.zeros(len(rows))
    for fit, held in GroupKFold(5).split(x, kinds, groups):
        m = LogisticRegression(C=4, max_iter=2000).fit(x[fit], kinds[fit])
        oof[held] = m.predict_proba(x[held])[:, 1]
    full = LogisticRegression(C=4, max_iter=2000).fit(x, kinds)
    test_scores = [full.predict_proba(text([r["content"] for r in t]))[:, 1] for t in tests]
    print("kind classifier, out of fold: agent notes %.3f, code comments %.3f"
          % ((oof[kinds == 0] < 0.5).mean(), (oof[kinds == 1] >= 0.5).mean()), file=sys.stderr)
    print("kind classifier, tests: agent notes %.3f, code comments %.3f"
          % ((test_scores[0] < 0.5).mean(), (test_scores[1] >= 0.5).mean()), file=sys.stderr)
    return oof, test_scores


def score(outdir):
    rows = training_rows()
    tests = [load(n) for n in TEST]
    text = Text([r["content"] for r, *_ in rows])
    oof, test_scores = kind_scores(text, rows, tests)
    os.makedirs(outdir, exist_ok=True)
    files = {n: [] for n in TRAIN + TEST}
    for (r, _, _, name), p in zip(rows, oof):
        files[name].append((r, p))
    for name, t, ps in zip(TEST, tests, test_scores):
        files[name] = list(zip(t, ps))
    for name, pairs in files.items():
        with open(os.path.join(outdir, name), "w") as out:
            for r, p in pairs:
                r = dict(r, component="phonological", activation=round(float(p), 4),
                         importance=0.5, age_s=0)
                out.write(json.dumps(r) + "\n")


def augment():
    rows = training_rows()
    tests = [load(n) for n in TEST]
    text = Text([r["content"] for r, *_ in rows])
    oof, (p_agent, p_code) = kind_scores(text, rows, tests)
    x = text([r["content"] for r, *_ in rows])
    y = np.array([LAYERS.index(r["layer"]) for r, *_ in rows])
    kinds = np.array([k for _, k, *_ in rows], dtype=float)
    xa, xc = (text([r["content"] for r in t]) for t in tests)
    ya, yc = (np.array([LAYERS.index(r["layer"]) for r in t]) for t in tests)

    def doubled(m, p):
        return hstack([m, diags(1 - p) @ m, diags(p) @ m]).tocsr()

    variants = {
        "one model": (x, xa, xc),
        "soft": (doubled(x, oof), doubled(xa, p_agent), doubled(xc, p_code)),
        "hard": (doubled(x, (oof >= 0.5) * 1.0), doubled(xa, (p_agent >= 0.5) * 1.0),
                 doubled(xc, (p_code >= 0.5) * 1.0)),
        "oracle": (doubled(x, kinds), doubled(xa, np.zeros(len(ya))), doubled(xc, np.ones(len(yc)))),
    }
    for name, (train_x, agent_x, code_x) in variants.items():
        m = LogisticRegression(C=2, max_iter=3000).fit(train_x, y)
        print("%-10s agent_dev_test %.3f  real_dev_test %.3f"
              % (name, (m.predict(agent_x) == ya).mean(), (m.predict(code_x) == yc).mean()))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "score":
        score(sys.argv[2])
    elif len(sys.argv) == 2 and sys.argv[1] == "augment":
        augment()
    else:
        sys.exit(__doc__)
