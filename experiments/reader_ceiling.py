"""How well can a careful reader route agent notes by the line alone?

Not part of the library: this measures the ceiling the routing targets are set against. The
corpus labels notes by provenance (the heading a line sat under, a checkbox), which a router
never sees; a reader who sees only the line, as the router does, agrees with those labels only
so far. The share a reader gets right is roughly the most any line-only router can score.

    python3 experiments/reader_ceiling.py sample FILE N SEED
        Prints N notes of FILE chosen at random (seeded), numbered by their line in FILE, with
        no label: the reader writes one line per note, `<line>\t<layer>`, deciding by the text
        alone (the labelling rules of ../shared/data/README.md are fair to know).

    python3 experiments/reader_ceiling.py score FILE LABELS
        Compares the reader's LABELS (the TSV above) with FILE's labels: accuracy, macro-F1,
        per-layer F1 and the confusion table (rows: the file's label; columns: the reader's).

The TSV holds only line numbers and layers, never the notes' text.
"""
import json
import random
import sys

LAYERS = ["semantic", "episodic", "procedural", "prospective"]


def read_rows(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def sample(path, n, seed):
    rows = read_rows(path)
    picked = sorted(random.Random(seed).sample(range(len(rows)), n))
    for i in picked:
        print(f"{i}\t{rows[i]['content']}")


def score(path, labels_path):
    rows = read_rows(path)
    pairs = []
    with open(labels_path, encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            index, layer = line.rstrip("\n").split("\t")[:2]
            if layer not in LAYERS:
                sys.exit(f"line {index}: layer {layer!r} is not one of {LAYERS}")
            pairs.append((rows[int(index)]["layer"], layer))
    confusion = {(t, p): 0 for t in LAYERS for p in LAYERS}
    for truth, guess in pairs:
        confusion[(truth, guess)] += 1
    n = len(pairs)
    correct = sum(confusion[(l, l)] for l in LAYERS)
    f1s = {}
    for layer in LAYERS:
        tp = confusion[(layer, layer)]
        predicted = sum(confusion[(t, layer)] for t in LAYERS)
        actual = sum(confusion[(layer, p)] for p in LAYERS)
        f1s[layer] = 2 * tp / (predicted + actual) if predicted + actual else 0.0
    print(
        json.dumps(
            {
                "n": n,
                "accuracy": round(correct / n, 4),
                "macro_f1": round(sum(f1s.values()) / len(LAYERS), 4),
                "f1": {l: round(f, 3) for l, f in f1s.items()},
                "confusion": {t: [confusion[(t, p)] for p in LAYERS] for t in LAYERS},
                "columns": LAYERS,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "sample":
        sample(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif len(sys.argv) == 4 and sys.argv[1] == "score":
        score(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
