"""Typed, non-executable encoding of Python values between the host and the sandbox.

Call-based APPS programs return live objects; the host judges them, so the sandbox must
send them back without losing what equality depends on (int vs float vs bool, tuple vs
list, dict key types, numpy dtypes). JSON alone loses those and pickle would execute
code on the host, so each value becomes a tagged JSON tree: `["int", "0x1f"]`,
`["float", "0x1.8p+1"]` (exact, also nan/inf), `["tuple", [...]]`,
`["dict", [[key, value], ...]]`, `["ndarray", dtype, shape, [...]]`, ... Anything else is
`["opaque", type name, repr]`: a value whose equality only the live object knows; the
host marks those comparisons (`OPAQUE`).

Standard library only (numpy optional): shipped into the sandbox beside apps_child.py and
imported by the host judge (judge.py).
"""
import math
from collections import Counter, OrderedDict, defaultdict, deque
from decimal import Decimal
from fractions import Fraction

MAX_DEPTH = 200
REPR_CHARS = 200


class EncodeError(ValueError):
    """A value the encoding refuses (too deep)."""


class DecodeError(ValueError):
    """A tree that is not a valid encoding: the record is malformed."""


class Opaque:
    """Stands on the host for a returned object the encoding cannot carry. It equals
    nothing (its own `__eq__` stayed in the sandbox), so it never passes a test."""

    def __init__(self, type_name, text):
        self.type_name, self.text = type_name, text

    def __eq__(self, other):
        return False

    def __ne__(self, other):
        return True

    __hash__ = object.__hash__

    def __repr__(self):
        return "<opaque %s %s>" % (self.type_name, self.text)


SEQUENCES = {list: "list", tuple: "tuple", set: "set", frozenset: "frozenset", deque: "deque"}
MAPPINGS = {dict: "dict", OrderedDict: "ordereddict", defaultdict: "defaultdict",
            Counter: "counter"}


def encode(value, depth=0):
    """The tagged tree of `value` (exact types only: a subclass is opaque)."""
    if depth > MAX_DEPTH:
        raise EncodeError("value nested deeper than %d" % MAX_DEPTH)
    kind = type(value)
    if value is None:
        return ["none"]
    if kind is bool:
        return ["bool", value]
    if kind is int:
        return ["int", hex(value)]  # hex: no digit limit, exact
    if kind is float:
        return ["float", value.hex()]
    if kind is str:
        return ["str", value]
    if kind in SEQUENCES:
        items = value
        if kind in (set, frozenset):
            items = list(value)
        return [SEQUENCES[kind], [encode(v, depth + 1) for v in items]]
    if kind in MAPPINGS:
        return [MAPPINGS[kind], [[encode(k, depth + 1), encode(v, depth + 1)]
                                 for k, v in value.items()]]
    if kind is complex:
        return ["complex", value.real.hex(), value.imag.hex()]
    if kind is Fraction:
        return ["fraction", hex(value.numerator), hex(value.denominator)]
    if kind is Decimal:
        return ["decimal", str(value)]
    if kind in (bytes, bytearray):
        return [kind.__name__, value.hex()]
    if kind is range:
        return ["range", hex(value.start), hex(value.stop), hex(value.step)]
    numpy_tree = encode_numpy(value, depth)
    if numpy_tree is not None:
        return numpy_tree
    try:
        text = repr(value)[:REPR_CHARS]
    except BaseException:
        text = "?"
    return ["opaque", "%s.%s" % (kind.__module__, kind.__qualname__), text]


def encode_numpy(value, depth):
    np = __import__("sys").modules.get("numpy")
    if np is None:
        return None
    if type(value) is np.ndarray and value.dtype.kind in "biufcUS?O":
        flat = value.ravel().tolist() if value.dtype.kind != "O" else list(value.ravel())
        return ["ndarray", value.dtype.str, list(value.shape), [encode(v, depth + 1) for v in flat]]
    if isinstance(value, np.generic) and type(value).__module__ == "numpy" \
            and value.dtype.kind in "biufcUS?":
        return ["npscalar", value.dtype.str, encode(value.item(), depth + 1)]
    return None


