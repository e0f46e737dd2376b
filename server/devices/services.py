"""Edge-device identity: enrollment tokens, credentials, revocation and the configuration sent to a device.

Tokens and secrets are 256-bit random values; only their SHA-256 is stored (a fast hash is right for
high-entropy secrets, and it keeps authentication of every stream cheap).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from server.audit.services import Actor, audit_record, audited_create, audited_delete, audited_update
from server.devices.models import EdgeDevice
from server.devices.signals import device_credentials_revoked
from server.errors import ApplicationError
from server.inventory.models import Camera, Site

logger = logging.getLogger(__name__)

DEFAULT_TOKEN_LIFETIME = timedelta(hours=24)
MAX_TOKEN_LIFETIME = timedelta(days=30)


class DeviceError(ApplicationError):
    """Base of the typed errors of this module (400 in the API); `code` is stable for API clients."""

    code = "device_error"


class EnrollmentRejected(DeviceError):  # noqa: N818 - name used by the ingest
    code = "enrollment_rejected"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedToken:
    device: EdgeDevice
    token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class DeviceCredentials:
    device_id: int
    secret: str


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """What the ingest needs to know about an authenticated device."""

    device_id: int
    site_id: int
    camera_ids: frozenset[int]
    config_revision: int


@transaction.atomic
def device_create(*, site: Site, name: str, actor: Actor = None) -> EdgeDevice:
    return audited_create(actor=actor, instance=EdgeDevice(site=site, name=name))


@transaction.atomic
def device_issue_enrollment_token(
    *, device: EdgeDevice, lifetime: timedelta = DEFAULT_TOKEN_LIFETIME, actor: Actor = None
) -> IssuedToken:
    """Issue a new one-time token for `device` (replacing any unused one). Shown once; stored hashed."""
    if lifetime <= timedelta(0) or lifetime > MAX_TOKEN_LIFETIME:
        raise DeviceError(f"token lifetime must be positive and at most {MAX_TOKEN_LIFETIME.days} days")
    token = secrets.token_urlsafe(32)
    expires_at = timezone.now() + lifetime
    device.enrollment_token_hash = hash_secret(token)
    device.enrollment_token_expires_at = expires_at
    device.save(update_fields=["enrollment_token_hash", "enrollment_token_expires_at"])
    audit_record(
        actor=actor, action="issue_token", instance=device, changes={"expires_at": expires_at.isoformat()}
    )
    return IssuedToken(device=device, token=token, expires_at=expires_at)


@transaction.atomic
def device_enroll(*, token: str, hostname: str = "", software_version: str = "") -> DeviceCredentials:
    """Exchange a one-time token for device credentials. The token is consumed; a second use fails."""
    if not token or len(token) > 200:
        raise EnrollmentRejected("The enrollment token is empty or too long.")
    device = EdgeDevice.objects.select_for_update().filter(enrollment_token_hash=hash_secret(token)).first()
    if device is None:
        raise EnrollmentRejected("Unknown or already used enrollment token.")
    if device.enrollment_token_expires_at is None or device.enrollment_token_expires_at < timezone.now():
        raise EnrollmentRejected("The enrollment token has expired; ask an admin for a new one.")
    secret = secrets.token_urlsafe(32)
    device.secret_hash = hash_secret(secret)
    device.enrollment_token_hash = ""
    device.enrollment_token_expires_at = None
    device.enrolled_at = timezone.now()
    device.revoked_at = None
    device.hostname = hostname[:253]
    device.software_version = software_version[:64]
    device.save()
    audit_record(actor=None, action="enroll", instance=device, changes={"hostname": device.hostname})
    return DeviceCredentials(device_id=device.pk, secret=secret)


def device_set_credentials(*, device: EdgeDevice, secret: str) -> None:
    """Set a known secret (used by the demo and tests, which launch an agent with fixed credentials)."""
    device.secret_hash = hash_secret(secret)
    device.enrolled_at = device.enrolled_at or timezone.now()
    device.revoked_at = None
    device.save(update_fields=["secret_hash", "enrolled_at", "revoked_at"])


@transaction.atomic
def device_revoke(*, device: EdgeDevice, actor: Actor = None) -> None:
    """Revoke the device's credentials and any unused enrollment token. Once committed, the ingest of this process
    closes the device's open streams at once (`device_credentials_revoked`), another process at its next re-check.
    A new token (`device_issue_enrollment_token`) re-provisions the box."""
    device.revoked_at = timezone.now()
    device.enrollment_token_hash = ""
    device.enrollment_token_expires_at = None
    device.save(update_fields=["revoked_at", "enrollment_token_hash", "enrollment_token_expires_at"])
    audit_record(
        actor=actor, action="revoke", instance=device, changes={"revoked_at": device.revoked_at.isoformat()}
    )
    logger.info("device %d revoked", device.pk)
    _announce_revocation(device.pk)


def _announce_revocation(device_id: int) -> None:
    transaction.on_commit(
        lambda: device_credentials_revoked.send(sender=EdgeDevice, device_id=device_id), robust=True
    )


@transaction.atomic
def device_replace(
    *, device: EdgeDevice, lifetime: timedelta = DEFAULT_TOKEN_LIFETIME, actor: Actor = None
) -> IssuedToken:
    """Replace the device's box: the current box's credentials stop working now (its open stream is closed at the
    ingest's next re-check) and a new one-time token is issued for the new box. The device keeps its cameras, their
    configuration and their data; the new box's fresh spool starts a new sequence epoch, so its frames are stored,
    not taken for replays of the old box's. Nothing needs to be revoked afterwards."""
    device.secret_hash = ""
    device.save(update_fields=["secret_hash"])
    issued = device_issue_enrollment_token(device=device, lifetime=lifetime, actor=actor)
    audit_record(
        actor=actor, action="replace", instance=device, changes={"expires_at": issued.expires_at.isoformat()}
    )
    logger.info("device %d: box replaced, old credentials invalidated", device.pk)
    return issued


def device_authenticate(*, device_id: int, secret: str) -> DeviceIdentity | None:
    """Return the identity of an enrolled, non-revoked device whose secret matches, else None."""
    device = EdgeDevice.objects.filter(pk=device_id).first()
    if device is None or not device.is_active:
        return None
    if not hmac.compare_digest(device.secret_hash, hash_secret(secret)):
        return None
    camera_ids = frozenset(Camera.objects.filter(device=device).values_list("id", flat=True))
    return DeviceIdentity(
        device_id=device.pk,
        site_id=device.site_id,
        camera_ids=camera_ids,
        config_revision=device.config_revision,
    )


def device_record_seen(*, device_id: int, health: dict[str, object] | None = None) -> None:
    """The box was heard from; a heartbeat's health replaces the last one. The software version the heartbeat
    names becomes the device's (the inventory showed the version of enrollment for ever, through upgrades, and
    nothing for a box provisioned without the enrollment call)."""
    fields: dict[str, object] = {"last_seen_at": timezone.now()}
    if health is not None:
        fields["health"] = health
        version = health.get("software_version")
        if isinstance(version, str) and version:
            fields["software_version"] = version[: EdgeDevice._meta.get_field("software_version").max_length]
    EdgeDevice.objects.filter(pk=device_id).update(**fields)


def device_bump_config_revision(*, device_id: int) -> None:
    """Mark the device's configuration as changed; the ingest pushes the new one on the open stream."""
    EdgeDevice.objects.filter(pk=device_id).update(config_revision=F("config_revision") + 1)


@transaction.atomic
def device_update(*, device: EdgeDevice, data: dict[str, object], actor: Actor = None) -> EdgeDevice:
    return audited_update(actor=actor, instance=device, data=data)


@transaction.atomic
def device_delete(*, device: EdgeDevice, actor: Actor = None) -> None:
    device_id = device.pk
    audited_delete(actor=actor, instance=device)
    _announce_revocation(device_id)
