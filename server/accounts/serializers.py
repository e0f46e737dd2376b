from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from rest_framework import serializers

from server.accounts import throttle
from server.accounts.roles import ROLES, user_roles
from server.accounts.sites import user_site_access
from server.inventory.models import Site

User = get_user_model()


class UserSerializer(serializers.ModelSerializer[AbstractUser]):
    roles = serializers.ListField(child=serializers.ChoiceField(choices=list(ROLES)), required=False)
    password = serializers.CharField(write_only=True, required=False, style={"input_type": "password"})
    all_sites = serializers.BooleanField(
        required=False, help_text="Allowed on every site (admins always are); false: only on `sites`."
    )
    sites = serializers.PrimaryKeyRelatedField(
        many=True,
        required=False,
        queryset=Site.objects.all(),
        help_text="The sites the user is allowed on when `all_sites` is false (per-site permissions).",
    )
    locked_until = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="End of a lockout after failed logins (null: not locked)."
    )

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "is_active",
            "is_superuser",
            "roles",
            "all_sites",
            "sites",
            "password",
            "locked_until",
            "last_login",
            "date_joined",
        ]
        read_only_fields = ["is_superuser", "last_login", "date_joined"]

    def to_representation(self, instance: AbstractUser) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["roles"] = user_roles(instance)
        data.update(user_site_access(instance))
        until = throttle.locked_until(instance.get_username())
        data["locked_until"] = (
            None
            if until is None
            else dt.datetime.fromtimestamp(until, tz=dt.UTC).isoformat(timespec="seconds")
        )
        return data

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None and not attrs.get("password"):
            raise serializers.ValidationError({"password": ["A password is required for a new user."]})
        return attrs


class LoginSerializer(serializers.Serializer[dict[str, str]]):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, style={"input_type": "password"})


class MeSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.IntegerField()
    sites = serializers.ListField(
        child=serializers.IntegerField(),
        allow_null=True,
        help_text="The ids of the sites the user is allowed on; null: every site.",
    )
    username = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())
    permissions = serializers.ListField(child=serializers.CharField())
    is_superuser = serializers.BooleanField()


class CsrfSerializer(serializers.Serializer[dict[str, str]]):
    csrf_token = serializers.CharField()
