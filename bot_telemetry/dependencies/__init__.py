"""Dependencies layer: recognizers, Q&A, storage and middleware as dependency spans, custom
events and trace activities. Every wrapper reports through ``call.dependency_call``."""
