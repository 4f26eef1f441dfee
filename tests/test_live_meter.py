"""The live cost only converges upward to the exact figure: it starts from what the
provider already said (Anthropic's input at the start, the local model's own count)
and never shows more than the reply will finally cost."""

from __future__ import annotations

from rung.engine.config import load_config
from rung.engine.conversation import ChatOptions, Conversation, LiveCost, Plan
from rung.engine.ladder import Ladder
from rung.engine.session import Session
from rung.tiers.anthropic import AnthropicTier
from rung.tiers.local import LocalTier
from tests.fakes import Send, Sleep, anthropic_head, anthropic_piece, anthropic_tail


def conversation_on(tier, name: str) -> tuple[Conversation, list[LiveCost]]:  # type: ignore[no-untyped-def]
    config = load_config()
    config.set("ladder", "rungs", [name])
    seen: list[LiveCost] = []
    conversation = Conversation(
        Ladder(config, reuse={name: tier}), Session(config, "test"), ChatOptions(max_tokens=200)
    )
    conversation.add_listener(lambda e: seen.append(e) if isinstance(e, LiveCost) else None)
    return conversation, seen


async def test_anthropic_live_cost_uses_the_input_sent_at_the_start(servers) -> None:
    pieces = [f"word{i} " for i in range(12)]
    script = anthropic_head(input_tokens=4000, cache_write=6000)
    for piece in pieces:  # slow enough for the live meter to tick in between
        script += [Send(anthropic_piece(piece)), Sleep(0.05)]
    api = servers(lambda r: script + anthropic_tail(40))
    tier = AnthropicTier(name="anthropic", label="Anthropic", base_url=api.url + "/v1",
                         model="claude-sonnet-4-6", api_key="sk-ant-test-live")  # fmt: skip
    conversation, seen = conversation_on(tier, "anthropic")
    plan = conversation.prepare("Summarise the attached design doc.")
    assert isinstance(plan, Plan)
    outcome = await conversation.run(plan)
    final = outcome.final.record.cost.usd
    assert final is not None and len(seen) >= 3
    # From the first tick on, the exact input (with its 6,000 cache-write tokens) counts.
    assert seen[0].record.usage.input_tokens == 10_000
    costs = [live.record.cost.usd for live in seen]
    assert all(c is not None for c in costs)
    assert costs == sorted(costs)  # only upward
    assert costs[0] >= final * 9 / 10  # the input is most of it: close from the start
    assert costs[-1] <= final
    await tier.aclose()
    conversation.session.close()


async def test_local_live_token_count_never_goes_down(local_tier: LocalTier) -> None:
    conversation, seen = conversation_on(local_tier, "local")
    plan = conversation.prepare("Write a short poem about the sea.")
    assert isinstance(plan, Plan)
    outcome = await conversation.run(plan)
    final = outcome.final.reply.usage
    assert not final.estimated
    outs = [live.record.usage.output_tokens for live in seen]
    ins = {live.record.usage.input_tokens for live in seen}
    assert outs == sorted(outs) and outs[-1] <= final.output_tokens
    assert ins == {final.input_tokens}  # exact from the first tick
    conversation.session.close()
