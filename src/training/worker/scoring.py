"""What training minimises and how an epoch is scored: soft cross-entropy (with class weights and logit
adjustment), class frequencies, a teacher's softened targets, and top-1 and ACSA from a confusion matrix."""

import json

import torch


def read_teacher(teacher, class_counts):
    """The teacher's probabilities per item ({"itemIds": [...], "probabilities": [task][item][class]}),
    softened by the temperature: p^(1/T) normalised, the distribution softmax(logits / T) would give."""
    with open(teacher["file"]) as handle:
        stored = json.load(handle)
    targets = []
    for t, n in enumerate(class_counts):
        p = torch.tensor(stored["probabilities"][t], dtype=torch.float32).view(-1, n).clamp_min(1e-12)
        soft = p.pow(1.0 / teacher["temperature"])
        targets.append(soft / soft.sum(1, keepdim=True))
    return {"index": {item_id: row for row, item_id in enumerate(stored["itemIds"])}, "targets": targets}


def class_frequencies(items, class_counts):
    counts = [torch.zeros(n) for n in class_counts]
    for item in items:
        for task, label in enumerate(item["labels"]):
            counts[task][label] += 1
    return counts


def soft_cross_entropy(logits, targets, class_weight=None, log_prior=None):
    """Cross-entropy with soft targets; with class weights it is the weighted mean that
    F.cross_entropy(weight=...) computes for hard labels. log_prior adds logit adjustment."""
    if log_prior is not None:
        logits = logits + log_prior
    log_probs = torch.log_softmax(logits.float(), dim=1)
    if class_weight is None:
        return -(targets * log_probs).sum(1).mean()
    weighted = targets * class_weight
    return -(weighted * log_probs).sum() / weighted.sum().clamp_min(1e-12)


def accuracy_and_acsa(confusion):
    """Top-1 and ACSA (mean over classes with support of the per-class recall) from a confusion matrix."""
    total = confusion.sum().item()
    top1 = confusion.diag().sum().item() / total if total else 0.0
    support = confusion.sum(1)
    present = support > 0
    acsa = (confusion.diag()[present].double() / support[present].double()).mean().item() if present.any() else 0.0
    return top1, acsa
