"""The nlu service: intent recognition with a LUIS v3 prediction-shaped API."""

from .model import IntentModel, Prediction, load_model

__all__ = ["IntentModel", "Prediction", "load_model"]
