"""`hciplan.records.record` behaves as `@dataclass(frozen=True, slots=True)` (it exists only to import faster)."""

from __future__ import annotations

import copy
import dataclasses
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
