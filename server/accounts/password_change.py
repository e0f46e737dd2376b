"""The Django admin's "change my password" page with its old-password check behind the login limits.

Django's form checks the old password with `user.check_password`, outside `authenticate()`: a stolen admin
session could guess the password there without limit (one slow hash per guess). Here the check goes through the
one authentication backend (`server.accounts.backends`), so it counts against the account and the client address
and is refused, without a hash, while either is locked.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminPasswordChangeForm
from django.contrib.auth import authenticate
from django.contrib.auth.views import PasswordChangeView
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponseBase
from django.urls import reverse


class LimitedPasswordChangeForm(AdminPasswordChangeForm):
    def __init__(self, user: Any, *args: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        self.request = request

    def clean_old_password(self) -> str:
        old_password = str(self.cleaned_data["old_password"])
        checked = authenticate(self.request, username=self.user.get_username(), password=old_password)
        if checked is not None and checked.pk == self.user.pk:
            return old_password
        refusal = getattr(self.request, "login_refusal", None)
        if refusal is not None:
            raise ValidationError(refusal.message, code=refusal.code)
        raise ValidationError(self.error_messages["password_incorrect"], code="password_incorrect")


class _LimitedPasswordChangeView(PasswordChangeView):
    form_class = LimitedPasswordChangeForm

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs["request"] = self.request
        return kwargs


def admin_password_change(request: HttpRequest) -> HttpResponseBase:
    """What `AdminSite.password_change` does, with the limited form (mounted before `admin.site.urls`)."""
    request.current_app = admin.site.name
    view = _LimitedPasswordChangeView.as_view(
        success_url=reverse("admin:password_change_done", current_app=admin.site.name),
        extra_context=admin.site.each_context(request),
    )
    return view(request)
