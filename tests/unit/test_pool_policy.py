"""The pool policy: which live process serves a request, what goes when the pool is over its limits, and when a
spare is started; plus the configuration spares are started for at boot, which must be an ordinary request's."""

from __future__ import annotations

import asyncio
import os

from claude_code_api.core.models import ModelRegistry
from claude_code_api.engine.claude.config import config_key
from claude_code_api.engine.claude.pool import default_request
from claude_code_api.engine.claude.pool_memory import PssCache
from claude_code_api.engine.claude.pool_policy import (
    Choice,
    Fit,
    Idle,
    Limits,
    Room,
    choose,
    evict,
    spare_wanted,
    to_empty,
)
from claude_code_api.frontends.openai_chat.convert import to_completion_request
from claude_code_api.frontends.openai_chat.models import ChatCompletionRequest
from claude_code_api.settings import Settings

NO_LIMITS = Limits(per_config=100, max_idle=100, budget_mb=0)


# -- which process serves a request ------------------------------------------------------------------------
NOW = 1000.0
RECENT = 10.0  # seconds (the default ``pool_recent``)
RECENTLY = NOW - RECENT / 2  # a conversation answered within RECENT seconds
LONG_AGO = NOW - RECENT * 3


def spare(ident: int, last_used: float = LONG_AGO) -> Fit:
    return Fit(ident, exact=True, last_used=last_used, held=0)


def holder(ident: int, last_used: float) -> Fit:
    """A process holding another conversation: it serves a new one only by being rewound."""
    return Fit(ident, exact=False, last_used=last_used, held=4)


def test_the_process_holding_exactly_the_history_serves_the_follow_up():
    fits = [Fit(1, exact=False, last_used=1.0, held=6), Fit(2, exact=True, last_used=9.0, held=4)]
    assert choose(fits) == Choice(2, "reuse")


def test_a_new_conversation_takes_a_spare_rather_than_rewinding_anyone_on_its_path():
    # Even an old conversation's process is not rewound while the request waits: a spare is ready now, and the old
    # conversation's process is emptied into the next spare off the request path.
    fits = [holder(1, RECENTLY), spare(2), holder(3, LONG_AGO), holder(4, LONG_AGO - 5)]
    assert choose(fits) == Choice(2, "spare")


def test_without_a_spare_the_least_recently_used_conversation_is_rewound():
    fits = [holder(1, RECENTLY + 2), holder(2, RECENTLY), holder(3, RECENTLY + 3)]
    assert choose(fits) == Choice(2, "rewind")


def test_of_several_spares_the_oldest_serves_first():
    assert choose([spare(4, 2.0), spare(5, 1.0)]) == Choice(5, "spare")


def test_nothing_fits_nothing_is_chosen():
    assert choose([]) is None


# -- which conversation's process becomes a spare ----------------------------------------------------------
def test_the_least_recently_used_conversation_that_is_not_recent_is_emptied_into_a_spare():
    holders = [holder(1, LONG_AGO), holder(2, RECENTLY), holder(3, LONG_AGO - 5), holder(4, NOW - RECENT - 1)]
    assert to_empty(holders, NOW, RECENT) == 3


def test_a_recent_conversation_keeps_its_process():
    # Likely mid-exchange (a tool loop, a quick reply): its next turn would otherwise resume from a transcript.
    assert to_empty([holder(1, RECENTLY), holder(2, NOW - RECENT + 0.5)], NOW, RECENT) is None


def test_a_spare_is_not_emptied_again():
    assert to_empty([spare(1)], NOW, RECENT) is None


# -- what goes under the limits --------------------------------------------------------------------------
def idle(ident: int, last_used: float, key: str = "k", pss: float = 100.0) -> Idle:
    return Idle(ident, key, last_used, pss)


def test_under_every_limit_nothing_is_evicted():
    processes = [idle(i, float(i)) for i in range(8)]
    assert evict(processes, Limits(per_config=8, max_idle=8, budget_mb=1000)) == []


