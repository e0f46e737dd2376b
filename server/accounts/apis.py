"""Session login for the SPA (session cookie + CSRF), and user management for admins."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import authenticate, get_user_model, login, logout
from django.contrib.auth.models import AbstractUser
from django.db.models import QuerySet
from django.middleware.csrf import get_token
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_protect, ensure_csrf_cookie
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from server.accounts import services, throttle
from server.accounts.roles import user_roles
from server.accounts.serializers import CsrfSerializer, LoginSerializer, MeSerializer, UserSerializer
from server.accounts.sites import allowed_site_ids
from server.errors import ApplicationError

logger = logging.getLogger(__name__)


def me_payload(user: Any) -> dict[str, Any]:
    return {
        "id": user.pk,
        "username": user.get_username(),
        "roles": user_roles(user),
        "permissions": sorted(user.get_all_permissions()),
        "is_superuser": bool(user.is_superuser),
        "sites": None if (allowed := allowed_site_ids(user)) is None else sorted(allowed),
    }


@method_decorator(ensure_csrf_cookie, name="dispatch")
class CsrfApi(APIView):
    """Sets the `csrftoken` cookie; the SPA sends it back in the X-CSRFToken header on writes."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(responses={200: CsrfSerializer})
    def get(self, request: Request) -> Response:
        return Response({"csrf_token": get_token(request)})


@method_decorator(csrf_protect, name="dispatch")
class LoginApi(APIView):
    """Log in with username and password: starts a session (cookie). CSRF-protected."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list[type] = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(request=LoginSerializer, responses={200: MeSerializer})
    def post(self, request: Request) -> Response:
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(
            request._request,
            username=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
        )
        refusal: throttle.Refusal | None = getattr(request._request, "login_refusal", None)
        if user is None and refusal is not None:
            raise exceptions.Throttled(wait=refusal.retry_after_s, detail=refusal.message, code=refusal.code)
        if user is None:
            logger.info("failed login for %r", serializer.validated_data["username"])
            raise ApplicationError("Wrong username or password.", code="invalid_credentials")
        login(request._request, user)
        return Response(me_payload(user))


class LogoutApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


@method_decorator(ensure_csrf_cookie, name="dispatch")
class MeApi(APIView):
    """Who is logged in: username, roles and permissions (403 when nobody is)."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={200: MeSerializer})
    def get(self, request: Request) -> Response:
        return Response(me_payload(request.user))


class UserViewSet(viewsets.ModelViewSet[AbstractUser]):
    """Dashboard users and their roles (admins only); `unlock` lifts a lockout after failed logins."""

    queryset = get_user_model().objects.all()
    serializer_class = UserSerializer
    filterset_fields = ["is_active", "username"]
    required_permissions = {"unlock": ("auth.change_user",)}
    ordering_fields = ["id", "username"]

    def get_queryset(self) -> QuerySet[AbstractUser]:
        return get_user_model().objects.prefetch_related("groups", "site_access__sites").order_by("id")

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.user_create(actor=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer: Any) -> None:
        serializer.instance = services.user_update(
            actor=self.request.user, user=serializer.instance, data=serializer.validated_data
        )

    def perform_destroy(self, instance: AbstractUser) -> None:
        services.user_delete(actor=self.request.user, user=instance)

    @extend_schema(request=None, responses={200: UserSerializer})
    @action(detail=True, methods=["post"])
    def unlock(self, request: Request, pk: str | None = None) -> Response:
        user = self.get_object()
        services.user_unlock(actor=request.user, user=user)
        return Response(UserSerializer(user).data)
