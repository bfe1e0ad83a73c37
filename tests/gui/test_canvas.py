"""The Draw tab's image mode: a clean layer the user draws on, a seeded noise layer over it (or only
where the noise brush stroked), and four aligned panels (clean, noisy, reconstruction, error) with
PSNR/SSIM readouts, undo/redo, tablet pressure, a colour brush and files."""
from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QPointingDevice, QTabletEvent
from PySide6.QtWidgets import QApplication

from aegui.core.canvas_ops import apply_noise, mnist_preprocess, noise_layer, psnr, ssim
from aegui.core.data.dataset import Dataset
from aegui.core.presets import fit_to_input, get_preset
from aegui.core.run import DatasetRef, RunArtifact
from aegui.core.training.loop import Trainer
from aegui.gui.state import AppState

WAIT_MS = 20_000


@pytest.fixture(scope="module")
def denoising_run(mnist600):
    """The `denoising` preset trained 3 epochs on mnist600, as a run the canvas can use."""
    spec = fit_to_input(get_preset("denoising"), mnist600.kind, mnist600.sample_shape, mnist600.in_unit_range)
    spec.train.epochs, spec.train.batch_size = 3, 32  # 57 steps
    trainer = Trainer(spec, mnist600)
    trainer.fit()
    return RunArtifact.from_trainer(trainer, DatasetRef.from_dataset(mnist600))


@pytest.fixture
def canvas(qtbot, mnist600, denoising_run):
    from aegui.gui.panels.canvas import DrawCanvas

    panel = DrawCanvas(AppState(denoising_run.spec.copy(), mnist600))
    qtbot.addWidget(panel)
    panel.resize(1200, 620)
    panel.show()
    qtbot.waitExposed(panel)
    yield panel
    qtbot.waitUntil(lambda: not panel._timer.isActive(), timeout=WAIT_MS)
    assert panel.shutdown()


def with_model(qtbot, canvas, run) -> None:
    canvas.set_weights(run)
    qtbot.waitUntil(lambda: canvas.model is not None, timeout=WAIT_MS)


def settle(qtbot, canvas) -> None:
    qtbot.waitUntil(lambda: not canvas._timer.isActive(), timeout=WAIT_MS)


def pixel_pos(paint, row: float, col: float) -> QPoint:
    rect = paint.picture_rect()
    side = rect.width() / paint.image.shape[2]
    return QPoint(int(rect.left() + (col + 0.5) * side), int(rect.top() + (row + 0.5) * side))


