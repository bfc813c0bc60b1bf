"""Service modules of the back office: the views call these, templates get plain values."""
