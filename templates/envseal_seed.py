"""envseal seed hook, installed into the image's site-packages and loaded at start-up by envseal-seed.pth.

When ENVSEAL_SEED is set (envseal run sets it), it seeds Python's `random` at once, and NumPy, PyTorch and
TensorFlow the moment the program imports them. It never imports a framework itself, so it costs nothing
when a program does not use one. ENVSEAL_DETERMINISTIC=0 turns off the deterministic-algorithm switches.
"""
import os
import sys


def _seed_numpy(module, seed):
    module.random.seed(seed % (2 ** 32))


def _seed_torch(module, seed):
    module.manual_seed(seed)
    if os.environ.get("ENVSEAL_DETERMINISTIC", "1") != "0":
        try:
            module.use_deterministic_algorithms(True, warn_only=True)
        except TypeError:
            module.use_deterministic_algorithms(True)
        module.backends.cudnn.benchmark = False
        module.backends.cudnn.deterministic = True


def _seed_tensorflow(module, seed):
    module.random.set_seed(seed)
    if os.environ.get("ENVSEAL_DETERMINISTIC", "1") != "0":
        enable = getattr(getattr(module.config, "experimental", None), "enable_op_determinism", None)
        if enable is not None:
            enable()


_HOOKS = {"numpy": _seed_numpy, "torch": _seed_torch, "tensorflow": _seed_tensorflow}


def _apply(name, module, seed):
    try:
        _HOOKS[name](module, seed)
    except Exception as exc:  # a seeding problem must never break the user's program
        sys.stderr.write("envseal: could not seed %s: %s\n" % (name, exc))


class _SeedOnImport(object):
    """A meta-path finder that lets the real finders do the work, then seeds the module after it executes."""

    def __init__(self, seed):
        self.seed = seed

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _HOOKS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is None:
                continue
            loader = spec.loader
            original = getattr(loader, "exec_module", None)
            if original is None:
                return spec
            seed = self.seed

            def exec_module(module, _original=original, _name=fullname):
                _original(module)
                _apply(_name, module, seed)

            loader.exec_module = exec_module
            return spec
        return None


def _install():
    raw = os.environ.get("ENVSEAL_SEED", "")
    if not raw:
        return
    try:
        seed = int(raw)
    except ValueError:
        sys.stderr.write("envseal: ENVSEAL_SEED=%r is not an integer; not seeding\n" % raw)
        return
    import random

    random.seed(seed)
    for name in _HOOKS:
        if name in sys.modules:
            _apply(name, sys.modules[name], seed)
    sys.meta_path.insert(0, _SeedOnImport(seed))


_install()
