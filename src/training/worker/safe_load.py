"""torch.load that runs no code from the file. A checkpoint fetched from the store or a user's weights
file is a pickle, and a pickle can name any callable to run while it is read: only tensors, their
storages and plain containers may be named here. torch 2 does this itself (weights_only=True); torch 1.13's
weights_only refuses plain floats (an optimizer's learning rate), so there an unpickler of our own
checks every name the file asks for against the same kind of allow-list."""

import pickle
import types

import torch

NATIVE = tuple(int(part) for part in torch.__version__.split(".")[:2]) >= (2, 0)

ALLOWED = {
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch", "Size"),
    ("torch", "device"),
}


class RefusedPickle(pickle.UnpicklingError):
    pass


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        # Storages are classes of the torch module (torch.FloatStorage, ...); dtypes are torch attributes.
        if (module, name) in ALLOWED or (module == "torch" and (name.endswith("Storage") or isinstance(getattr(torch, name, None), torch.dtype))):
            return super().find_class(module, name)
        raise RefusedPickle(f"the file asks to run {module}.{name} while it is read; only tensors and plain values are loaded")


def _load(file, **kwargs):
    return _Unpickler(file, **kwargs).load()


RESTRICTED = types.SimpleNamespace(Unpickler=_Unpickler, load=_load, __name__="fashion_how_restricted_pickle")


def safe_load(path, device="cpu"):
    """The file's tensors and plain values; RefusedPickle (or torch's UnpicklingError) for anything else."""
    if NATIVE:
        return torch.load(path, map_location=device, weights_only=True)
    # torch 1.13's load() replaces any pickle_module with pickle itself unless weights_only is set, so
    # its zip reader is called directly with ours (torch.save has written zip files since 1.6).
    serialization = torch.serialization
    with serialization._open_file_like(path, "rb") as opened:
        if not serialization._is_zipfile(opened):
            raise RefusedPickle("the file is in torch's legacy (pre-1.6) format, which is not loaded")
        with serialization._open_zipfile_reader(opened) as archive:
            return serialization._load(archive, device, RESTRICTED, encoding="utf-8")
