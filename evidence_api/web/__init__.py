"""Server-rendered review pages (Jinja2 templates + static CSS, no JavaScript framework)."""
