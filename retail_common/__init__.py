"""Pure helpers that the edge agent and the server must agree on, written once: image↔floor homographies
(fitting, orientation, projection), polygon validity and containment, and the rules that keep camera logins out
of logs. NumPy and the standard library only; imports neither ``edge_agent`` nor ``server`` (``.importlinter``).

Each side turns :class:`retail_common.errors.GeometryError` into its own error type (the edge's
``edge_agent.errors.GeometryError``, the server's field error), so the messages a person reads are the same on
both sides.
"""
