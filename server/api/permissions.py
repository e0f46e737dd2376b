"""Role checks: every endpoint maps a request to Django permissions, which the role groups hold.

Viewsets on a model need `<app>.view_<model>` to read and `add_`/`change_`/`delete_` to write; extra actions
and plain API views declare what they need in `required_permissions` (keyed by action name or HTTP method).
Anonymous requests are refused (403).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Model
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

if TYPE_CHECKING:  # importing rest_framework.views here would be circular (DRF loads this from its settings)
    from rest_framework.views import APIView

_ACTION_VERB = {
    "list": "view",
    "retrieve": "view",
    "create": "add",
    "update": "change",
    "partial_update": "change",
    "destroy": "delete",
    "metadata": "view",
}
_METHOD_VERB = {"POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "delete"}


def _model_permission(model: type[Model], verb: str) -> str:
    return f"{model._meta.app_label}.{verb}_{model._meta.model_name}"


def required_permissions(request: Request, view: APIView) -> tuple[str, ...] | None:
    """The permissions a request needs, or None when the view declares nothing for it (then it is refused)."""
    declared: dict[str, tuple[str, ...]] = getattr(view, "required_permissions", {})
    action: str | None = getattr(view, "action", None)
    if action is not None and action in declared:
        return declared[action]
    if request.method in declared:
        return declared[str(request.method)]
    queryset: Any = getattr(view, "queryset", None)
    if queryset is None:
        return None
    model: type[Model] = queryset.model
    if action is not None and action in _ACTION_VERB:
        return (_model_permission(model, _ACTION_VERB[action]),)
    if action is None:
        verb = "view" if request.method in SAFE_METHODS else _METHOD_VERB.get(str(request.method))
        return None if verb is None else (_model_permission(model, verb),)
    return None


class RolePermission(BasePermission):
    message = "Your role does not allow this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        required = required_permissions(request, view)
        if required is None:
            return bool(user.is_superuser)
        return bool(user.has_perms(required))
