"""Jobs: canonical JSON and a content-hash id that is stable and sensitive to every field."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlct.numeric.settings import SamplerSettings
from rlct.validation.jobs import Job, canonical_json, digest_of, unique


def make_job(**changes):
    base = dict(
        case="dln",
        scale="1e2",
        params={"widths": (10, 10, 10), "rank": 2, "n": 10_000, "noise_std": 1.0},
        settings=SamplerSettings(step_size=1e-4, chains=4, steps=2000, burnin=1000),
        seed=0,
        device="cpu",
        dtype="float64",
    )
    base.update(changes)
    return Job(**base)


# A job description and its digest, pinned: an accidental change of the encoding (which would
# orphan every stored result) fails here. Change it only together with JOB_SCHEMA.
PINNED_DESCRIPTION = {
    "schema": 1,
    "case": "dln",
    "scale": "1e2",
    "params": {"widths": [10, 10, 10], "rank": 2, "q": "3/2"},
    "settings": {"sampler": "sgld", "step_size": 0.0001, "nbeta": None, "chains": 4},
    "seed": 0,
    "device": "cpu",
    "dtype": "float64",
}
PINNED_DIGEST = "0150178d7425355a14165d3685e4ac8dae330799dcdf037c62729c31adb46cfb"


def test_digest_encoding_is_pinned():
    assert digest_of(PINNED_DESCRIPTION) == PINNED_DIGEST
    reordered = dict(reversed(list(PINNED_DESCRIPTION.items())))
    assert digest_of(reordered) == PINNED_DIGEST


def test_job_description_has_every_field():
    job = make_job()
    description = job.to_dict()
    assert set(description) == {
        "schema", "case", "scale", "params", "settings", "seed", "device", "dtype"
    }
    assert description["settings"] == {k: v for k, v in job.settings.to_dict().items() if k != "leapfrog_steps"}
    assert description["params"]["widths"] == [10, 10, 10]
    assert job.digest == digest_of(description)


def test_leapfrog_steps_enters_the_id_only_when_not_one():
    """The hmc sampler's field was added after results were stored: at its neutral value 1 it is
    not hashed (existing ids unchanged), otherwise it is."""
    base = make_job(settings=SamplerSettings(sampler="hmc", step_size=1e-4, batch_size=None))
    assert "leapfrog_steps" not in base.to_dict()["settings"]
    longer = make_job(settings=SamplerSettings(sampler="hmc", step_size=1e-4, batch_size=None, leapfrog_steps=8))
    assert longer.to_dict()["settings"]["leapfrog_steps"] == 8
    assert longer.id != base.id
    assert Job.from_dict(longer.to_dict()).settings.leapfrog_steps == 8
    assert Job.from_dict(base.to_dict()).settings.leapfrog_steps == 1


def test_default_estimator_is_not_part_of_the_description():
    assert "estimator" not in make_job().to_dict()
    assert make_job(estimator="devinterp").to_dict()["estimator"] == "devinterp"
    again = Job.from_dict(make_job(estimator="devinterp").to_dict())
    assert again.estimator == "devinterp" and again.id == make_job(estimator="devinterp").id


def test_id_is_sha256_prefix_of_canonical_json():
    import hashlib

    job = make_job()
    digest = hashlib.sha256(canonical_json(job.to_dict()).encode()).hexdigest()
    assert job.digest == digest and job.id == digest[:16]


def test_id_is_the_same_in_a_fresh_interpreter():
    code = (
        "from rlct.numeric.settings import SamplerSettings\n"
        "from rlct.validation.jobs import Job\n"
        "print(Job(case='dln', scale='1e2', seed=0, device='cpu', dtype='float64',\n"
        "    params={'noise_std': 1.0, 'n': 10000, 'rank': 2, 'widths': [10, 10, 10]},\n"
        "    settings=SamplerSettings(step_size=1e-4, chains=4, steps=2000, burnin=1000)).id)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        cwd=Path(__file__).resolve().parent.parent,
    ).stdout.strip()
    assert out == make_job().id


def test_tuples_and_lists_hash_alike_and_key_order_does_not_matter():
    a = make_job(params={"widths": (10, 10, 10), "rank": 2})
    b = make_job(params={"rank": 2, "widths": [10, 10, 10]})
    assert a.id == b.id and a == b and len({a, b}) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"case": "rrr"},
        {"scale": "1e3"},
        {"params": {"widths": (10, 10, 10), "rank": 1}},
        {"settings": SamplerSettings(step_size=2e-4, chains=4, steps=2000, burnin=1000)},
        {"settings": SamplerSettings(step_size=1e-4, chains=4, steps=2000, burnin=1000, nbeta=5.0)},
        {"seed": 1},
        {"device": "cuda"},
        {"dtype": "float32"},
        {"estimator": "devinterp"},
    ],
)
def test_every_field_changes_the_id(change):
    assert make_job(**change).id != make_job().id


@settings(max_examples=50, deadline=None)
@given(
    st.dictionaries(
        st.text(min_size=1, max_size=5),
        st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text()),
        max_size=5,
    )
)
def test_id_depends_on_content_not_on_insertion_order(params):
    forward = make_job(params=dict(params))
    backward = make_job(params=dict(reversed(list(params.items()))))
    assert forward.id == backward.id


def test_round_trip_through_dict():
    job = make_job(params={"q": Fraction(3, 2), "widths": (2, 3)})
    again = Job.from_dict(job.to_dict())
    assert again.id == job.id
    assert job.to_dict()["params"]["q"] == "3/2"


def test_unique_keeps_first_order():
    jobs = [make_job(seed=1), make_job(seed=0), make_job(seed=1)]
    assert [j.seed for j in unique(jobs)] == [1, 0]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"seed": -1}, "seed"),
        ({"seed": True}, "seed"),
        ({"device": "auto"}, "device"),
        ({"dtype": "float16"}, "dtype"),
        ({"case": ""}, "case"),
        ({"params": {"x": float("nan")}}, "params.x"),
        ({"params": {"x": object()}}, "params.x"),
        ({"settings": {"step_size": 1}}, "settings"),
        ({"estimator": "pyro"}, "estimator"),
    ],
)
def test_bad_fields_raise_naming_the_field(change, field):
    with pytest.raises(ValueError, match=rf"^{field}"):
        make_job(**change)
