"""The Draw tab: a clean layer the user draws on, a seeded noise layer over it, and four aligned
panels (clean, noisy, reconstruction, error) with PSNR/SSIM readouts, undo/redo and files."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from aegui.core.canvas_ops import apply_noise, mnist_preprocess, noise_layer, psnr, ssim
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
    panel.resize(1200, 520)
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


def pixel_pos(paint, row: int, col: int) -> QPoint:
    rect = paint.picture_rect()
    side = rect.width() / paint.image.shape[1]
    return QPoint(int(rect.left() + (col + 0.5) * side), int(rect.top() + (row + 0.5) * side))


def test_a_stroke_changes_the_clean_layer_where_drawn_and_undo_restores_it_exactly(qtbot, canvas):
    paint = canvas.paint
    before = paint.image.copy()
    qtbot.mousePress(paint, Qt.MouseButton.LeftButton, pos=pixel_pos(paint, 10, 20))
    qtbot.mouseRelease(paint, Qt.MouseButton.LeftButton, pos=pixel_pos(paint, 10, 20))
    drawn = paint.image.copy()
    assert drawn[10, 20] == pytest.approx(1.0) and drawn[0, 0] == 0 and drawn[20, 10] == 0
    assert np.count_nonzero(drawn) < 30  # a brush dab, not the whole canvas
    qtbot.mousePress(paint, Qt.MouseButton.LeftButton, pos=pixel_pos(paint, 5, 5))
    two = paint.image.copy()
    assert two[5, 5] == pytest.approx(1.0)
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(paint.image, drawn)
    canvas.undo_button.click()
    np.testing.assert_array_equal(paint.image, before)
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    np.testing.assert_array_equal(paint.image, drawn)
    canvas.redo_button.click()
    np.testing.assert_array_equal(paint.image, two)
    canvas.clear_button.click()  # clearing is a step too
    assert paint.image.max() == 0
    canvas.undo()
    np.testing.assert_array_equal(paint.image, two)
    settle(qtbot, canvas)


def test_new_noise_changes_the_noisy_panel_but_never_the_clean_layer(qtbot, canvas, mnist600):
    digit = mnist600.as_float(np.array([3]))[0, 0]
    canvas.paint.set_image(digit)
    settle(qtbot, canvas)
    first = canvas.noisy_view.image.image.copy()
    np.testing.assert_allclose(first, apply_noise(digit, noise_layer(digit.shape, "gaussian", 0.3, 0)))
    canvas.noise_button.click()
    settle(qtbot, canvas)
    assert not np.allclose(canvas.noisy_view.image.image, first)
    np.testing.assert_array_equal(canvas.paint.image, digit)
    # Kind, level and block apply live; the clean layer stays as drawn.
    canvas.noise_kind.setCurrentText("masking")
    canvas.block.setValue(4)
    canvas.noise_level.setValue(0.5)
    settle(qtbot, canvas)
    expected = apply_noise(digit, noise_layer(digit.shape, "masking", 0.5, canvas.noise_seed, 4))
    np.testing.assert_array_equal(canvas.noisy_view.image.image, expected)
    np.testing.assert_array_equal(canvas.paint.image, digit)


def test_the_four_panels_are_equal_centred_squares_in_one_row(qtbot, canvas):
    panels = canvas.row.panels
    sizes = {(p.width(), p.height()) for p in panels}
    assert len(sizes) == 1 and panels[0].width() == panels[0].height() >= 160
    tops = {p.geometry().top() for p in panels}
    assert len(tops) == 1
    lefts = [p.geometry().left() for p in panels]
    assert lefts == sorted(lefts)
    row = canvas.row
    assert abs(lefts[0] - (row.width() - panels[-1].geometry().right() - 1)) <= 1  # centred
    rect = canvas.paint.picture_rect()  # the drawing fills its square, as the views do
    assert (rect.left(), rect.top(), rect.width()) == (0, 0, panels[0].width())


def test_a_denoising_model_raises_the_psnr_of_a_noisy_validation_digit(qtbot, canvas, denoising_run, mnist600):
    with_model(qtbot, canvas, denoising_run)
    # Three epochs on 600 digits recover heavy noise on every digit tried (σ 0.5: +0.7 to +7.5 dB
    # over 20 validation digits); at the preset's σ 0.3 some digits still lose up to 2.6 dB.
    canvas.noise_level.setValue(0.5)
    canvas.load_random_sample()
    settle(qtbot, canvas)
    clean = canvas.paint.image
    assert any(np.array_equal(clean, mnist600.as_float(np.array([i]))[0, 0]) for i in denoising_run.val_index)
    noisy, restored = canvas.noisy, canvas.restored
    gain = psnr(clean, restored) - psnr(clean, noisy)
    assert gain > 0, gain
    # The readout's numbers are canvas_ops's on the same arrays.
    text = canvas.readout.text()
    for value in (psnr(clean, noisy), psnr(clean, restored)):
        assert f"{value:.1f} dB" in text, text
    for value in (ssim(clean, noisy), ssim(clean, restored)):
        assert f"{value:.2f} SSIM" in text, text
    assert f"({gain:+.1f} dB)" in text
    np.testing.assert_allclose(canvas.error_view.image.image, np.abs(restored - clean), atol=1e-6)
    assert canvas.output.image.image is not None


def test_the_mnist_toggle_feeds_a_centred_drawing(qtbot, canvas, denoising_run):
    with_model(qtbot, canvas, denoising_run)
    drawing = np.zeros((28, 28), np.float32)
    drawing[2:8, 2:6] = 1.0  # a blob in the top-left corner
    canvas.paint.set_image(drawing)
    settle(qtbot, canvas)
    np.testing.assert_array_equal(canvas.fed, drawing)
    canvas.mnist_check.setChecked(True)
    settle(qtbot, canvas)
    np.testing.assert_array_equal(canvas.fed, mnist_preprocess(drawing))
    rows, cols = np.nonzero(canvas.fed)
    centre = np.average(np.stack([rows, cols]), axis=1, weights=canvas.fed[rows, cols])
    assert np.all(np.abs(centre - 14) <= 1.0), centre
    assert "MNIST-style" in canvas.row.captions[0].text()
    np.testing.assert_array_equal(canvas.paint.image, drawing)  # the drawing itself is not moved


def test_a_drawing_saves_and_loads_as_npy_and_a_wrong_shape_is_refused_in_place(qtbot, canvas, tmp_path):
    drawing = np.random.default_rng(0).random((28, 28)).astype(np.float32)
    canvas.paint.set_image(drawing)
    path = tmp_path / "drawing.npy"
    assert canvas.save_drawing(str(path))
    assert [p.name for p in tmp_path.iterdir()] == ["drawing.npy"]
    canvas.clear()
    assert canvas.load_drawing(str(path))
    np.testing.assert_array_equal(canvas.paint.image, drawing)
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((32, 32), np.float32))
    assert not canvas.load_drawing(str(wrong))
    assert "shape (32, 32)" in canvas.note.text() and "28×28" in canvas.note.text()
    np.save(wrong, np.zeros((28, 28), np.int64))
    assert not canvas.load_drawing(str(wrong))
    assert "int64" in canvas.note.text()
    np.testing.assert_array_equal(canvas.paint.image, drawing)
    png = tmp_path / "panels.png"
    settle(qtbot, canvas)
    assert canvas.save_png(str(png)) and png.stat().st_size > 0
