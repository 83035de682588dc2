"""ImageNet starting weights the way users get them: torchvision's official file for a backbone, found
in the weights cache (torch hub's checkpoints folder by default) or downloaded into it from
torchvision's host or a mirror, its hash checked before anything loads it.

pretrained: "none"; "imagenet" (cache, else download; failure is an error); "auto" (cache, else
download, else random init with a warning); or a path to a state dict file.
A manifest (JSON {backbone: {"file": name, "sha256": hex}}) replaces torchvision's file names and
hashes, for sites that host their own starting weights (and for tests)."""
import hashlib
import http.client
import json
import os
import re
import time
import urllib.error
import urllib.request

import torch
import torchvision

from backbones import BACKBONES
from digest import sha256_of

OFFICIAL_BASE = "https://download.pytorch.org/models/"
MIRROR_SETTING = "FASHION_HOW_WEIGHTS_MIRROR"


class WeightsError(ValueError):
    pass


def wanted_file(backbone, manifest=None):
    """(file name, expected sha256 or its prefix, official URL) of the backbone's ImageNet weights."""
    if manifest and backbone in manifest:
        entry = manifest[backbone]
        return entry["file"], entry["sha256"].lower(), None
    spec = BACKBONES.get(backbone)
    if spec is None or spec.weights_enum is None:
        raise WeightsError(f'no ImageNet weights are known for backbone "{backbone}"')
    url = getattr(torchvision.models, spec.weights_enum).DEFAULT.url
    name = url.rsplit("/", 1)[1]
    # torchvision names its files <arch>-<first hex digits of the sha256>.pth, as torch.hub checks them.
    return name, re.search(r"-([a-f0-9]+)\.", name).group(1), url


class WeightsStore:
    """settings: {"dir": cache folder or None (torch hub's), "mirror": base URL or None,
    "manifest": path to a manifest or None}."""

    def __init__(self, settings=None):
        settings = settings or {}
        self.dir = settings.get("dir") or os.path.join(torch.hub.get_dir(), "checkpoints")
        self.mirror = settings.get("mirror")
        manifest = settings.get("manifest")
        if manifest:
            try:
                with open(manifest) as handle:
                    self.manifest = json.load(handle)
            except OSError as error:
                raise WeightsError(f"the weights manifest (FASHION_HOW_WEIGHTS_MANIFEST) cannot be read: {error.strerror}") from None
            except ValueError as error:
                raise WeightsError(f"the weights manifest (FASHION_HOW_WEIGHTS_MANIFEST) is not valid JSON: {error}") from None
            for backbone, entry in self.manifest.items():
                if not (isinstance(entry, dict) and isinstance(entry.get("file"), str) and re.fullmatch(r"[0-9a-fA-F]{64}", str(entry.get("sha256", "")))):
                    raise WeightsError(f'the weights manifest entry for "{backbone}" needs "file" and a 64-digit hex "sha256"')
        else:
            self.manifest = None

    def resolve(self, backbone, pretrained, on_progress=None, on_warning=None):
        """Returns (state dict path or None, record) where record says where the weights came from."""
        if pretrained == "none":
            return None, None
        if pretrained not in ("auto", "imagenet"):
            # A file of the weights folder only: a run's options come over the API, and the server's other
            # files are none of its business. Missing and outside answer alike.
            path = os.path.realpath(os.path.join(self.dir, pretrained))
            if not path.startswith(os.path.realpath(self.dir) + os.sep) or not os.path.isfile(path):
                raise WeightsError(
                    f"pretrained weights {os.path.basename(pretrained)!r} are not a file of the weights folder (FASHION_HOW_WEIGHTS_DIR); "
                    "put the file there and give its name"
                )
            return path, {"source": "file", "file": os.path.basename(path), "sha256": sha256_of(path), "downloaded": False}
        try:
            return self.imagenet(backbone, on_progress)
        except WeightsError as error:
            if pretrained == "imagenet":
                raise
            if on_warning:
                on_warning(f"{error}; training {backbone} from random init instead")
            return None, None

    def imagenet(self, backbone, on_progress=None):
        name, expected, official = wanted_file(backbone, self.manifest)
        path = os.path.join(self.dir, name)
        downloaded = False
        if not os.path.isfile(path):
            if not self.mirror and not official:
                raise WeightsError(f"{name} is named by the weights manifest but is not in the weights cache, and no mirror is set ({MIRROR_SETTING})")
            url = self.mirror.rstrip("/") + "/" + name if self.mirror else official
            self.download(url, name, expected, path, on_progress)
            downloaded = True
        digest = sha256_of(path)
        if not digest.startswith(expected):
            raise WeightsError(f"the cached {name} has sha256 {digest[:16]}..., expected {expected[:16]}...: delete it so that it is downloaded again")
        return path, {"source": "imagenet", "file": name, "sha256": digest, "downloaded": downloaded}

    def download(self, url, name, expected, path, on_progress):
        os.makedirs(self.dir, exist_ok=True)
        partial = f"{path}.{os.getpid()}.partial"
        digest = hashlib.sha256()
        try:
            try:
                response = urllib.request.urlopen(url, timeout=30)
            except (urllib.error.URLError, OSError, ValueError) as error:
                reason = getattr(error, "reason", error)
                raise WeightsError(
                    f"could not download {name} from {url} ({reason}); set {MIRROR_SETTING} to a mirror that serves it, "
                    "put the file in the weights cache, or train with pretrained none"
                ) from None
            with response, open(partial, "wb") as out:
                total = int(response.headers.get("Content-Length") or 0) or None
                done, last = 0, 0.0
                while True:
                    try:
                        block = response.read(1 << 20)
                    except (OSError, http.client.HTTPException) as error:
                        raise WeightsError(f"the download of {name} from {url} broke off after {done} bytes ({type(error).__name__})") from None
                    if not block:
                        break
                    out.write(block)
                    digest.update(block)
                    done += len(block)
                    now = time.perf_counter()
                    if on_progress and now - last >= 0.5:
                        on_progress(name, done, total)
                        last = now
            if total is not None and done != total:
                raise WeightsError(f"the download of {name} from {url} ended after {done} of {total} bytes")
            if on_progress:
                on_progress(name, done, total)
            actual = digest.hexdigest()
            if not actual.startswith(expected):
                raise WeightsError(f"refused {name} from {url}: its sha256 is {actual[:16]}..., expected {expected[:16]}...")
            os.replace(partial, path)
        finally:
            if os.path.exists(partial):
                os.remove(partial)
