"""Panels that run the trained model do it only while someone can see them.

The training worker hands over a weights snapshot after every epoch. Encoding
a map of codes or scoring a validation set costs tens of milliseconds of GUI
thread time (and GIL time the trainer waits for), so a hidden panel only keeps
the newest snapshot and uses it when it is shown.
"""
from __future__ import annotations


class WeightsWhenShown:
    """Mixin for a QWidget (list it first): ``set_weights`` keeps the newest (spec, state_dict)
    and calls ``use_weights(spec, state_dict)`` now if the widget is visible, else when it is shown."""

    _pending = None

    def set_weights(self, payload) -> None:
        self._pending = payload
        if self.isVisible():
            self._apply_pending()

    def forget_weights(self) -> None:
        self._pending = None

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self._apply_pending()

    def _apply_pending(self) -> None:
        payload, self._pending = self._pending, None
        if payload is not None:
            spec, state_dict = payload
            self.use_weights(spec, state_dict)

    def use_weights(self, spec, state_dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} must say what it does with new weights")
