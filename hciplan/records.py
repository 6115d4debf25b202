"""`record`: a cheaper `@dataclass(frozen=True, slots=True)`, for start-up time.

On Python 3.11 `dataclasses` compiles each generated method with an `exec` of
its own and, for `slots=True`, builds the class a second time; with some fifty
such classes on the `hciplan check` path that was a large share of hciplan's
own import time (docs/performance.md, "Start-up"). `record` generates the same
methods (`__init__`, `__repr__`, `__eq__`, `__hash__`, the frozen
`__setattr__`/`__delattr__`, the pickling pair) with ONE `exec` per class and
records real `dataclasses.Field` objects, so `dataclasses.fields`, `replace`,
`asdict` and `is_dataclass` behave as before. A class using anything beyond
plain fields and `__post_init__` (a base class, `ClassVar`, `InitVar`, `KW_ONLY`)
is handed to `dataclasses.dataclass` unchanged, so behaviour never differs.

Compiling the generated source was still most of that cost (about 40 ms for
the fifty classes on `check`'s path), so the compiled code is cached per user
(hciplan/cache.py), keyed by the generated source itself: a process finds the
code of every class it defines in one `marshal` load, compiles only what is
missing and, at exit, adds that to the cache. The methods are the same either
way; only where their bytecode came from differs.
"""

from __future__ import annotations

import atexit
import dataclasses
import marshal
import reprlib
import sys
from dataclasses import MISSING, Field, FrozenInstanceError
from types import CodeType

from hciplan import cache

__all__ = ["record"]

_HAS_DEFAULT_FACTORY = getattr(dataclasses, "_HAS_DEFAULT_FACTORY", object())


# marshal's format and the bytecode are Python-version specific: one cache entry per interpreter version
_CACHE_ENTRY = f"records-{sys.implementation.cache_tag}-{sys.hexversion:08x}.marshal"
_MAX_ENTRIES = 1000  # past this (sources of old versions piling up) the cache restarts from this process's own
_codes: dict[str, CodeType] | None = None  # generated source -> its compiled code; loaded on the first record
_used: set[str] = set()
_compiled_here: list[str] = []  # the sources this process compiled: none, and nothing is written at exit


def _load_codes() -> dict[str, CodeType]:
    data = cache.load(_CACHE_ENTRY)
    if data:
        try:
            codes = marshal.loads(data)
        except (EOFError, ValueError, TypeError):  # a damaged entry is no entry
            codes = None
        if isinstance(codes, dict) and all(isinstance(k, str) and isinstance(v, CodeType) for k, v in codes.items()):
            return codes
    return {}


def _save_codes() -> None:
    """At exit, when this process compiled something new: the cache with it added."""
    codes = _codes if len(_codes) <= _MAX_ENTRIES else {s: c for s, c in _codes.items() if s in _used}
    cache.store(_CACHE_ENTRY, marshal.dumps(codes))


def _compiled(source: str) -> CodeType:
    """The code of `source`, from the cache or compiled (and then saved at exit)."""
    global _codes
    if _codes is None:
        _codes = _load_codes()
    _used.add(source)
    code = _codes.get(source)
    if code is None:
        if not _compiled_here:
            atexit.register(_save_codes)
        _compiled_here.append(source)
        code = _codes[source] = compile(source, "<string>", "exec")
    return code


def _needs_dataclasses(cls: type, annotations: dict) -> bool:
    if cls.__bases__ != (object,) or "__slots__" in cls.__dict__:
        return True
    for annotation in annotations.values():
        text = annotation if isinstance(annotation, str) else repr(annotation)
        if "ClassVar" in text or "InitVar" in text or "KW_ONLY" in text:  # what dataclasses must handle
            return True
    return False