def test_over_the_memory_budget_the_least_recently_used_go_until_the_rest_fit():
    processes = [idle(1, 5.0), idle(2, 1.0), idle(3, 9.0), idle(4, 3.0)]  # 400 MiB
    assert evict(processes, Limits(per_config=10, max_idle=10, budget_mb=250)) == [2, 4]


def test_busy_processes_count_against_the_budget_but_only_idle_ones_go():
    processes = [idle(1, 5.0), idle(2, 1.0)]
    assert evict(processes, Limits(per_config=10, max_idle=10, budget_mb=250), busy_pss_mb=150) == [2]
    assert evict(processes, Limits(per_config=10, max_idle=10, budget_mb=250), busy_pss_mb=900) == [2, 1]


def test_spares_count_against_the_budget_like_any_idle_process():
    processes = [idle(1, 5.0), idle(2, 1.0), idle(3, 9.0)]  # 2 and 3 are empty spares
    assert evict(processes, Limits(per_config=10, max_idle=10, budget_mb=200)) == [2]


def test_beyond_the_idle_caps_the_oldest_of_each_configuration_and_then_overall_go():
    processes = [idle(1, 1.0, "a"), idle(2, 2.0, "a"), idle(3, 3.0, "a"), idle(4, 4.0, "b"), idle(5, 5.0, "c")]
    assert evict(processes, Limits(per_config=2, max_idle=10, budget_mb=0)) == [1]
    assert evict(processes, Limits(per_config=2, max_idle=3, budget_mb=0)) == [1, 2]


def test_memory_is_the_measured_pss_and_an_unmeasured_process_counts_as_a_typical_one():
    cache = PssCache(default_mb=150)
    assert cache.of(None) == 150 and cache.of(os.getpid()) == 150  # nothing measured yet
    asyncio.run(cache.refresh([os.getpid()]))
    own = cache.of(os.getpid())
    assert 0 < own < 150 * 20  # this test process, measured from /proc/<pid>/smaps_rollup
    assert cache.of(12345678) == own  # not measured: the mean of those measured


# -- when a spare is started ----------------------------------------------------------------------------
def room(**changes: float) -> Room:
    values: dict[str, float] = {
        "live": 3,
        "max_live": 16,
        "idle": 2,
        "max_idle": 16,
        "config_idle": 2,
        "per_config": 16,
        "pss_mb": 300,
        "budget_mb": 6000,
        "process_mb": 120,
    }
    values.update(changes)
    return Room(**values)  # type: ignore[arg-type]


def test_a_spare_is_started_while_fewer_than_the_target_exist_and_there_is_room():
    assert spare_wanted(0, 2, room())
    assert spare_wanted(1, 2, room())
    assert not spare_wanted(2, 2, room())


def test_a_spare_is_never_started_by_evicting_a_conversation():
    assert not spare_wanted(0, 2, room(live=16))
    assert not spare_wanted(0, 2, room(idle=16))
    assert not spare_wanted(0, 2, room(config_idle=16))
    assert not spare_wanted(0, 2, room(pss_mb=5900))
    assert spare_wanted(0, 2, room(pss_mb=5900, budget_mb=0))


# -- the configuration of the spares started at boot ----------------------------------------------------
def test_the_boot_spares_have_the_configuration_of_an_ordinary_openai_request():
    settings = Settings()
    template = default_request(settings)
    assert template is not None
    plain = ChatCompletionRequest.model_validate(
        {"model": settings.pool_prestart_model, "messages": [{"role": "user", "content": "Hello"}]}
    )
    request = to_completion_request(
        plain,
        ModelRegistry.build(settings.model_aliases),
        default_system=settings.default_system_prompt,
        show_thinking=settings.expose_reasoning,
    )
    assert config_key(template) == config_key(request)


def test_an_unknown_prestart_model_starts_no_spares_instead_of_failing():
    assert default_request(Settings(pool_prestart_model="not a model")) is None
