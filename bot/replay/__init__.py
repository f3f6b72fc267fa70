"""The replay report (`firebreak replay`): a text table, JSON, and an HTML page from a template."""
