"""`hciplan.records.record` behaves as `@dataclass(frozen=True, slots=True)` (it exists only to import faster).

`record(slots=False)` and `record(frozen=False, slots=False)` behave as the dataclasses with the same options.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import pickle
from dataclasses import dataclass, field

import pytest

from hciplan.records import record


def make(decorator):
    """The same class body under either decorator (module level names, so pickle finds them)."""

    class Point:
        x: int
        y: str = "a"
        tags: tuple[str, ...] = ()
        items: list[int] = field(default_factory=list)
        raw: str = field(default="", compare=False, repr=False)
        note: int | None = field(default=None, metadata={"fingerprint": False})

        def total(self) -> int:
            return self.x + len(self.items)

    class Bare:
        a: int

    class Empty:
        """Has a docstring."""

    return decorator(Point), decorator(Bare), decorator(Empty)


NEW = make(record)
OLD = make(dataclass(frozen=True, slots=True))
PointNew, BareNew, EmptyNew = NEW
PointOld, BareOld, EmptyOld = OLD
for _cls, _name in ((PointNew, "PointNew"), (PointOld, "PointOld")):
    _cls.__qualname__ = _name
    globals()[_name] = _cls


def test_fields_and_params_match():
    for new, old in zip(NEW, OLD):
        assert dataclasses.is_dataclass(new)
        assert [(f.name, f.type, f.default, f.default_factory, f.init, f.repr, f.compare, f.hash, dict(f.metadata),
                 f.kw_only) for f in dataclasses.fields(new)] == \
               [(f.name, f.type, f.default, f.default_factory, f.init, f.repr, f.compare, f.hash, dict(f.metadata),
                 f.kw_only) for f in dataclasses.fields(old)]
        assert new.__slots__ == old.__slots__
        assert new.__match_args__ == old.__match_args__
        assert new.__doc__.replace("New", "") == old.__doc__.replace("Old", "")
        assert new.__init__.__annotations__ == old.__init__.__annotations__
        assert repr(new.__dataclass_params__) == repr(old.__dataclass_params__)


def test_instances_behave_alike():
    for cls in (PointNew, PointOld):
        p = cls(1, "b", ("t",), [2], raw="r", note=3)
        q = cls(1, "b", ("t",), [2], raw="other", note=3)
        assert p == q and p != cls(2) and p.__eq__(object()) is NotImplemented
        assert p.total() == 2 and cls(5).items == [] and cls(5).items is not cls(5).items
        assert repr(p) == f"{cls.__qualname__}(x=1, y='b', tags=('t',), items=[2], note=3)"
        assert dataclasses.asdict(p)["items"] == [2]
        assert dataclasses.replace(p, x=9).x == 9 and dataclasses.replace(p, x=9).raw == "r"
        assert dataclasses.astuple(cls(1, tags=("a",))) == (1, "a", ("a",), [], "", None)
        with pytest.raises(dataclasses.FrozenInstanceError):
            p.x = 2
        with pytest.raises(dataclasses.FrozenInstanceError):
            del p.x
        assert not hasattr(p, "__dict__")
        assert pickle.loads(pickle.dumps(p)) == p and copy.deepcopy(p) == p
        with pytest.raises(TypeError):
            cls()
    for cls in (BareNew, BareOld):
        assert hash(cls(1)) == hash((1,)) and {cls(1), cls(1)} == {cls(1)}
    assert EmptyNew() == EmptyNew() and repr(EmptyNew()).endswith("Empty()") and EmptyNew.__doc__ == "Has a docstring."


def test_unhashable_field_hash_fails_alike():
    for cls in (PointNew, PointOld):
        with pytest.raises(TypeError):
            hash(cls(1, items=[1]))


def test_mutable_default_is_refused():
    class Bad:
        a: list = []  # noqa: RUF012
    with pytest.raises(ValueError):
        record(Bad)


def test_project_records_are_dataclasses():
    from hciplan.compiler import diagnostics, durations, model, syntax
    classes = [v for module in (model, syntax, durations, diagnostics) for v in vars(module).values()
               if isinstance(v, type) and v.__module__ == module.__name__ and dataclasses.is_dataclass(v)]
    assert len(classes) > 30
    for cls in classes:
        assert dataclasses.fields(cls) is not None



VARIANTS = {"frozen": dict(frozen=True, slots=False), "mutable": dict(frozen=False, slots=False)}


def box_body() -> dict:
    """A class body (a fresh namespace each time: both decorators change the class they are given)."""

    class Box:
        x: int
        items: list[int] = field(default_factory=list)
        y: str = "a"
        raw: str = field(default="", compare=False, repr=False)
        seen: int = field(init=False, default=0, compare=False, repr=False)

        def __post_init__(self) -> None:  # as Plan's: runs last, may set a field of a frozen instance
            object.__setattr__(self, "seen", self.x + 1)

        def total(self) -> int:
            return self.x + len(self.items)

        @functools.cached_property
        def double(self) -> int:  # needs the instance __dict__ that slots=False keeps
            return 2 * self.x

    return {k: v for k, v in Box.__dict__.items() if k not in ("__dict__", "__weakref__")}


PAIRS = {}
for _variant, _options in VARIANTS.items():
    for _decorator, _suffix in ((record(**_options), "New"), (dataclass(**_options), "Old")):
        _name = f"Box{_variant.title()}{_suffix}"
        globals()[_name] = _decorator(type(_name, (), {**box_body(), "__qualname__": _name}))
    PAIRS[_variant] = (globals()[f"Box{_variant.title()}New"], globals()[f"Box{_variant.title()}Old"])


@pytest.mark.parametrize("variant", VARIANTS)
def test_unslotted_variants_behave_as_dataclasses(variant):
    new, old = PAIRS[variant]
    frozen = VARIANTS[variant]["frozen"]
    assert [(f.name, f.default, f.default_factory, f.compare, f.repr) for f in dataclasses.fields(new)] == \
           [(f.name, f.default, f.default_factory, f.compare, f.repr) for f in dataclasses.fields(old)]
    assert repr(new.__dataclass_params__) == repr(old.__dataclass_params__)
    assert new.__doc__.replace("New", "") == old.__doc__.replace("Old", "")
    assert new.__match_args__ == old.__match_args__
    assert new.__init__.__annotations__ == old.__init__.__annotations__
    for name in ("x", "items", "y", "raw", "seen"):  # class attributes: the plain default, or none
        assert getattr(new, name, "absent") == getattr(old, name, "absent"), name
    assert (new.__hash__ is None) == (old.__hash__ is None) == (not frozen)
    for cls in (new, old):
        p = cls(1, [2], "b", raw="r")
        assert p == cls(1, [2], "b", raw="other") and p != cls(2) and p.__eq__(object()) is NotImplemented
        assert repr(p) == f"{cls.__qualname__}(x=1, items=[2], y='b')"
        assert p.total() == 2 and p.double == 2 and p.seen == 2 and cls(5).items == [] and cls(5).items is not cls(5).items
        assert hasattr(p, "__dict__") and dataclasses.replace(p, x=9).raw == "r"
        assert pickle.loads(pickle.dumps(p)) == p and copy.deepcopy(p) == p
        if frozen:
            with pytest.raises(dataclasses.FrozenInstanceError):
                p.x = 2
            with pytest.raises(dataclasses.FrozenInstanceError):
                del p.x
            assert hash(cls(1, ())) == hash((1, (), "a"))
        else:
            p.x = 3
            del p.y
            assert p.x == 3 and p.__dict__.get("y", "gone") == "gone"
            with pytest.raises(TypeError):
                hash(p)


def test_the_compiled_methods_are_cached_and_reused(tmp_path, monkeypatch):
    """A second process (here: a second load of the cache) compiles nothing; a damaged cache is no cache."""
    import marshal

    from hciplan import records

    monkeypatch.setenv("HCIPLAN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(records, "_codes", None)
    monkeypatch.setattr(records, "_used", set())
    monkeypatch.setattr(records, "_compiled_here", [])
    monkeypatch.setattr(records.atexit, "register", lambda function: None)
    source = records._source(dataclasses.fields(PointNew), True, False)
    first = records._compiled(source)
    assert records._compiled_here == [source]
    records._save_codes()
    entry = tmp_path / records._CACHE_ENTRY
    assert marshal.loads(entry.read_bytes())[source] == first
    monkeypatch.setattr(records, "_codes", None)
    monkeypatch.setattr(records, "_compiled_here", [])
    assert records._compiled(source) == first and records._compiled_here == []  # read back, not compiled
    entry.write_bytes(entry.read_bytes()[:100])  # truncated: ignored, compiled again
    monkeypatch.setattr(records, "_codes", None)
    assert records._compiled(source) == first and records._compiled_here == [source]
