from tests.integration.api.conftest import _fresh_login_limits, _media_root, client_for, store, users

__all__ = ["_fresh_login_limits", "_media_root", "client_for", "store", "users"]
