"""What the alarm pipeline asks the outside world to do once its transaction has committed.

The pipeline and the alarm services never push to consoles or command boxes themselves: they
return ``Effect`` values, the caller commits, and only then runs them with ``run_effects``.
So a console never hears of an alarm that was rolled back, and a box is never told "help is
coming" for an acknowledgement that did not stick. Effects are plain frozen dataclasses (a
closed union, easy to assert on in tests and to log):

* ``Push`` - a message to the consoles through the live hub (``roles`` narrows who gets it);
* ``BoxCommand`` - a command to one box through the device link
  (``app.state.box_link.send_command(box_code, command)``), e.g. ``{"cmd": "help_coming"}``.

``run_effects`` never raises: the state is committed already, and a console that missed a push
resynchronises from the snapshot it gets on reconnect, while a box command that failed is
logged (the box keeps its local state until it hears otherwise).

The device link uses it like this::

    async with db.write() as session:
        ...insert the BoxEvent (deduped by event_id)...
        effects = await on_box_event(session, box=box, event=event, settings=settings)
    await run_effects(effects, live_hub=app.state.live_hub, box_link=app.state.box_link)
    ...then ack the event to the box...
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from safezone.auth.roles import Role
from safezone.live.hub import LiveHub

log = logging.getLogger(__name__)

# Consoles that follow alarms: station staff (patrol officers see alarms near them too).
LIVE_ROLES: frozenset[Role] = frozenset(
    {Role.admin, Role.supervisor, Role.operator, Role.patrol}
)
# Who answers alarms at the console.
RESPONDERS: frozenset[Role] = frozenset({Role.admin, Role.supervisor, Role.operator})
# Who is told when an alarm goes unanswered.
SUPERVISORS: frozenset[Role] = frozenset({Role.admin, Role.supervisor})


@dataclass(frozen=True, slots=True)
class Push:
    """A message for the consoles (``roles`` None: every subscriber)."""

    type: str
    payload: dict[str, Any]
    roles: frozenset[Role] | None = LIVE_ROLES


@dataclass(frozen=True, slots=True)
class BoxCommand:
    """A downstream command to one SOS box (by its code, which names its MQTT topics)."""

    box_code: str
    command: dict[str, Any] = field(default_factory=dict)


Effect = Push | BoxCommand


class BoxLink(Protocol):
    """The device link's side of the contract (implemented in ``safezone.sos.link``)."""

    def send_command(self, box_code: str, command: dict[str, Any]) -> Awaitable[None] | None:
        """Queue or send ``command`` to the box; may be a coroutine function."""


async def run_effects(
    effects: Iterable[Effect],
    *,
    live_hub: LiveHub | None,
    box_link: BoxLink | None,
) -> None:
    """Carry out committed effects in order; failures are logged, never raised."""
    for effect in effects:
        try:
            if isinstance(effect, Push):
                if live_hub is not None:
                    live_hub.publish(effect.type, effect.payload, roles=effect.roles)
            elif box_link is None:
                log.info("no device link: %s for box %s not sent", effect.command, effect.box_code)
            else:
                result = box_link.send_command(effect.box_code, effect.command)
                if inspect.isawaitable(result):
                    await result
        except Exception:  # noqa: BLE001 - committed already; report and go on
            log.exception("effect %r failed", effect)


async def run_effects_on(state: Any, effects: Iterable[Effect]) -> None:
    """``run_effects`` with the hub and link found on an app's ``state`` (either may be unset)."""
    await run_effects(
        effects,
        live_hub=getattr(state, "live_hub", None),
        box_link=getattr(state, "box_link", None),
    )
