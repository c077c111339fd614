"""`neural` services: the router picks the tier (lightweight or powerful) a request deserves.

A client names `auto` or the model of a tiered instance; the request then goes to an instance of
the chosen tier, whatever its model, and the upstream body names that instance's model. With no
instance in the chosen tier the other tier answers. A model outside the tiers is served by name,
like in any other service.
"""

from typing import Any

from routing.neural.embedding import prompt_text
from routing.neural_runtime import NeuralDecision, runtime
from routing.service_types import Tier
from routing.snapshot import InstanceSpec, LiveConfig, ServiceSpec

AUTO_MODEL = "auto"
_OTHER = {Tier.LIGHTWEIGHT: Tier.POWERFUL, Tier.POWERFUL: Tier.LIGHTWEIGHT}


async def neural_candidates(
    config: LiveConfig, service: ServiceSpec, model: str, payload: dict[str, Any] | None
) -> tuple[tuple[InstanceSpec, ...], NeuralDecision | None]:
    tiered = model == AUTO_MODEL or any(
        instance.name == model for group in service.by_tier.values() for instance in group
    )
    if not tiered or payload is None:
        return service.candidates(model), None
    decision = await runtime.adecide(
        config.router,
        service_type=service.service_type,
        text=prompt_text(payload),
        metadata={"model": model},
    )
    chosen = service.by_tier.get(decision.tier) or service.by_tier.get(
        _OTHER[Tier(decision.tier)], ()
    )
    return chosen, decision
