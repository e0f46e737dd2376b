"""A ModelAdmin base that writes the project's audit log for changes made in the Django admin."""

from __future__ import annotations

from typing import Any, TypeVar

from django import forms
from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from server.audit.services import audit_record, field_values

M = TypeVar("M", bound=models.Model)


class AuditedModelAdmin(admin.ModelAdmin[M]):
    def save_model(self, request: HttpRequest, obj: M, form: forms.ModelForm[M], change: bool) -> None:
        super().save_model(request, obj, form, change)
        values = field_values(obj)
        if change:
            changes: dict[str, Any] = {name: values.get(name) for name in form.changed_data if name in values}
            if changes:
                audit_record(actor=request.user, action="update", instance=obj, changes=changes)
        else:
            audit_record(actor=request.user, action="create", instance=obj, changes=values)

    def delete_model(self, request: HttpRequest, obj: M) -> None:
        audit_record(actor=request.user, action="delete", instance=obj, changes=field_values(obj))
        super().delete_model(request, obj)
