"""`identities_changed`: sent after a commit that changes who a tracked person is (a binding made or ended) or
what an employee may do (level, grants, active). The process runtime listens and reloads the identities of the
site at once, so the live map and the access checks follow a binding within a frame instead of at the next
periodic refresh (every few seconds, which still covers server processes that did not see the change).

`site_id` is the site concerned, or None for a change that may concern every site (an employee's level).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.dispatch import Signal

identities_changed = Signal()

#: Sent inside the transaction that binds tracked person `person_id` of `site_id` to an employee (keyword
#: arguments `site_id`, `person_id`): the analytics records re-mark what they hold of that person as staff's.
person_bound = Signal()

#: Sent inside the transaction that revokes a binding of tracked person `person_id` of `site_id` (an unbind, not a
#: binding superseded by a newer one; keyword arguments `site_id`, `person_id`): the analytics records un-mark what
#: the binding marked as staff's, unless another binding not revoked still makes the person staff. A receiver
#: returns the number of records it changed (recorded in the unbind's audit entry).
person_unbound = Signal()


def changed_records(responses: Sequence[tuple[object, object]]) -> int:
    """The records changed, summed over the receivers' responses of `person_bound` or `person_unbound`."""
    return sum(response for _, response in responses if isinstance(response, int))


def identities_changed_on_commit(site_id: int | None) -> None:
    """Send `identities_changed` once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: identities_changed.send(sender=None, site_id=site_id))
