"""Unbinding keeps to the user's sites: a staff user allowed on site A cannot make a person of site B a visitor
again (404 as for a binding that does not exist), and B's records and audit stay as they were."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from server.accounts.sites import site_access_set
from server.audit.models import AuditLog
from server.insights.models import LineCount
from server.inventory.models import Zone, ZoneKind
from server.people.models import IdentityBinding
from server.people.services import identity_bind
from tests.integration.api.conftest import make_user
from tests.integration.api.test_staff_after_visit import BUCKET, _records, _staff_flags

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_staff_of_site_a_cannot_unbind_a_person_of_site_b(store: dict[str, Any]) -> None:
    site_b = store["other_site"]
    door = Zone.objects.create(site=site_b, name="B door", kind=ZoneKind.DOOR, polygon=[[4, 15], [4, 18]])
    _records(site_b, door, 41, ended=True)
    LineCount.objects.create(
        site=site_b, line=door, line_name=door.name, entrance=True, start=BUCKET, in_count=1
    )
    binding = identity_bind(actor=None, site=site_b, person_id=41, employee=store["employee"])
    user = make_user("staff-of-a-unbinds", "staff")
    site_access_set(user=user, all_sites=False, site_ids=[store["site"].pk])
    client = APIClient()
    client.force_authenticate(user)

    response = client.post(f"/api/identity-bindings/{binding.pk}/unbind")
    assert response.status_code == 404, response.content
    assert not IdentityBinding.objects.get(pk=binding.pk).revoked
    assert IdentityBinding.objects.get(pk=binding.pk).unbound_at is None
    assert _staff_flags(site_b, 41) == {True}
    assert LineCount.objects.get(site=site_b, line=door).staff_in == 1
    assert not AuditLog.objects.filter(action="unbind").exists()
    # Nor by binding the person of B anew (a body naming site B).
    response = client.post(
        "/api/identity-bindings",
        {"site": site_b.pk, "person_id": 41, "employee": store["employee"].pk},
        format="json",
    )
    assert response.status_code == 403, response.content
    assert IdentityBinding.objects.filter(site=site_b).count() == 1