def decode(tree, depth=0):
    """The value a tagged tree stands for; DecodeError for anything malformed."""
    if depth > MAX_DEPTH + 2:
        raise DecodeError("nested too deep")
    if not isinstance(tree, list) or not tree or not isinstance(tree[0], str):
        raise DecodeError("not a tagged value: %r" % (tree,)[:100])
    tag, args = tree[0], tree[1:]
    try:
        return DECODERS[tag](depth, *args)
    except DecodeError:
        raise
    except KeyError:
        raise DecodeError("unknown tag %r" % tag[:40]) from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise DecodeError("bad %s value: %s" % (tag, exc)) from None


def _checked(kind, value):
    if type(value) is not kind:
        raise DecodeError("expected %s, got %r" % (kind.__name__, value))
    return value


def _int(text):
    _checked(str, text)
    if not text.lstrip("-").startswith("0x"):
        raise DecodeError("int not in hex: %r" % text[:40])
    return int(text, 16)


def _items(depth, items):
    return [decode(v, depth + 1) for v in _checked(list, items)]


def _pairs(depth, pairs):
    out = []
    for pair in _checked(list, pairs):
        if not isinstance(pair, list) or len(pair) != 2:
            raise DecodeError("mapping entry is not a pair")
        out.append((decode(pair[0], depth + 1), decode(pair[1], depth + 1)))
    return out


def _ndarray(depth, dtype, shape, items):
    import numpy as np
    values = _items(depth, items)
    shape = tuple(_checked(int, n) for n in _checked(list, shape))
    if math.prod(shape) != len(values):
        raise DecodeError("array shape does not match its items")
    dtype = np.dtype(_checked(str, dtype))
    if dtype.kind == "O":
        out = np.empty(len(values), dtype=object)
        for i, v in enumerate(values):
            out[i] = v
        return out.reshape(shape)
    return np.array(values, dtype=dtype).reshape(shape)


def _npscalar(depth, dtype, item):
    import numpy as np
    return np.dtype(_checked(str, dtype)).type(decode(item, depth + 1))


DECODERS = {
    "none": lambda depth: None,
    "bool": lambda depth, v: _checked(bool, v),
    "int": lambda depth, v: _int(v),
    "float": lambda depth, v: float.fromhex(_checked(str, v)),
    "str": lambda depth, v: _checked(str, v),
    "list": lambda depth, v: _items(depth, v),
    "tuple": lambda depth, v: tuple(_items(depth, v)),
    "set": lambda depth, v: set(_items(depth, v)),
    "frozenset": lambda depth, v: frozenset(_items(depth, v)),
    "deque": lambda depth, v: deque(_items(depth, v)),
    "dict": lambda depth, v: dict(_pairs(depth, v)),
    "ordereddict": lambda depth, v: OrderedDict(_pairs(depth, v)),
    "defaultdict": lambda depth, v: defaultdict(None, _pairs(depth, v)),
    "counter": lambda depth, v: Counter(dict(_pairs(depth, v))),
    "complex": lambda depth, re, im: complex(float.fromhex(re), float.fromhex(im)),
    "fraction": lambda depth, n, d: Fraction(_int(n), _int(d)),
    "decimal": lambda depth, v: Decimal(_checked(str, v)),
    "bytes": lambda depth, v: bytes.fromhex(_checked(str, v)),
    "bytearray": lambda depth, v: bytearray.fromhex(_checked(str, v)),
    "range": lambda depth, a, b, c: range(_int(a), _int(b), _int(c)),
    "ndarray": _ndarray,
    "npscalar": _npscalar,
    "opaque": lambda depth, name, text: Opaque(_checked(str, name)[:200], _checked(str, text)[:REPR_CHARS]),
}


def contains_opaque(value, depth=0):
    """Does a decoded value hold an `Opaque` anywhere (a live-object comparison)?"""
    if isinstance(value, Opaque):
        return True
    if depth > MAX_DEPTH + 2:
        return False
    if isinstance(value, dict):
        return any(contains_opaque(k, depth + 1) or contains_opaque(v, depth + 1)
                   for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset, deque)):
        return any(contains_opaque(v, depth + 1) for v in value)
    if type(value).__module__ == "numpy" and getattr(value, "dtype", None) is not None \
            and value.dtype.kind == "O":
        return any(contains_opaque(v, depth + 1) for v in value.ravel())
    return False
