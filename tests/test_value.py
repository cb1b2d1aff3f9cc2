"""Value: what it accepts, what it records, how it prints, and that dropped graphs are freed."""

import gc
import weakref

import pytest

from autograd import Value


@pytest.mark.parametrize("bad", ["3", [1], 1 + 2j, None, {"a": 1}, (1.0,)])
def test_non_numbers_raise_type_error_naming_the_value(bad):
    with pytest.raises(TypeError) as info:
        Value(bad)
    assert type(bad).__name__ in str(info.value)


@pytest.mark.parametrize("bad", ["3", [1], 1 + 2j, None])
def test_operators_with_non_numbers_raise_type_error(bad):
    with pytest.raises(TypeError, match=type(bad).__name__):
        Value(1.0) * bad
    with pytest.raises(TypeError, match=type(bad).__name__):
        Value(1.0) ** bad


def test_nan_is_refused():
    with pytest.raises(ValueError, match="NaN"):
        Value(float("nan"))


@pytest.mark.parametrize("good,expected", [(3, 3.0), (2.5, 2.5), (True, 1.0), (False, 0.0)])
def test_numbers_are_stored_as_floats(good, expected):
    v = Value(good)
    assert v.data == expected and type(v.data) is float and v.grad == 0.0


def test_a_computed_node_records_parents_and_local_derivatives_at_forward_time():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b
    assert c.parents == (a, b)
    assert c.local_grads == (-3.0, 2.0)
    assert c.op == "*" and not c.is_leaf
    t = c.tanh()
    assert t.parents == (c,) and t.local_grads[0] == pytest.approx(1 - t.data**2)
    assert a.parents == () and a.local_grads == () and a.op == "" and a.is_leaf


def test_hash_is_identity_and_equality_is_not_overloaded():
    a, b = Value(1.0), Value(1.0)
    assert a != b and a == a
    assert len({a, b}) == 2


def test_extra_attributes_work_as_in_micrograd():
    p = Value(1.0)
    p.m = 0.0  # an optimizer's state kept on the parameter (AdamW written for micrograd does this)
    p.m = 0.9 * p.m + 0.1 * 2.0
    assert p.m == pytest.approx(0.2)
    assert not hasattr(Value(1.0), "m")  # per Value, not shared


def test_repr_is_readable():
    a = Value(2.0, label="a")
    assert repr(a) == "Value(data=2.0, grad=0.0, label='a')"
    b = (a * a).tanh()
    b.label = "out"
    assert repr(b).startswith("Value(data=0.999329299739067, grad=0.0, op='tanh', label='out')")
    assert float(a) == 2.0


def test_graph_is_freed_by_reference_counting_alone():
    gc.collect()
    gc.disable()
    try:
        x = Value(0.5)
        v = x
        for _i in range(1000):
            v = (v * 0.9 + 0.1).tanh()
        v.backward()
        refs = [weakref.ref(v)]
        node = v
        while node.parents:
            node = node.parents[0]
            refs.append(weakref.ref(node))
        del v, node
        alive = [r for r in refs if r() is not None]
        assert alive == [refs[-1]]  # only x, which we still hold
    finally:
        gc.enable()


def test_every_path_that_builds_a_node_fills_every_slot():
    import autograd
    from autograd import detect_anomaly, no_grad
    from autograd.ops import Op

    a, b = Value(2.0, label="a"), Value(-3.0)
    with detect_anomaly():  # the general path (_record) instead of the inlined hot paths
        recorded = [a * b, a.tanh(), autograd.sum([a, b, 1.0])]
    with no_grad():
        unrecorded = [a * b, a.tanh(), autograd.sum([a, b])]
    built = {
        "binary": (a * b, (a, b), (-3.0, 2.0)),
        "reflected": (2.0 - b, None, (1.0, -1.0)),  # parents: a new constant 2.0, then b
        "unary": (b.relu(), (b,), (0.0,)),
        "power": (a**3, (a,), (12.0,)),
        "sum": (autograd.sum([a, b]), (a, b), (1.0, 1.0)),
        "max": (autograd.max([a, b]), (a, b), (1.0, 0.0)),
        "recorded binary": (recorded[0], (a, b), (-3.0, 2.0)),
        "recorded unary": (recorded[1], (a,), (1 - recorded[1].data ** 2,)),
        "recorded sum": (recorded[2], None, (1.0, 1.0, 1.0)),
        "micrograd's shape": (Value(-6.0, (a, b), "*", label="c"), (a, b), (-3.0, 2.0)),
        "leaf": (Value(1.5, label="x"), (), ()),
        **{f"no_grad {i}": (v, (), ()) for i, v in enumerate(unrecorded)},
    }
    slots = [s for s in Value.__slots__ if s not in ("__dict__", "__weakref__")]
    for path, (v, parents, local_grads) in built.items():
        values = {s: getattr(v, s) for s in slots}  # every slot is set: no AttributeError
        assert values["grad"] == 0.0 and values["scope"] is None and isinstance(v.data, float), path
        assert isinstance(values["_prim"], Op) and v._op is values["_prim"], path
        assert v.is_leaf == (v.op == "" == v._op) and v.label is values["_label"] and type(v.label) is str, (
            path
        )
        if parents is not None:
            assert v.parents == parents and v._prev == set(parents), path
        assert v.local_grads == local_grads, path
        if parents == ():
            assert values["_a"] is values["_b"] is values["_local_a"] is values["_local_b"] is None, path
    assert built["micrograd's shape"][0].label == "c" and built["leaf"][0].label == "x"
    assert built["binary"][0].label == "" and not built["binary"][0].__dict__


def test_a_node_names_its_primitive_with_its_rules():
    from autograd.ops import LEAF, OPS

    a, b = Value(2.0), Value(3.0)
    assert a.primitive is LEAF and (a * b).primitive is OPS["*"] and (a * b).op == "*"
    assert (a * b).primitive.local(2.0, 3.0, 6.0) == (3.0, 2.0)
    assert not (a * b).primitive.custom
