"""sha256 of a file, read in blocks: artifacts (export.py) and starting weights (weights.py) are named by it."""
import hashlib


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