def _fields(cls: type, annotations: dict) -> list[Field]:
    fields = []
    seen_default = False
    for name, annotation in annotations.items():
        default = cls.__dict__.get(name, MISSING)
        f = default if isinstance(default, Field) else dataclasses.field(default=default)
        f.name = name
        f.type = annotation
        f._field_type = dataclasses._FIELD  # what dataclasses.fields() filters on
        if getattr(f, "kw_only", False) is MISSING:
            f.kw_only = False
        if f.default is not MISSING and f.default.__class__.__hash__ is None:
            raise ValueError(f"mutable default {type(f.default)} for field {name} is not allowed: use default_factory")
        has_default = f.default is not MISSING or f.default_factory is not MISSING
        if f.init and not has_default and seen_default:
            raise TypeError(f"non-default argument {name!r} follows default argument")
        seen_default = seen_default or (f.init and has_default)
        fields.append(f)
    return fields


def _tuple(prefix: str, names: list[str]) -> str:
    return "(" + "".join(f"{prefix}.{n}," for n in names) + ")"


def _source(fields: list[Field], frozen: bool, post_init: bool) -> str:
    """The generated methods, as the body of one factory function (closure over the class and defaults).

    As dataclasses does: a frozen class's `__init__` assigns through `object.__setattr__`, a mutable one's
    plainly; only a frozen class gets `__hash__` and the refusing `__setattr__`/`__delattr__`.
    """
    def assign(name: str, value: str) -> str:
        return f"  _object.__setattr__(self, {name!r}, {value})" if frozen else f"  self.{name} = {value}"

    parameters, body = ["self"], []
    for f in fields:
        if not f.init:
            if f.default_factory is not MISSING:
                body.append(assign(f.name, f"_dflt_{f.name}()"))
            elif f.default is not MISSING:
                body.append(assign(f.name, f"_dflt_{f.name}"))
            continue
        if f.default_factory is not MISSING:
            parameters.append(f"{f.name}=_HAS_DEFAULT_FACTORY")
            body.append(assign(f.name, f"_dflt_{f.name}() if {f.name} is _HAS_DEFAULT_FACTORY else {f.name}"))
        else:
            parameters.append(f"{f.name}=_dflt_{f.name}" if f.default is not MISSING else f.name)
            body.append(assign(f.name, f.name))
    if post_init:
        body.append("  self.__post_init__()")
    shown = ", ".join(f"{f.name}={{self.{f.name}!r}}" for f in fields if f.repr)
    compared = [f.name for f in fields if f.compare]
    hashed = [f.name for f in fields if (f.compare if f.hash is None else f.hash)]
    names = tuple(f.name for f in fields)
    lines = [
        f"def __init__({', '.join(parameters)}):",
        *(body or ["  pass"]),
        "def __repr__(self):",
        f"  return self.__class__.__qualname__ + f\"({shown})\"",
        "def __eq__(self, other):",
        "  if other.__class__ is self.__class__:",
        f"    return {_tuple('self', compared)} == {_tuple('other', compared)}",
        "  return NotImplemented",
    ]
    if frozen:
        lines += [
            "def __hash__(self):",
            f"  return hash({_tuple('self', hashed)})",
            "def __setattr__(self, name, value):",
            f"  if type(self) is _cls or name in {names!r}:",
            "    raise FrozenInstanceError(f'cannot assign to field {name!r}')",
            "  super(_cls, self).__setattr__(name, value)",
            "def __delattr__(self, name):",
            f"  if type(self) is _cls or name in {names!r}:",
            "    raise FrozenInstanceError(f'cannot delete field {name!r}')",
            "  super(_cls, self).__delattr__(name)",
        ]
    return "\n".join(lines)


def _doc(name: str, fields: list[Field]) -> str:
    """The docstring dataclasses gives a class without one (its __init__ signature), without importing inspect."""
    parts = []
    for f in fields:
        if not f.init:
            continue
        annotation = repr(f.type) if isinstance(f.type, str) else getattr(f.type, "__qualname__", repr(f.type))
        part = f"{f.name}: {annotation}"
        if f.default_factory is not MISSING:
            part += " = <factory>"
        elif f.default is not MISSING:
            part += f" = {f.default!r}"
        parts.append(part)
    return f"{name}({', '.join(parts)})"


