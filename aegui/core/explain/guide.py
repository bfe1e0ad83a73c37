"""What a healthy run looks like on each dashboard panel, and the Guide's tour of the window."""
from __future__ import annotations

# One line per dashboard panel (keyed as TrainingDashboard names them, plus its Runs and Anomalies tabs):
# what the panel shows when training goes well. Each panel shows its line as a grey caption, so a line is
# short enough (HEALTH_MAX_CHARS) to fit the dashboard's narrow right-hand column at a usual window width.
HEALTH_MAX_CHARS = 80
PANEL_HEALTH: dict[str, str] = {
    "loss": "both curves fall, then flatten; validation (pale) stays near training.",
    "recon": "outputs sharpen from a grey blur into the inputs.",
    "stats": "steady samples/s; a gradient norm that settles, not one that climbs.",
    "sparsity": "most units' mean near ρ (red line), or near 0 for L1; few dead.",
    "vae": "KL spread over several dimensions; a dimension at 0 is unused.",
    "weights": "filters grow from noise into strokes; the bias looks like an average input.",
    "attention": "attention on the strokes, not the border; capsules: a few long per sample.",
    "runs": "the better run ends lower; compare on the same data and metric.",
    "anomaly": "anomalies' errors (red) right of the normal ones (blue); ROC AUC near 1.",
}

# The Help > Guide dialog: one page per area of the window, in the order a first session meets them.
GUIDE_PAGES: list[tuple[str, str]] = [
    ("Data",
     "The Data panel (the tab beside Model, on the left) chooses what the model learns from. Four sets are "
     "built in: 5,000 real MNIST digits, generated shapes with known factors (shape, scale, rotation, "
     "position), synthetic time series with injected anomalies, and synthetic card transactions with rare "
     "fraud.\n\n"
     "Import your own: a .npy or .npz array, a CSV table, MNIST-format IDX files, or a folder of images with "
     "one subfolder per label. Drop a file or a folder on the Data panel to import it. A file that cannot be "
     "read is explained in place, and the data you had stays loaded.\n\n"
     "Limit keeps a smaller, class-balanced sample for quick runs. Train without leaves one class out of "
     "training, so the Anomalies view can test whether the model notices it."),
    ("Model builder",
     "The Model panel builds the autoencoder. Start from a preset (each is one idea of the tutorial) or from "
     "blank, then change anything: the family, the code size, the encoder's layers in the table, the decoder, "
     "the objective's variants (sparsity, noise, VAE, contractive, adversarial, stacked) and the training "
     "settings.\n\n"
     "Hover any control for a sentence on what it does; press its ? for the longer explanation, shown at the "
     "bottom of the panel with the tutorial section it comes from. Controls the model does not use are greyed "
     "out, and a problem is written under its field, in words, before you train.\n\n"
     "The Summary at the top keeps the diagram, the parameter count, the memory training needs and each "
     "layer's shape up to date. Every edit can be undone (Ctrl+Z)."),
    ("Training dashboard",
     "Press Train (Ctrl+Return) and the Training tab follows the run live: the loss terms, training in bold "
     "colours and validation pale; the reconstructions of a fixed batch, with a slider back through the run; "
     "speed, progress and the learning rate; and a column of panels for what the model has: sparsity, VAE "
     "health, weights and biases, attention or capsules. A panel that does not apply folds to one line saying "
     "why.\n\n"
     "Each panel's grey line says what a healthy run looks like there. The learning rate, β, the noise level "
     "and the sparsity weight can be changed while training runs; a mark on the loss plot shows when. Pause "
     "and Stop keep the weights trained so far, and a loss that becomes infinite stops the run with the last "
     "good weights."),
    ("Latent space",
     "The Latent space tab shows the codes the trained model gives: a map of up to 5,000 samples (PCA, two "
     "chosen dimensions, or UMAP and t-SNE when installed), coloured by class. Hover a point to see it and its "
     "reconstruction, click to pin it, and drag the handle to decode any point of the map.\n\n"
     "The tools below it walk the space: sliders per dimension (the most important first), traversals that "
     "vary one dimension, interpolation between two samples, class arithmetic, prior samples, and the "
     "manifold grid that tiles the map with decodings. A VAE's space is smooth and filled; a plain "
     "autoencoder's has holes, which is why its samples look like noise."),
    ("Draw",
     "The Draw tab lets you make an input and watch the model rebuild it as you draw: a digit with the mouse, "
     "a curve for a time series, or a bar per feature for a table. Lay noise over the drawing, or paint noise "
     "on with the noise brush, and a denoising model shows what it removes; PSNR and SSIM measure how close the "
     "reconstruction is to the clean drawing.\n\n"
     "Load sample starts from a validation sample; Send to explorer puts the drawing's code on the latent map. "
     "Undo and redo work stroke by stroke."),
    ("Runs",
     "Every run of the session is listed in the Training tab's Runs page, with its model, data and final "
     "numbers. Tick runs to overlay their curves on one metric: recon_mse compares any two models fairly, "
     "whatever their objective. Curves and tables export as CSV, plots as PNG or SVG.\n\n"
     "The Anomalies page scores samples by how badly the model rebuilds them: a histogram of errors, a "
     "threshold, the worst samples and the ROC AUC, best with a class left out in the Data panel."),
    ("Projects and export",
     "File > Save project (Ctrl+S) writes one .aeproj file: the model, the session's runs and curves, the "
     "trained weights and everything needed to continue training exactly, plus where the data came from. "
     "Opening it brings all of that back, and the explorer and canvas work at once. Closing never asks: "
     "unsaved work is kept and comes back at the next start.\n\n"
     "File > Export > Spec writes the model alone as JSON, to share or to train from the command line "
     "(python main.py train --spec FILE). The command line also exports a trained project as ONNX, "
     "TorchScript, plain PyTorch code with its weights, or PNG images. Panels export their pictures and "
     "numbers where they show an export button."),
    ("Experiments",
     "The Experiments tab holds one-click comparisons, each testing a claim of the tutorial on real data: "
     "biases, the learning rate and batch size, hidden layers, sparsity, denoising, the variational family, "
     "and the other variants against a plain autoencoder. An experiment trains each of its models one after "
     "another, then shows the figures measured in this run beside a short explanation of what to watch and "
     "what the result means, and says plainly when the run disagrees with the tutorial.\n\n"
     "Its runs land in the Runs page too, so their curves can be overlaid and their models explored. From the "
     "command line, python main.py experiments lists them and python main.py experiment NAME runs one."),
]
