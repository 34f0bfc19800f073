"""The built-in plugins. Each registers through the ``audit_trail.plugins`` entry-point
group, exactly like a third-party plugin, and can be disabled the same way
(``AUDIT_PLUGINS=-pii``)."""
