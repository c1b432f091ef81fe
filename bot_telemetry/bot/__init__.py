"""Bot layer: the turn span and BotMessage* events (``TelemetryMiddleware``), an OpenTelemetry
``BotTelemetryClient`` for botbuilder's own components, the dialog-tree helper and the
telemetry contract's names (``contract``)."""
