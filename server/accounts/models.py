"""No models of its own: users and groups are Django's. The module exists so that migrate sends this app a
post_migrate signal (which creates the role groups)."""
