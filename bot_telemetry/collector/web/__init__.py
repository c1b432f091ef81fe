"""The web UI: a JSON API over the store and the static pages that draw it."""