def test_a_stroke_changes_the_clean_layer_where_drawn_and_undo_restores_it_exactly(qtbot, canvas):
    paint, controls = canvas.paint, canvas.controls
    before = paint.image.copy()
    qtbot.mousePress(paint, Qt.MouseButton.LeftButton, pos=pixel_pos(paint, 10, 20))
    qtbot.mouseRelease(paint, Qt.MouseButton.LeftButton, pos=pixel_pos(paint, 10, 20))
    drawn = paint.image.copy()
    assert drawn.shape == (1, 28, 28)
    assert drawn[0, 10, 20] == pytest.approx(1.0) and drawn[0, 0, 0] == 0 and drawn[0, 20, 10] == 0
    assert np.count_nonzero(drawn) < 30  # a brush dab, not the whole canvas
    qtbot.mousePress(paint, Qt.MouseButton.LeftButton, pos=pixel_pos(paint, 5, 5))
    two = paint.image.copy()
    assert two[0, 5, 5] == pytest.approx(1.0)
    paint.setFocus()
    qtbot.keyClick(paint, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(paint.image, drawn)
    controls.undo_button.click()
    np.testing.assert_array_equal(paint.image, before)
    qtbot.keyClick(paint, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    np.testing.assert_array_equal(paint.image, drawn)
    controls.redo_button.click()
    np.testing.assert_array_equal(paint.image, two)
    controls.clear_button.click()  # clearing is a step too
    assert paint.image.max() == 0
    canvas.undo()
    np.testing.assert_array_equal(paint.image, two)
    settle(qtbot, canvas)


def test_a_fast_stroke_leaves_no_gap_and_the_right_button_erases(qtbot, canvas):
    paint = canvas.paint
    qtbot.mousePress(paint, Qt.MouseButton.LeftButton, pos=pixel_pos(paint, 14, 3))
    qtbot.mouseMove(paint, pixel_pos(paint, 14, 24))  # one event across 21 pixels
    qtbot.mouseRelease(paint, Qt.MouseButton.LeftButton, pos=pixel_pos(paint, 14, 24))
    assert np.all(paint.image[0, 14, 3:25] > 0.9), paint.image[0, 14]
    assert paint.image[0, 5].max() == 0
    qtbot.mousePress(paint, Qt.MouseButton.RightButton, pos=pixel_pos(paint, 14, 10))
    qtbot.mouseRelease(paint, Qt.MouseButton.RightButton, pos=pixel_pos(paint, 14, 10))
    assert paint.image[0, 14, 10] == 0 and paint.image[0, 14, 20] > 0.9
    settle(qtbot, canvas)


def test_tablet_pressure_scales_the_ink(qtbot, canvas):
    paint = canvas.paint
    device = QPointingDevice.primaryPointingDevice()
    pos = QPointF(pixel_pos(paint, 12, 12))
    for kind, buttons in ((QEvent.Type.TabletPress, Qt.MouseButton.LeftButton),
                          (QEvent.Type.TabletRelease, Qt.MouseButton.NoButton)):
        event = QTabletEvent(kind, device, pos, paint.mapToGlobal(pos), 0.4, 0.0, 0.0, 0.0, 0.0, 0.0,
                             Qt.KeyboardModifier.NoModifier, Qt.MouseButton.LeftButton, buttons)
        paint.tabletEvent(event)
        assert event.isAccepted()  # so Qt makes no mouse stroke of it too
    assert paint.image[0, 12, 12] == pytest.approx(0.4, abs=1e-6)
    assert canvas.history.can_undo  # a pen stroke is one undoable step, as a mouse stroke is
    settle(qtbot, canvas)


def test_new_noise_changes_the_noisy_panel_but_never_the_clean_layer(qtbot, canvas, mnist600):
    controls, editor = canvas.controls, canvas.editor
    digit = mnist600.as_float(np.array([3]))[0]
    canvas.editor.set_values(digit)
    settle(qtbot, canvas)
    first = editor.noisy_view.image.image.copy()
    np.testing.assert_allclose(first, apply_noise(digit, noise_layer(digit.shape, "gaussian", 0.3, 0))[0])
    controls.new_noise.click()
    settle(qtbot, canvas)
    assert not np.allclose(editor.noisy_view.image.image, first)
    np.testing.assert_array_equal(canvas.paint.image, digit)
    # Kind, level and block apply live; the clean layer stays as drawn.
    controls.noise_kind.setCurrentText("masking")
    controls.block.setValue(4)
    controls.noise_level.setValue(0.5)
    settle(qtbot, canvas)
    expected = apply_noise(digit, noise_layer(digit.shape, "masking", 0.5, canvas.noise_seed, 4))
    np.testing.assert_array_equal(editor.noisy_view.image.image, expected[0])
    np.testing.assert_array_equal(canvas.paint.image, digit)


def test_the_noise_brush_puts_noise_only_where_it_stroked_and_undo_takes_it_back(qtbot, canvas, mnist600):
    paint, controls = canvas.paint, canvas.controls
    digit = mnist600.as_float(np.array([5]))[0]
    canvas.editor.set_values(digit)
    controls.noise_kind.setCurrentText("salt_pepper")
    controls.noise_level.setValue(1.0)  # every stroked pixel flips
    controls.noise_brush.setChecked(True)
    qtbot.mousePress(paint, Qt.MouseButton.LeftButton, pos=pixel_pos(paint, 3, 3))
    qtbot.mouseMove(paint, pixel_pos(paint, 3, 24))
    qtbot.mouseRelease(paint, Qt.MouseButton.LeftButton, pos=pixel_pos(paint, 3, 24))
    settle(qtbot, canvas)
    np.testing.assert_array_equal(paint.image, digit)  # the brush left no ink
    stroked = paint.mask > 0
    assert stroked[3, 3:25].all() and not stroked[20:].any()
    noisy = canvas.noisy
    np.testing.assert_array_equal(noisy[0][~stroked], digit[0][~stroked])
    full = paint.mask[None] == 1
    assert np.isin(noisy[full], (0.0, 1.0)).all() and (noisy[full] == 1.0).any()
    canvas.undo()
    settle(qtbot, canvas)
    assert paint.mask.max() == 0
    assert not np.array_equal(canvas.noisy, digit)  # an empty mask means noise everywhere again
    controls.noise_brush.setChecked(False)


def test_the_four_panels_are_equal_centred_squares_in_one_row(qtbot, canvas):
    row = canvas.editor.row
    panels = row.panels
    assert len(panels) == 4 and all(p.parentWidget() is row for p in panels)
    sizes = {(p.width(), p.height()) for p in panels}
    assert len(sizes) == 1 and panels[0].width() == panels[0].height() >= 160
    assert len({p.geometry().top() for p in panels}) == 1
    lefts = [p.geometry().left() for p in panels]
    assert lefts == sorted(lefts)
    assert abs(lefts[0] - (row.width() - panels[-1].geometry().right() - 1)) <= 1  # centred
    rect = canvas.paint.picture_rect()  # the drawing fills its square, as the views do
    assert (rect.left(), rect.top(), rect.width()) == (0, 0, panels[0].width())


def test_a_denoising_model_raises_the_psnr_of_a_noisy_validation_digit(qtbot, canvas, denoising_run, mnist600):
    with_model(qtbot, canvas, denoising_run)
    # Three epochs on 600 digits recover heavy noise on every digit tried (σ 0.5: +0.7 to +7.5 dB
    # over 20 validation digits); at the preset's σ 0.3 some digits still lose up to 2.6 dB.
    canvas.controls.noise_level.setValue(0.5)
    canvas.load_random_sample()
    settle(qtbot, canvas)
    clean = canvas.paint.image
    rows = denoising_run.validation_rows(mnist600)
    assert any(np.array_equal(clean, mnist600.as_float(np.array([i]))[0]) for i in rows)
    noisy, restored = canvas.noisy, canvas.restored
    gain = psnr(clean, restored) - psnr(clean, noisy)
    assert gain > 0, gain
    # The readout's numbers are canvas_ops's on the same arrays.
    text = canvas.readout.text()
    for value in (psnr(clean, noisy), psnr(clean, restored)):
        assert f"{value:.1f} dB" in text, text
    for value in (ssim(clean, noisy), ssim(clean, restored)):
        assert f"SSIM {value:.3f}" in text, text
    assert f"({gain:+.1f} dB)" in text
    editor = canvas.editor
    np.testing.assert_allclose(editor.error_view.image.image, np.abs(restored - clean)[0], atol=1e-6)
    np.testing.assert_allclose(editor.output.image.image, restored[0])


def test_reconstructions_are_at_least_a_frame_apart_and_the_last_sees_the_whole_stroke(qtbot, canvas, denoising_run,
                                                                                      monkeypatch):
    from aegui.gui.panels.canvas import FRAME_MS

    with_model(qtbot, canvas, denoising_run)
    settle(qtbot, canvas)
    qtbot.wait(20)
    times = []
    real = canvas.model.reconstruct
    monkeypatch.setattr(canvas.model, "reconstruct", lambda x: times.append(time.perf_counter()) or real(x))
    paint = canvas.paint
    qtbot.mousePress(paint, Qt.MouseButton.LeftButton, pos=pixel_pos(paint, 4, 4))
    for col in range(5, 25):  # 20 moves delivered before the event loop runs again, as in a busy frame
        pos = QPointF(pixel_pos(paint, 4, col))
        QApplication.sendEvent(paint, QMouseEvent(QEvent.Type.MouseMove, pos, paint.mapToGlobal(pos),
                                                  Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton,
                                                  Qt.KeyboardModifier.NoModifier))
    settle(qtbot, canvas)
    assert len(times) >= 1
    gaps_ms = np.diff(times) * 1e3
    assert np.all(gaps_ms >= FRAME_MS * 0.95), gaps_ms  # the first at once, the rest at most one a frame
    np.testing.assert_array_equal(canvas.fed, paint.image)  # the last reconstruction saw the whole stroke
    assert paint.image[0, 4, 24] > 0.9


def test_the_mnist_toggle_feeds_a_centred_drawing(qtbot, canvas, denoising_run):
    with_model(qtbot, canvas, denoising_run)
    drawing = np.zeros((1, 28, 28), np.float32)
    drawing[0, 2:8, 2:6] = 1.0  # a blob in the top-left corner
    canvas.editor.set_values(drawing)
    settle(qtbot, canvas)
    np.testing.assert_array_equal(canvas.fed, drawing)
    canvas.controls.mnist_check.setChecked(True)
    settle(qtbot, canvas)
    np.testing.assert_array_equal(canvas.fed, mnist_preprocess(drawing[0])[None])
    _, rows, cols = np.nonzero(canvas.fed)
    centre = np.average(np.stack([rows, cols]), axis=1, weights=canvas.fed[0, rows, cols])
    assert np.all(np.abs(centre - 14) <= 1.0), centre
    assert "MNIST-style" in canvas.editor.row.captions[0].text()
    np.testing.assert_array_equal(canvas.paint.image, drawing)  # the drawing itself is not moved
    sent = []
    canvas.sentToExplorer.connect(sent.append)
    canvas.controls.send_button.click()
    np.testing.assert_array_equal(sent[0], canvas.fed)  # the explorer gets the input as fed


def test_a_drawing_saves_and_loads_as_npy_and_a_wrong_shape_is_refused_in_place(qtbot, canvas, tmp_path):
    drawing = np.random.default_rng(0).random((1, 28, 28)).astype(np.float32)
    canvas.editor.set_values(drawing)
    path = tmp_path / "drawing.npy"
    assert canvas.save_drawing(str(path))
    assert [p.name for p in tmp_path.iterdir()] == ["drawing.npy"]
    canvas.clear()
    assert canvas.load_drawing(str(path))
    np.testing.assert_array_equal(canvas.paint.image, drawing)
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((32, 32), np.float32))
    assert not canvas.load_drawing(str(wrong))
    assert "shape [32, 32]" in canvas.note.text() and "[1, 28, 28]" in canvas.note.text()
    np.save(wrong, np.zeros((1, 28, 28), np.int64))
    assert not canvas.load_drawing(str(wrong))
    assert "int64" in canvas.note.text()
    wrong.write_bytes(b"not an array")
    assert not canvas.load_drawing(str(wrong)) and "Could not read" in canvas.note.text()
    np.testing.assert_array_equal(canvas.paint.image, drawing)
    png = tmp_path / "panels.png"
    settle(qtbot, canvas)
    assert canvas.save_png(str(png)) and png.stat().st_size > 0


def test_a_colour_image_model_gets_a_colour_brush(qtbot, mnist600):
    from aegui.gui.panels.canvas import DrawCanvas

    pixels = np.random.default_rng(0).integers(0, 255, (40, 3, 16, 16)).astype(np.uint8)
    colour = Dataset(name="colour", x=pixels, kind="image")
    spec = fit_to_input(get_preset("ae"), colour.kind, colour.sample_shape, colour.in_unit_range)
    panel = DrawCanvas(AppState(spec, colour))
    qtbot.addWidget(panel)
    panel.resize(1200, 620)
    panel.show()
    qtbot.waitExposed(panel)
    assert panel.controls.colour_button.isVisible() and panel.paint.image.shape == (3, 16, 16)
    panel.paint.colour = np.array([1.0, 0.5, 0.0], np.float32)
    qtbot.mousePress(panel.paint, Qt.MouseButton.LeftButton, pos=pixel_pos(panel.paint, 8, 8))
    qtbot.mouseRelease(panel.paint, Qt.MouseButton.LeftButton, pos=pixel_pos(panel.paint, 8, 8))
    np.testing.assert_allclose(panel.paint.image[:, 8, 8], [1.0, 0.5, 0.0], atol=1e-6)
    assert panel.paint.image[:, 0, 0].max() == 0
    settle(qtbot, panel)
    assert panel.noisy.shape == (3, 16, 16)
    assert "SSIM" in panel.readout.text()  # 16×16 holds the 11×11 window
    panel.state.set_dataset(mnist600)  # grey data again: the colour button goes
    assert not panel.controls.colour_button.isVisible() and panel.paint.image.shape == (1, 28, 28)
    settle(qtbot, panel)
    assert panel.shutdown()
