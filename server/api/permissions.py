"""Role checks: every endpoint maps a request to Django permissions, which the role groups hold.

Viewsets on a model need `<app>.view_<model>` to read and `add_`/`change_`/`delete_` to write; extra actions
and plain API views declare what they need in `required_permissions` (keyed by action name or HTTP method).
Anonymous requests are refused (403).

Per-site permissions (server.accounts.sites) come on top: a request naming a site the user is not allowed on is
refused (404 for a site in the URL, as for a site that does not exist; 403 for a site in the body), and
`SiteFilterBackend` (the first default filter backend) keeps every listing and detail lookup to the user's sites.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Model, QuerySet
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.filters import BaseFilterBackend
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from server.accounts.sites import restrict_to_sites, site_allowed

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
        allowed = bool(user.is_superuser) if required is None else bool(user.has_perms(required))
        if allowed:
            check_named_sites(request, view)
        return allowed


def _site_id(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None  # not an id: the serializer's validation answers it


def check_named_sites(request: Request, view: APIView) -> None:
    """Refuse a request that names a site the user is not allowed on."""
    kwargs: dict[str, Any] = getattr(view, "kwargs", None) or {}
    url_site = _site_id(kwargs.get("site_id"))
    if url_site is not None and not site_allowed(request.user, url_site):
        raise NotFound(f"site {url_site} does not exist")
    if request.method in SAFE_METHODS:
        return
    data = request.data
    body_site = _site_id(data.get("site")) if hasattr(data, "get") else None
    if body_site is not None and not site_allowed(request.user, body_site):
        raise PermissionDenied(f"You are not allowed on site {body_site}.")


class SiteFilterBackend(BaseFilterBackend):
    """Keeps a viewset's rows to the user's sites (models with a `site` foreign key, and sites themselves)."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: APIView) -> QuerySet[Any]:
        return restrict_to_sites(queryset, request.user)
