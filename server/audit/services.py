"""Recording administrative changes, and the create/update/delete helpers that record them."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models.fields.files import FieldFile

from server.audit.models import AuditLog

logger = logging.getLogger(__name__)

Actor = AbstractBaseUser | AnonymousUser | None
M = TypeVar("M", bound=models.Model)

# Never copied into the audit log.
SECRET_FIELDS = frozenset(
    {
        "password",
        "secret_hash",
        "enrollment_token_hash",
        "source_username",
        "source_password",
        "source_secret_query",
        "source_secret_parameters",
    }
)


def _json_safe(value: Any) -> Any:
    if isinstance(value, FieldFile):
        return value.name or ""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def field_values(instance: models.Model) -> dict[str, Any]:
    """The concrete field values of `instance` (foreign keys as ids), JSON-safe, secrets left out."""
    values: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if field.name in SECRET_FIELDS:
            continue
        values[field.name] = _json_safe(getattr(instance, field.attname))
    return values


def object_type(instance: models.Model) -> str:
    return f"{instance._meta.app_label}.{instance._meta.model_name}"


def audit_record(
    *, actor: Actor, action: str, instance: models.Model, changes: Mapping[str, Any] | None = None
) -> AuditLog:
    user: Any = actor if isinstance(actor, AbstractBaseUser) else None
    entry = AuditLog.objects.create(
        actor=user,
        actor_username=user.get_username() if user is not None else "",
        action=action,
        object_type=object_type(instance),
        object_id=str(instance.pk),
        object_repr=str(instance)[:200],
        changes=_json_safe(dict(changes or {})),
    )
    logger.info("audit: %s %s %s#%s", entry.actor_username or "-", action, entry.object_type, entry.object_id)
    return entry


@transaction.atomic
def audited_create(*, actor: Actor, instance: M) -> M:
    """Validate (`full_clean`) and save a new instance, recording a `create` entry."""
    instance.full_clean()
    instance.save()
    audit_record(actor=actor, action="create", instance=instance, changes=field_values(instance))
    return instance


@transaction.atomic
def audited_update(*, actor: Actor, instance: M, data: Mapping[str, Any], action: str = "update") -> M:
    """Set the given fields, validate and save; records `{field: [old, new]}` of what really changed."""
    before = field_values(instance)
    for name, value in data.items():
        setattr(instance, name, value)
    instance.full_clean()
    instance.save()
    after = field_values(instance)
    changes = {name: [before.get(name), value] for name, value in after.items() if before.get(name) != value}
    if changes:
        audit_record(actor=actor, action=action, instance=instance, changes=changes)
    return instance


@transaction.atomic
def audited_delete(*, actor: Actor, instance: models.Model) -> None:
    audit_record(actor=actor, action="delete", instance=instance, changes=field_values(instance))
    instance.delete()


def audit_record_many(
    *, actor: Actor, action: str, instances: list[models.Model], changes: Mapping[str, Any] | None = None
) -> int:
    """One entry per instance, written in one statement (bulk actions); returns how many."""
    user: Any = actor if isinstance(actor, AbstractBaseUser) else None
    username = user.get_username() if user is not None else ""
    safe = _json_safe(dict(changes or {}))
    AuditLog.objects.bulk_create(
        AuditLog(
            actor=user,
            actor_username=username,
            action=action,
            object_type=object_type(instance),
            object_id=str(instance.pk),
            object_repr=str(instance)[:200],
            changes=safe,
        )
        for instance in instances
    )
    logger.info("audit: %s %s %d objects", username or "-", action, len(instances))
    return len(instances)
