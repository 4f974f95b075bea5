"""Destroy events through the accounting walk: the C helper and the
pure-Python path agree with each other and with the documented rule, on
generated, mixed, corrupted and recorded event streams."""

from __future__ import annotations

import random
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.ctdump import (
    CT_DELETE,
    ROOT,
    as_tuples,
    encode_dump,
    encode_events,
    expected_counts,
    load_accounting,
    mutate,
    random_entries,
)

SUBNET = "10.42.0.0/23"
ROUTER = "10.42.0.1"
RECORDED_EVENTS = ROOT / "tests" / "data" / "conntrack-destroy-events.bin"


@pytest.fixture(scope="session")
def acct() -> ModuleType:
    return load_accounting()


def outcome(acct: ModuleType, backend: str, buf: bytes, subnet: str = SUBNET, **kw: Any) -> tuple[str, Any]:
    try:
        return "ok", as_tuples(acct.count_by_client(buf, subnet, backend=backend, **kw))
    except ValueError as exc:
        return "error", str(exc)


@pytest.mark.parametrize("n,seed", [(1, 1), (40, 2), (3000, 3)])
def test_events_count_like_the_rule(acct: ModuleType, n: int, seed: int) -> None:
    entries = random_entries(random.Random(seed), n)
    events = encode_events(entries, noise=random.Random(seed))
    want = expected_counts(entries, SUBNET, exclude=(ROUTER,))
    for backend in ("c", "python"):
        assert outcome(acct, backend, events, exclude=[ROUTER]) == ("ok", want)


def test_events_and_a_dump_of_the_same_entries_agree(acct: ModuleType) -> None:
    """An entry counts the same whether it is seen live or when it ends."""
    entries = random_entries(random.Random(11), 500)
    for backend in ("c", "python"):
        assert outcome(acct, backend, encode_events(entries)) == outcome(acct, backend, encode_dump(entries))


def test_mixed_stream_adds_both(acct: ModuleType) -> None:
    """A zeroing dump's entries and the events after it, fed in one buffer:
    each counted once."""
    rng = random.Random(12)
    live, ended = random_entries(rng, 200), random_entries(rng, 300)
    buf = encode_dump(live, done=False) + encode_events(ended)
    want = expected_counts([*live, *ended], SUBNET, exclude=(ROUTER,))
    for backend in ("c", "python"):
        assert outcome(acct, backend, buf, exclude=[ROUTER]) == ("ok", want)


def _events_seed(seed: int) -> bytes:
    return encode_events(random_entries(random.Random(seed), 12), noise=random.Random(seed))


mutation = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 1 << 16)),
    st.tuples(st.just("byte"), st.integers(0, 1 << 16), st.integers(0, 255)),
    st.tuples(st.just("u16"), st.integers(0, 1 << 16), st.integers(0, 0xFFFF)),
    st.tuples(st.just("u16"), st.integers(0, 1 << 16), st.sampled_from([CT_DELETE, 0x100, 0x101, 2, 3])),
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), ops=st.lists(mutation, min_size=1, max_size=4))
def test_corrupted_event_streams(acct: ModuleType, seed: int, ops: list[tuple[Any, ...]]) -> None:
    buf = mutate(_events_seed(seed), ops)
    for exclude in ([], [ROUTER]):
        assert outcome(acct, "c", buf, exclude=exclude) == outcome(acct, "python", buf, exclude=exclude)


def test_recorded_kernel_events(acct: ModuleType) -> None:
    """Destroy events a real kernel sent (tests/netns/test_usage_live.py records
    them: the phone in 192.168.12.0/24 behind the board): both paths
    agree and find that station's traffic."""
    if not RECORDED_EVENTS.exists():
        pytest.skip("no recorded event stream")
    raw = RECORDED_EVENTS.read_bytes()
    got = outcome(acct, "c", raw, "192.168.12.0/24", exclude=["192.168.12.1"])
    assert got == outcome(acct, "python", raw, "192.168.12.0/24", exclude=["192.168.12.1"])
    assert got[0] == "ok" and got[1], got
    assert all(v[2] > 0 for v in got[1].values())