def record(cls: type | None = None, /, *, frozen: bool = True, slots: bool = True):
    """Equivalent to `@dataclasses.dataclass(frozen=frozen, slots=slots)`, at a fraction of the import cost.

    `@record` alone is the frozen, slotted record of the compiler's IR; `@record(slots=False)` keeps the
    instance `__dict__` (a `cached_property`), `@record(frozen=False, slots=False)` is a plain `@dataclass`.
    """
    if cls is None:
        return lambda c: _record(c, frozen, slots)
    return _record(cls, frozen, slots)


def _record(cls: type, frozen: bool, slots: bool) -> type:
    annotations = cls.__dict__.get("__annotations__", {})
    if _needs_dataclasses(cls, annotations):
        return dataclasses.dataclass(frozen=frozen, slots=slots)(cls)
    fields = _fields(cls, annotations)
    names = [f.name for f in fields]
    if slots:  # a class's slots are fixed when it is created: create it again, as dataclasses does
        namespace = {k: v for k, v in cls.__dict__.items() if k not in names and k not in ("__dict__", "__weakref__")}
        namespace["__slots__"] = tuple(names)
        new = type(cls)(cls.__name__, cls.__bases__, namespace)
        new.__qualname__ = cls.__qualname__
    else:
        new = cls
        for f in fields:  # the class attribute is the plain default, or absent (dataclasses' _process_class)
            if isinstance(cls.__dict__.get(f.name), Field):
                if f.default is MISSING:
                    type.__delattr__(cls, f.name)
                else:
                    type.__setattr__(cls, f.name, f.default)
    scope = {"_cls": new, "_object": object, "_HAS_DEFAULT_FACTORY": _HAS_DEFAULT_FACTORY,
             "FrozenInstanceError": FrozenInstanceError}
    for f in fields:
        scope[f"_dflt_{f.name}"] = f.default_factory if f.default_factory is not MISSING else f.default
    exec(_compiled(_source(fields, frozen, "__post_init__" in cls.__dict__)), scope)  # noqa: S102 -- generated from field names only, as dataclasses does
    methods = {"__init__": scope["__init__"], "__repr__": reprlib.recursive_repr()(scope["__repr__"]),
               "__eq__": scope["__eq__"]}
    if frozen:
        methods.update(__hash__=scope["__hash__"], __setattr__=scope["__setattr__"],
                       __delattr__=scope["__delattr__"])
    class_hash = cls.__dict__.get("__hash__", MISSING)
    explicit_hash = not (class_hash is MISSING or (class_hash is None and "__eq__" in cls.__dict__))
    for method_name, method in methods.items():
        if method_name in cls.__dict__ and method_name in ("__init__", "__repr__", "__eq__"):
            continue  # a hand-written method wins, as with dataclasses
        if method_name == "__hash__" and explicit_hash:
            continue
        if method_name in cls.__dict__ and method_name in ("__setattr__", "__delattr__"):
            raise TypeError(f"Cannot overwrite attribute {method_name} in class {cls.__name__}")
        method.__qualname__ = f"{new.__qualname__}.{method_name}"
        type.__setattr__(new, method_name, method)
    if not frozen and not explicit_hash:
        type.__setattr__(new, "__hash__", None)  # eq without frozen: unhashable, as dataclasses makes it
    new.__init__.__annotations__ = {**{f.name: f.type for f in fields if f.init}, "return": None}
    type.__setattr__(new, "__dataclass_fields__", {f.name: f for f in fields})
    type.__setattr__(new, "__dataclass_params__",
                     dataclasses._DataclassParams(True, True, True, False, False, frozen))
    type.__setattr__(new, "__match_args__", tuple(f.name for f in fields if f.init))
    if slots and frozen:  # dataclasses' _add_slots: a frozen slotted class pickles through these
        if "__getstate__" not in cls.__dict__:
            type.__setattr__(new, "__getstate__", dataclasses._dataclass_getstate)
        if "__setstate__" not in cls.__dict__:
            type.__setattr__(new, "__setstate__", dataclasses._dataclass_setstate)
    if new.__doc__ is None:
        type.__setattr__(new, "__doc__", _doc(new.__name__, fields))
    return new
