"""scikit-learn's answers for the cases the metrics test generates (JSON on stdin, JSON on stdout)."""
import json
import sys
import warnings

import numpy as np
from sklearn import metrics

warnings.simplefilter("ignore")
answers = []
for case in json.load(sys.stdin):
    y, proba, K = np.array(case["truth"]), np.array(case["probabilities"], dtype=np.float64), case["classes"]
    pred = proba.argmax(1)
    labels = list(range(K))
    precision, recall, f1, support = metrics.precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    kappa = metrics.cohen_kappa_score(y, pred)
    answer = {
        "accuracy": metrics.accuracy_score(y, pred),
        "balanced": metrics.balanced_accuracy_score(y, pred),
        "macroF1": metrics.f1_score(y, pred, average="macro", zero_division=0),
        "weightedF1": metrics.f1_score(y, pred, average="weighted", zero_division=0),
        "precision": precision.tolist(),
        "recall": recall.tolist(),
        "f1": f1.tolist(),
        "support": support.tolist(),
        "mcc": metrics.matthews_corrcoef(y, pred),
        "kappa": None if np.isnan(kappa) else kappa,
        "confusion": metrics.confusion_matrix(y, pred, labels=labels).tolist(),
        "logLoss": metrics.log_loss(y, proba, eps=1e-15, labels=labels),
        "topK": [metrics.top_k_accuracy_score(y, proba, k=k, labels=labels) for k in range(1, min(5, K) + 1)] if K > 2 else None,
    }
    answers.append({k: (float(v) if isinstance(v, (np.floating, float)) else v) for k, v in answer.items()})
print(json.dumps(answers))
